/*
 * kinds.h — the registry of layer kinds: one line per kind, GFI_KIND(enum value, ops table).
 * Included twice by internal.h and layer.c with different GFI_KIND definitions (declaration,
 * table entry), so adding a kind is its file plus one line here.
 */
GFI_KIND(GF_LAYER_DENSE, gfi_dense_ops)
GFI_KIND(GF_LAYER_FLATTEN, gfi_flatten_ops)
GFI_KIND(GF_LAYER_RNN, gfi_rnn_ops)
GFI_KIND(GF_LAYER_LSTM, gfi_lstm_ops)
GFI_KIND(GF_LAYER_GRU, gfi_gru_ops)
GFI_KIND(GF_LAYER_CONV1D, gfi_conv1d_ops)
GFI_KIND(GF_LAYER_CONV2D, gfi_conv2d_ops)
GFI_KIND(GF_LAYER_MAXPOOL1D, gfi_maxpool1d_ops)
GFI_KIND(GF_LAYER_MAXPOOL2D, gfi_maxpool2d_ops)
GFI_KIND(GF_LAYER_AVGPOOL1D, gfi_avgpool1d_ops)
GFI_KIND(GF_LAYER_AVGPOOL2D, gfi_avgpool2d_ops)
GFI_KIND(GF_LAYER_GLOBAL_AVGPOOL, gfi_global_avgpool_ops)
