"""The declarations table against the header and the built library: every
exported function bound, every prototype's types mirrored, no pointer
returned as an int, every enum value equal."""
import ctypes
import os
import re
import shutil
import subprocess
import unittest

from . import _util  # noqa: F401 (puts python/ on sys.path first)
from ._util import ROOT

import gradflow
from gradflow import _decls, _lib

HEADER = os.path.join(ROOT, "include", "gradflow.h")

_BASE = {
    "int": ctypes.c_int, "int32_t": ctypes.c_int32, "int64_t": ctypes.c_int64, "uint32_t": ctypes.c_uint32,
    "uint64_t": ctypes.c_uint64, "size_t": ctypes.c_size_t, "double": ctypes.c_double, "float": ctypes.c_float,
}
_CALLBACKS = {"gf_malloc_fn": _decls.gf_malloc_fn, "gf_realloc_fn": _decls.gf_realloc_fn,
              "gf_free_fn": _decls.gf_free_fn, "gf_epoch_fn": _decls.gf_epoch_fn,
              "gf_epoch_record_fn": _decls.gf_epoch_record_fn}
_STRUCTS = {name: ptr._type_ for name, ptr in list(_decls.HANDLE_TYPES.items()) + list(_decls.STRUCT_TYPES.items())}


def _header_text():
    with open(HEADER) as f:
        text = f.read()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def ctype_of(c_type):
    """The ctypes type the binding must use for a C type spelled as in the header."""
    const = "const" in c_type.split()
    t = c_type.replace("const", " ").strip()
    stars = t.count("*")
    base = t.replace("*", " ").strip()
    if stars == 0:
        if base == "void":
            return None
        return _BASE.get(base) or _CALLBACKS[base]
    if base == "char" and stars == 1:
        return ctypes.c_char_p if const else ctypes.POINTER(ctypes.c_char)
    if base == "void" and stars == 1:
        return ctypes.c_void_p
    target = _STRUCTS.get(base) or _BASE[base]
    for _ in range(stars):
        target = ctypes.POINTER(target)
    return target


def header_prototypes():
    """{name: (return C type, [argument C types])} of every GF_API function."""
    protos = {}
    for ret, name, args in re.findall(r"GF_API\s+([^;(]*?)\b(gf_\w+)\s*\(([^)]*)\)\s*;", _header_text()):
        args = " ".join(args.split())
        types = []
        if args != "void":
            for a in args.split(","):
                m = re.match(r"^(.*?)(\w+)$", a.strip())
                types.append(m.group(1).strip())
        protos[name] = (ret.strip(), types)
    return protos


def header_enums():
    return {name: {k: int(v) for k, v in re.findall(r"(GF_\w+)\s*=\s*(\d+)", body)}
            for name, body in re.findall(r"enum\s+(\w+)\s*\{([^}]*)\}", _header_text())}


def exported_functions(path):
    out = subprocess.run(["nm", "-D", "--defined-only", path], check=True, capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] in ("T", "W", "i"):
            name = parts[2].split("@")[0]
            if name.startswith("gf_"):
                names.add(name)
    return names


class DeclarationsTest(unittest.TestCase):
    @unittest.skipUnless(shutil.which("nm"), "nm not installed")
    def test_every_function_the_library_exports_has_a_declaration(self):
        exported = exported_functions(os.path.realpath(_lib.path))
        self.assertGreater(len(exported), 50)
        unbound = sorted(exported - _lib.declared)
        self.assertEqual(unbound, [], "exported by %s but missing from gradflow/_decls.py DECLARATIONS: %s"
                         % (_lib.path, ", ".join(unbound)))

    def test_every_header_function_is_declared(self):
        protos = header_prototypes()
        self.assertGreater(len(protos), 80)
        self.assertEqual(sorted(set(protos) - _lib.declared), [])

    def test_no_declaration_is_absent_from_the_header(self):
        self.assertEqual(sorted(_lib.declared - set(header_prototypes())), [])

    def test_each_function_is_declared_once(self):
        names = [n for n, _, _ in _decls.DECLARATIONS]
        self.assertEqual(len(names), len(set(names)))

    def test_declared_types_match_the_header_prototypes(self):
        protos = header_prototypes()
        for name, restype, argtypes in _decls.DECLARATIONS:
            with self.subTest(function=name):
                ret, args = protos[name]
                self.assertIs(restype, ctype_of(ret), "%s returns %s" % (name, ret))
                self.assertEqual(len(argtypes), len(args), "%s takes %d arguments" % (name, len(args)))
                for i, (got, c_type) in enumerate(zip(argtypes, args)):
                    self.assertIs(got, ctype_of(c_type), "%s argument %d is %s" % (name, i, c_type))

    def test_pointer_results_are_never_declared_as_plain_ints(self):
        protos = header_prototypes()
        pointer_results = [n for n, (ret, _) in protos.items() if "*" in ret]
        self.assertIn("gf_net_layer", pointer_results)
        self.assertIn("gf_net_optimizer", pointer_results)
        for name, restype, _ in _decls.DECLARATIONS:
            if name in pointer_results:
                with self.subTest(function=name):
                    self.assertTrue(restype in (ctypes.c_void_p, ctypes.c_char_p)
                                    or issubclass(restype, ctypes._Pointer), restype)

    def test_public_structs_have_the_header_fields_in_order(self):
        text = _header_text()
        for name, ptr in _decls.STRUCT_TYPES.items():
            with self.subTest(struct=name):
                body = re.search(r"struct\s+%s\s*\{([^}]*)\}" % name, text).group(1)
                fields = [tuple(d.split()) for d in (s.strip() for s in body.split(";")) if d]
                self.assertEqual([(f, ctype_of(t)) for t, f in fields],
                                 [(f, t) for f, t in ptr._type_._fields_])

    def test_bound_functions_carry_the_table_types(self):
        f = _lib.cdll.gf_net_layer
        self.assertIs(f.restype, _decls.LayerP)
        self.assertEqual(list(f.argtypes), [_decls.NetP, ctypes.c_int32])

    def test_the_library_exports_every_declared_function(self):
        self.assertEqual(sorted(_lib.missing), [])

    def test_a_missing_function_raises_unsupported_error_naming_it(self):
        stub = _lib._Missing("gf_not_there")
        with self.assertRaises(gradflow.UnsupportedError) as cm:
            stub()
        self.assertIn("gf_not_there", str(cm.exception))


# header enum -> (Python enum, prefix stripped from the C names)
ENUM_MAP = {
    "gf_status": (gradflow.Status, "GF_"),
    "gf_activation_kind": (gradflow.ActivationKind, "GF_ACT_"),
    "gf_activation_param": (gradflow.ActivationParam, "GF_ACT_PARAM_"),
    "gf_init_kind": (gradflow.InitKind, "GF_INIT_"),
    "gf_init_mode": (gradflow.FanMode, "GF_"),
    "gf_loss_kind": (gradflow.LossKind, "GF_LOSS_"),
    "gf_loss_param": (gradflow.LossParam, "GF_LOSS_PARAM_"),
    "gf_optimizer_kind": (gradflow.OptimizerKind, "GF_OPT_"),
    "gf_optimizer_param": (gradflow.OptimizerParam, "GF_OPT_"),
    "gf_layer_kind": (gradflow.LayerKind, "GF_LAYER_"),
    "gf_shape_kind": (gradflow.ShapeKind, "GF_SHAPE_"),
    "gf_layer_option": (gradflow.LayerOption, "GF_LAYER_"),
    "gf_series": (gradflow.Series, "GF_SERIES_"),
    "gf_clip_mode": (gradflow.ClipMode, "GF_CLIP_"),
    "gf_save_flag": (gradflow.SaveFlag, "GF_SAVE_"),
    "gf_model_field": (gradflow.ModelField, "GF_MODEL_"),
    "gf_stat": (gradflow.Stat, "GF_STAT_"),
    "gf_tensor": (gradflow.Tensor, "GF_TENSOR_"),
    "gf_phase": (gradflow.Phase, "GF_PHASE_"),
    "gf_verdict": (gradflow.VerdictKind, "GF_VERDICT_"),
    "gf_diag_option": (gradflow.DiagOption, "GF_DIAG_"),
    "gf_diag_threshold": (gradflow.DiagThreshold, "GF_TH_"),
    "gf_remedy": (gradflow.Remedy, "GF_REMEDY_"),
    "gf_report_format": (gradflow.ReportFormat, "GF_REPORT_"),
    "gf_metric_kind": (gradflow.MetricKind, "GF_METRIC_"),
    "gf_schedule_kind": (gradflow.ScheduleKind, "GF_SCHED_"),
    "gf_schedule_param": (gradflow.ScheduleParam, "GF_SCHED_"),
    "gf_monitor": (gradflow.Monitor, "GF_MONITOR_"),
    "gf_fit_option": (gradflow.FitOption, "GF_FIT_"),
}


class EnumsTest(unittest.TestCase):
    def test_python_enums_equal_the_header_enums(self):
        enums = header_enums()
        for cname, (cls, prefix) in ENUM_MAP.items():
            with self.subTest(enum=cname):
                want = {k[len(prefix):]: v for k, v in enums[cname].items()}
                self.assertEqual({m.name: int(m) for m in cls}, want)

    def test_every_header_enum_is_mirrored(self):
        self.assertEqual(sorted(set(header_enums()) - set(ENUM_MAP)), [])

    def test_library_names_of_diagnostics_enums_are_the_python_member_names(self):
        for cls, fn in ((gradflow.Stat, _lib.lib.gf_stat_name), (gradflow.Tensor, _lib.lib.gf_tensor_name),
                        (gradflow.Phase, _lib.lib.gf_phase_name), (gradflow.VerdictKind, _lib.lib.gf_verdict_name)):
            for m in cls:
                with self.subTest(member=m):
                    self.assertEqual(fn(int(m)).decode(), m.name.lower())

    def test_header_version_is_the_binding_version(self):
        text = _header_text()
        ver = tuple(int(re.search(r"#define GF_VERSION_%s (\d+)" % p, text).group(1))
                    for p in ("MAJOR", "MINOR", "PATCH"))
        self.assertEqual(ver, gradflow.BINDING_VERSION)


if __name__ == "__main__":
    unittest.main()
