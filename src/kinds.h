/*
 * kinds.h — the registry of layer kinds: one line per kind, GFI_KIND(enum value, ops table).
 * Included twice by internal.h and layer.c with different GFI_KIND definitions (declaration,
 * table entry), so adding a kind is its file plus one line here.
 */
GFI_KIND(GF_LAYER_DENSE, gfi_dense_ops)
GFI_KIND(GF_LAYER_FLATTEN, gfi_flatten_ops)
