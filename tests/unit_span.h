/* unit_span.h — the diagnostics count a unit dead or saturated only once it has stayed so over 32 values
 * (samples x positions) of training passes (docs/api.md, DEAD_FRAC; src/diag.c, UNIT_SPAN).  A test of that
 * marking on a small batch trains on it until 32 values have been seen, at a rate that leaves the weights put.
 * Shared by test_conv.c, test_recurrent.c and test_shaped_nets.c. */
#ifndef GF_TESTS_UNIT_SPAN_H
#define GF_TESTS_UNIT_SPAN_H

#include <stddef.h>
#include <stdint.h>

#include "gradflow.h"

/* Trains on one batch (SGD at lr 1e-9) until each unit has had 32 values, `per_step` a step. */
static inline void train_to_32_values(gf_net *net, const float *x, size_t nx, const float *t, size_t nt,
                                      int64_t batch, int64_t per_step)
{
    gf_optimizer *o;
    assert_int_equal(gf_optimizer_create(&o, GF_OPT_SGD, 1e-9), GF_OK);
    assert_int_equal(gf_net_set_optimizer(net, o), GF_OK);
    for (int64_t seen = 0; seen < 32; seen += per_step)
        assert_int_equal(gf_net_train_step(net, x, nx, t, nt, batch, NULL), GF_OK);
}

#endif /* GF_TESTS_UNIT_SPAN_H */
