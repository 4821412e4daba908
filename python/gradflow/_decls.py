"""_decls.py — the C prototypes of include/gradflow.h as one ctypes table.

Every exported gf_* function has exactly one row here: (name, restype,
argtypes).  Handle types are distinct POINTER types so ctypes itself refuses a
layer where a net is expected, and no pointer is ever returned as a bare int.
Adding a group of functions (gf_diag_* later) means appending rows (and, for
a new handle kind, one opaque struct below); nothing else in the loader moves.
"""
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char, c_char_p, c_double, c_float, c_int, c_int32,
                    c_int64, c_size_t, c_uint32, c_uint64, c_void_p)


class _Opaque(Structure):
    """Base of the opaque handle structs: never dereferenced from Python."""
    _fields_ = []


class gf_net(_Opaque):
    pass


class gf_layer(_Opaque):
    pass


class gf_activation(_Opaque):
    pass


class gf_init(_Opaque):
    pass


class gf_loss(_Opaque):
    pass


class gf_optimizer(_Opaque):
    pass


class gf_penalty(_Opaque):
    pass


class gf_diag(_Opaque):
    pass


class gf_schedule(_Opaque):
    pass


class gf_fit(_Opaque):
    pass


class gf_epoch_record(Structure):
    """struct gf_epoch_record: size-prefixed, fields only ever appended."""
    _fields_ = [
        ("size", c_size_t),
        ("epoch", c_int32),
        ("epochs", c_int32),
        ("loss", c_double),
        ("metric", c_double),
        ("val_loss", c_double),
        ("val_metric", c_double),
        ("lr", c_double),
        ("seconds", c_double),
        ("steps", c_int64),
        ("verdict", c_int32),
        ("best_epoch", c_int32),
    ]


NetP = POINTER(gf_net)
LayerP = POINTER(gf_layer)
ActP = POINTER(gf_activation)
InitP = POINTER(gf_init)
LossP = POINTER(gf_loss)
OptP = POINTER(gf_optimizer)
PenP = POINTER(gf_penalty)
DiagP = POINTER(gf_diag)
SchedP = POINTER(gf_schedule)
FitP = POINTER(gf_fit)
RecordP = POINTER(gf_epoch_record)

F32P = POINTER(c_float)
F64P = POINTER(c_double)
I32P = POINTER(c_int32)
I64P = POINTER(c_int64)
U32P = POINTER(c_uint32)
SizeP = POINTER(c_size_t)
CharBuf = POINTER(c_char)  # a writable char buffer (gf_net_describe)

# Callback types (typedefs of the header).
gf_malloc_fn = CFUNCTYPE(c_void_p, c_void_p, c_size_t)
gf_realloc_fn = CFUNCTYPE(c_void_p, c_void_p, c_void_p, c_size_t)
gf_free_fn = CFUNCTYPE(None, c_void_p, c_void_p)
gf_epoch_fn = CFUNCTYPE(c_int, c_void_p, c_int32, c_double)
gf_epoch_record_fn = CFUNCTYPE(c_int, c_void_p, RecordP)

# Handle struct name in the header -> ctypes pointer type (used by the
# header-conformance test, and by anyone appending rows).
HANDLE_TYPES = {
    "gf_net": NetP,
    "gf_layer": LayerP,
    "gf_activation": ActP,
    "gf_init": InitP,
    "gf_loss": LossP,
    "gf_optimizer": OptP,
    "gf_penalty": PenP,
    "gf_diag": DiagP,
    "gf_schedule": SchedP,
    "gf_fit": FitP,
}

# Public structs passed by pointer (size-prefixed, fields only appended).
STRUCT_TYPES = {
    "gf_epoch_record": RecordP,
}

# fmt: off
DECLARATIONS = [
    # ---- version and status
    ("gf_version",                  c_int32,  ()),
    ("gf_version_string",           c_char_p, ()),
    ("gf_strerror",                 c_char_p, (c_int,)),
    ("gf_last_error",               c_char_p, ()),
    ("gf_clear_error",              None,     ()),
    # ---- memory
    ("gf_set_allocator",            c_int,    (gf_malloc_fn, gf_realloc_fn, gf_free_fn, c_void_p)),
    ("gf_live_allocations",         c_int64,  ()),
    # ---- activations
    ("gf_activation_create",        c_int,    (POINTER(ActP), c_int32)),
    ("gf_activation_destroy",       None,     (ActP,)),
    ("gf_activation_set",           c_int,    (ActP, c_int32, c_double)),
    ("gf_activation_get",           c_int,    (ActP, c_int32, F64P)),
    ("gf_activation_kind",          c_int32,  (ActP,)),
    ("gf_activation_apply",         c_int,    (ActP, F32P, F32P, c_size_t)),
    ("gf_activation_derivative",    c_int,    (ActP, F32P, F32P, c_size_t)),
    ("gf_activation_name",          c_char_p, (c_int32,)),
    # ---- initializers
    ("gf_init_create",              c_int,    (POINTER(InitP), c_int32)),
    ("gf_init_destroy",             None,     (InitP,)),
    ("gf_init_set_range",           c_int,    (InitP, c_double, c_double)),
    ("gf_init_set_gain",            c_int,    (InitP, c_double)),
    ("gf_init_set_mode",            c_int,    (InitP, c_int32)),
    ("gf_init_gain",                c_double, (c_int32, c_double)),
    ("gf_init_fill",                c_int,    (InitP, F32P, c_size_t, c_int64, c_int64, c_uint64)),
    # ---- losses
    ("gf_loss_create",              c_int,    (POINTER(LossP), c_int32)),
    ("gf_loss_destroy",             None,     (LossP,)),
    ("gf_loss_set",                 c_int,    (LossP, c_int32, c_double)),
    ("gf_loss_get",                 c_int,    (LossP, c_int32, F64P)),
    ("gf_loss_kind",                c_int32,  (LossP,)),
    ("gf_loss_target_width",        c_int64,  (LossP, c_int64)),
    ("gf_loss_compute",             c_int,    (LossP, F32P, F32P, c_int64, c_int64, F64P, F32P)),
    # ---- penalties
    ("gf_penalty_create",           c_int,    (POINTER(PenP), c_double, c_double)),
    ("gf_penalty_destroy",          None,     (PenP,)),
    ("gf_penalty_set_include_bias", c_int,    (PenP, c_int32)),
    ("gf_penalty_get",              c_int,    (PenP, F64P, F64P, I32P)),
    # ---- optimizers
    ("gf_optimizer_create",         c_int,    (POINTER(OptP), c_int32, c_double)),
    ("gf_optimizer_destroy",        None,     (OptP,)),
    ("gf_optimizer_set",            c_int,    (OptP, c_int32, c_double)),
    ("gf_optimizer_get",            c_int,    (OptP, c_int32, F64P)),
    ("gf_optimizer_kind",           c_int32,  (OptP,)),
    ("gf_optimizer_reset",          c_int,    (OptP,)),
    ("gf_optimizer_steps",          c_int64,  (OptP,)),
    # ---- layers
    ("gf_layer_dense_create",       c_int,    (POINTER(LayerP), c_int64, c_int64)),
    ("gf_layer_destroy",            None,     (LayerP,)),
    ("gf_layer_set_activation",     c_int,    (LayerP, ActP)),
    ("gf_layer_set_weight_init",    c_int,    (LayerP, InitP)),
    ("gf_layer_set_bias_init",      c_int,    (LayerP, InitP)),
    ("gf_layer_set_penalty",        c_int,    (LayerP, PenP)),
    ("gf_layer_kind",               c_int32,  (LayerP,)),
    ("gf_layer_activation_kind",    c_int32,  (LayerP,)),
    ("gf_layer_input_size",         c_int64,  (LayerP,)),
    ("gf_layer_output_size",        c_int64,  (LayerP,)),
    ("gf_layer_weight_count",       c_int64,  (LayerP,)),
    ("gf_layer_bias_count",         c_int64,  (LayerP,)),
    ("gf_layer_get_weights",        c_int,    (LayerP, F32P, c_size_t)),
    ("gf_layer_set_weights",        c_int,    (LayerP, F32P, c_size_t)),
    ("gf_layer_get_bias",           c_int,    (LayerP, F32P, c_size_t)),
    ("gf_layer_set_bias",           c_int,    (LayerP, F32P, c_size_t)),
    ("gf_layer_get_weight_grad",    c_int,    (LayerP, F32P, c_size_t)),
    ("gf_layer_get_bias_grad",      c_int,    (LayerP, F32P, c_size_t)),
    ("gf_layer_create",             c_int,    (POINTER(LayerP), c_int32)),
    ("gf_layer_set_option",         c_int,    (LayerP, c_int32, c_double)),
    ("gf_layer_get_option",         c_int,    (LayerP, c_int32, F64P)),
    ("gf_layer_kind_name",          c_char_p, (c_int32,)),
    ("gf_layer_option_count",       c_int32,  (LayerP,)),
    ("gf_layer_option_key",         c_int32,  (LayerP, c_int32)),
    ("gf_layer_input_shape",        c_int,    (LayerP, I32P, I64P, c_int32, I32P)),
    ("gf_layer_output_shape",       c_int,    (LayerP, I32P, I64P, c_int32, I32P)),
    ("gf_layer_param_block_count",  c_int32,  (LayerP,)),
    ("gf_layer_param_block_find",   c_int,    (LayerP, c_char_p, I32P)),
    ("gf_layer_param_block_name",   c_char_p, (LayerP, c_int32)),
    ("gf_layer_param_block_dims",   c_int,    (LayerP, c_int32, I64P, c_int32, I32P)),
    ("gf_layer_param_block_size",   c_int64,  (LayerP, c_int32)),
    ("gf_layer_get_param",          c_int,    (LayerP, c_int32, F32P, c_size_t)),
    ("gf_layer_set_param",          c_int,    (LayerP, c_int32, F32P, c_size_t)),
    ("gf_layer_get_param_grad",     c_int,    (LayerP, c_int32, F32P, c_size_t)),
    # ---- networks
    ("gf_net_create",               c_int,    (POINTER(NetP), c_int64, c_uint64)),
    ("gf_net_create_shaped",        c_int,    (POINTER(NetP), c_int32, I64P, c_int32, c_uint64)),
    ("gf_net_input_shape",          c_int,    (NetP, I32P, I64P, c_int32, I32P)),
    ("gf_net_output_shape",         c_int,    (NetP, I32P, I64P, c_int32, I32P)),
    ("gf_net_destroy",              None,     (NetP,)),
    ("gf_net_last_error",           c_char_p, (NetP,)),
    ("gf_net_add",                  c_int,    (NetP, LayerP)),
    ("gf_net_add_dense",            c_int,    (NetP, c_int64, c_int32, POINTER(LayerP))),
    ("gf_net_add_flatten",          c_int,    (NetP, POINTER(LayerP))),
    ("gf_net_add_conv2d",           c_int,    (NetP, c_int64, c_int64, c_int64, c_int64, c_int32, POINTER(LayerP))),
    ("gf_net_add_conv1d",           c_int,    (NetP, c_int64, c_int64, c_int64, c_int64, c_int32, POINTER(LayerP))),
    ("gf_net_add_maxpool2d",        c_int,    (NetP, c_int64, c_int64, POINTER(LayerP))),
    ("gf_net_add_avgpool2d",        c_int,    (NetP, c_int64, c_int64, POINTER(LayerP))),
    ("gf_net_add_maxpool1d",        c_int,    (NetP, c_int64, c_int64, POINTER(LayerP))),
    ("gf_net_add_avgpool1d",        c_int,    (NetP, c_int64, c_int64, POINTER(LayerP))),
    ("gf_net_add_global_avgpool",   c_int,    (NetP, POINTER(LayerP))),
    ("gf_net_add_rnn",              c_int,    (NetP, c_int64, c_int32, c_int32, POINTER(LayerP))),
    ("gf_net_add_lstm",             c_int,    (NetP, c_int64, c_int32, POINTER(LayerP))),
    ("gf_net_add_gru",              c_int,    (NetP, c_int64, c_int32, POINTER(LayerP))),
    ("gf_layer_state_size",         c_int64,  (LayerP,)),
    ("gf_layer_state_batch",        c_int64,  (LayerP,)),
    ("gf_layer_set_initial_state",  c_int,    (LayerP, F32P, c_size_t, c_int64)),
    ("gf_layer_initial_state_grad", c_int,    (LayerP, F32P, c_size_t)),
    ("gf_layer_set_lengths",        c_int,    (LayerP, I64P, c_int64)),
    ("gf_layer_final_state",        c_int,    (LayerP, F32P, c_size_t)),
    ("gf_net_layer_count",          c_int32,  (NetP,)),
    ("gf_net_layer",                LayerP,   (NetP, c_int32)),
    ("gf_net_input_size",           c_int64,  (NetP,)),
    ("gf_net_output_size",          c_int64,  (NetP,)),
    ("gf_net_target_size",          c_int64,  (NetP,)),
    ("gf_net_param_count",          c_int64,  (NetP,)),
    ("gf_net_describe",             c_int,    (NetP, CharBuf, c_size_t, SizeP)),
    ("gf_net_reinit",               c_int,    (NetP, c_uint64)),
    ("gf_net_set_loss",             c_int,    (NetP, LossP)),
    ("gf_net_set_optimizer",        c_int,    (NetP, OptP)),
    ("gf_net_optimizer",            OptP,     (NetP,)),
    ("gf_net_set_penalty",          c_int,    (NetP, PenP)),
    ("gf_net_set_clip",             c_int,    (NetP, c_int32, c_double)),
    ("gf_net_clip_grad_value",      c_int,    (NetP, c_double)),
    ("gf_net_clip_grad_norm",       c_int,    (NetP, c_double, F64P)),
    ("gf_net_clip_grad_layer_norm", c_int,    (NetP, c_double)),
    ("gf_net_grad_norm",            c_int,    (NetP, F64P)),
    ("gf_net_predict",              c_int,    (NetP, F32P, c_size_t, c_int64, F32P, c_size_t)),
    ("gf_net_forward",              c_int,    (NetP, F32P, c_size_t, c_int64, F32P, c_size_t)),
    ("gf_net_backward",             c_int,    (NetP, F32P, c_size_t, F64P)),
    ("gf_net_backward_from",        c_int,    (NetP, F32P, c_size_t)),
    ("gf_net_input_grad",           c_int,    (NetP, F32P, c_size_t)),
    ("gf_net_set_input_grad",       c_int,    (NetP, c_int)),
    ("gf_net_input_grad_enabled",   c_int,    (NetP,)),
    ("gf_net_evaluate",             c_int,    (NetP, F32P, c_size_t, F32P, c_size_t, c_int64, F64P)),
    ("gf_net_step",                 c_int,    (NetP,)),
    ("gf_net_train_step",           c_int,    (NetP, F32P, c_size_t, F32P, c_size_t, c_int64, F64P)),
    ("gf_net_fit",                  c_int,    (NetP, F32P, c_size_t, F32P, c_size_t, c_int64, c_int64, c_int32,
                                               gf_epoch_fn, c_void_p, F64P)),
    ("gf_net_set_progress",         c_int,    (NetP, c_int32)),
    ("gf_net_steps",                c_int64,  (NetP,)),
    ("gf_net_set_threads",          c_int,    (NetP, c_int32)),
    ("gf_net_threads",              c_int32,  (NetP,)),
    # ---- metrics and batched evaluation
    ("gf_net_add_metric",           c_int,    (NetP, c_int32, c_double)),
    ("gf_net_clear_metrics",        c_int,    (NetP,)),
    ("gf_net_metric_count",         c_int32,  (NetP,)),
    ("gf_net_metric",               c_int,    (NetP, c_int32, I32P, F64P)),
    ("gf_metric_name",              c_char_p, (c_int32,)),
    ("gf_metric_higher_is_better",  c_int32,  (c_int32,)),
    ("gf_metric_compute",           c_int,    (LossP, c_int32, c_double, F32P, F32P, c_int64, c_int64, F64P)),
    ("gf_net_evaluate_v2",          c_int,    (NetP, F32P, c_size_t, F32P, c_size_t, c_int64, c_int64, F64P, F64P,
                                               c_size_t)),
    # ---- learning-rate schedules
    ("gf_schedule_create",          c_int,    (POINTER(SchedP), c_int32, c_double)),
    ("gf_schedule_destroy",         None,     (SchedP,)),
    ("gf_schedule_set",             c_int,    (SchedP, c_int32, c_double)),
    ("gf_schedule_get",             c_int,    (SchedP, c_int32, F64P)),
    ("gf_schedule_kind",            c_int32,  (SchedP,)),
    ("gf_schedule_lr",              c_int,    (SchedP, c_int64, F64P)),
    ("gf_schedule_observe",         c_int,    (SchedP, c_double, F64P)),
    ("gf_schedule_reset",           c_int,    (SchedP,)),
    # ---- fit with validation, early stopping and records
    ("gf_fit_create",               c_int,    (POINTER(FitP),)),
    ("gf_fit_destroy",              None,     (FitP,)),
    ("gf_fit_set",                  c_int,    (FitP, c_int32, c_double)),
    ("gf_fit_get",                  c_int,    (FitP, c_int32, F64P)),
    ("gf_fit_set_validation",       c_int,    (FitP, F32P, c_size_t, F32P, c_size_t, c_int64)),
    ("gf_fit_set_callback",         c_int,    (FitP, gf_epoch_record_fn, c_void_p)),
    ("gf_fit_set_schedule",         c_int,    (FitP, SchedP)),
    ("gf_net_fit_v2",               c_int,    (NetP, F32P, c_size_t, F32P, c_size_t, c_int64, FitP)),
    ("gf_net_epoch_count",          c_int32,  (NetP,)),
    ("gf_net_epoch_record",         c_int,    (NetP, c_int32, RecordP)),
    ("gf_net_epoch_metric",         c_int,    (NetP, c_int32, c_int32, c_int32, F64P)),
    ("gf_net_loss_kind",            c_int32,  (NetP,)),
    # ---- model files
    ("gf_net_save",                 c_int,    (NetP, c_char_p, c_uint32)),
    ("gf_net_save_buffer",          c_int,    (NetP, c_uint32, c_void_p, c_size_t, SizeP)),
    ("gf_net_load",                 c_int,    (POINTER(NetP), c_char_p)),
    ("gf_net_load_buffer",          c_int,    (POINTER(NetP), c_void_p, c_size_t)),
    ("gf_model_info",               c_int,    (c_void_p, c_size_t, c_int32, I64P)),
    # ---- diagnostics (declared in the header; the Python class comes with its implementation)
    ("gf_diag_create",              c_int,    (POINTER(DiagP), NetP)),
    ("gf_diag_destroy",             None,     (DiagP,)),
    ("gf_diag_enable",              c_int,    (DiagP, c_int32)),
    ("gf_diag_set_option",          c_int,    (DiagP, c_int32, c_double)),
    ("gf_diag_get_option",          c_int,    (DiagP, c_int32, F64P)),
    ("gf_diag_set_threshold",       c_int,    (DiagP, c_int32, c_double)),
    ("gf_diag_get_threshold",       c_int,    (DiagP, c_int32, F64P)),
    ("gf_diag_reset",               c_int,    (DiagP,)),
    ("gf_diag_layer_count",         c_int32,  (DiagP,)),
    ("gf_diag_steps",               c_int64,  (DiagP,)),
    ("gf_diag_history_length",      c_int32,  (DiagP,)),
    ("gf_diag_value",               c_int,    (DiagP, c_int32, c_int32, F64P)),
    ("gf_diag_history",             c_int,    (DiagP, c_int32, c_int32, c_int32, F64P, I64P)),
    ("gf_diag_nonfinite",           c_int,    (DiagP, c_int32, c_int32, I64P, I64P, I64P)),
    ("gf_diag_origin",              c_int,    (DiagP, I32P, I64P, I32P, I32P, I32P)),
    ("gf_diag_verdict",             c_int,    (DiagP, c_int32, I32P)),
    ("gf_diag_verdict_flags",       c_int,    (DiagP, c_int32, U32P)),
    ("gf_diag_verdict_reason",      c_int,    (DiagP, c_int32, CharBuf, c_size_t, SizeP)),
    ("gf_diag_verdict_remedy",      c_int,    (DiagP, c_int32, CharBuf, c_size_t, SizeP)),
    ("gf_diag_remedy_value",        c_int,    (DiagP, c_int32, I32P, F64P)),
    ("gf_diag_probe",               c_int,    (DiagP, c_int64, c_uint64)),
    ("gf_diag_series_length",       c_int,    (DiagP, c_int32, c_int32, I64P)),
    ("gf_diag_series",              c_int,    (DiagP, c_int32, c_int32, F64P, c_size_t, I64P)),
    ("gf_diag_report",              c_int,    (DiagP, c_int32, CharBuf, c_size_t, SizeP)),
    ("gf_diag_report_file",         c_int,    (DiagP, c_int32, c_char_p)),
    ("gf_stat_name",                c_char_p, (c_int32,)),
    ("gf_tensor_name",              c_char_p, (c_int32,)),
    ("gf_phase_name",               c_char_p, (c_int32,)),
    ("gf_verdict_name",             c_char_p, (c_int32,)),
]
# fmt: on
