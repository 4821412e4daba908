/*
 * scratch.h — private: scratch copies of a net on which remedy.c checks a remedy before printing it.
 */
#ifndef GF_SCRATCH_H
#define GF_SCRATCH_H

#include "judge.h"

/* A change to try: 1 / 0 / -1 leave the net's own. */
typedef struct {
    double wscale;  /* factor on every hidden layer's initial weights (1: none) */
    double lr;      /* learning rate (0: the net's) */
    int32_t act;    /* hidden activation (-1: the net's); a new one comes with He init */
    int32_t rec;    /* recurrent layers of this kind (GF_LAYER_LSTM, _GRU) with the same units (-1: the net's) */
    bool bias_set;  /* hidden bias init constant `bias` */
    double bias;
    int32_t out_act; /* the output layer's activation (-1: the net's) */
    bool out_bias_set; /* the output layer's bias init constant `out_bias` */
    double out_bias;
} gfi_change;

static inline gfi_change gfi_no_change(void) { return (gfi_change){1.0, 0.0, -1, -1, false, 0.0, -1, false, 0.0}; }

/* What a few training steps of a scratch copy did. */
typedef struct {
    bool finite;
    int32_t steps;
    double first, last, high;
} gfi_run;

/* A copy of src with its current weights (through the model buffer), and its recurrent layers' initial states and
 * lengths: for remedies judged on what training made of the net, not on its init.  NULL when it cannot be made,
 * with *rc (may be NULL) saying why: GF_ERR_NONFINITE for weights not finite, GF_ERR_NOMEM. */
gf_net *gfi_scratch_clone(const gf_net *src, int *rc);
/* One pass of net (a scratch copy) observed by a fresh diag *d with thresholds th (the caller destroys it): a
 * forward on x (rows x inputs) and a backward from a fixed output gradient (every component 1/sqrt(n)), so the
 * rules across time can judge the copy as they judge the net.  x NULL: a probe of rows (gf_diag_probe) instead. */
int gfi_scratch_time_pass(gf_net *net, const float *x, int64_t rows, const double *th, gf_diag **d);
/* A copy of src as initialized (same seed) with the change applied; NULL when out of memory. */
gf_net *gfi_scratch_net(const gf_net *src, const gfi_change *c);
/* Probes net with a fresh diag (*d, destroyed by the caller) and judges it into j. */
int gfi_scratch_probe(gf_net *net, gfi_judge *j, gf_diag **d);
/* steps training steps of net on x (rows x inputs), targets drawn for its loss as the probe does (regression:
 * times scale).  GF_ERR_NOMEM when a step ran out of memory (never reported as a divergence in *run). */
int gfi_scratch_train(gf_net *net, const float *x, int64_t rows, double scale, int32_t steps, gfi_run *run);
/* Finite, never 1.5x above the first loss, and lower at the end. */
bool gfi_run_stable(const gfi_run *r);

/* probe.c: targets the net's loss accepts (the probe's). */
/* batch samples of gfi_net_target_size values each. */
void gfi_probe_targets(const gf_net *net, float *t, int64_t batch, gfi_rng *rng);

#endif /* GF_SCRATCH_H */
