/*
 * fuzz_model.c — libFuzzer harness for the model loader (gf_net_load_buffer).
 *
 * Each input is loaded twice: as given, and "resealed" (its size field and
 * CRC-32 made to match), so that mutations get past the checksum and reach
 * the record parser instead of all dying at the first check.  A load that
 * succeeds must give a net that predicts, saves, and reloads to the same
 * bytes.  Any crash, sanitizer report, leak or broken invariant aborts.
 *
 *   make fuzz FUZZ_SECONDS=60        (clang -fsanitize=fuzzer,address,undefined)
 *
 * tests/test_model_corpus.c includes this file to replay tests/fuzz/corpus
 * and tests/fuzz/regressions under `make check`, without libFuzzer.
 */
#include "internal.h"
#include "scratch.h" /* gfi_probe_targets */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fuzz_require(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_model: invariant broken: %s (%s)\n", what, gf_last_error());
        abort();
    }
}

/* Whether a pass of one sample fits the fuzzer's memory budget (-malloc_limit_mb=256, where a larger
 * allocation ends the run): a small file may describe a net whose input alone holds 3e10 floats (a conv1d
 * over a sequence that long: it loads, and costs nothing until it runs).  Such a net is loaded, saved and
 * reloaded, not run.  Counted per sample: the input, each layer's z, y and cache, and a margin of 2x. */
static int runnable(const gf_net *net)
{
    double floats = (double)gf_net_input_size(net);
    for (int32_t i = 0; i < net->nlayers; i++) {
        const gf_layer *l = net->layers[i];
        floats += 2.0 * (double)l->out + (l->ops->cache_size ? (double)l->ops->cache_size(l) : 0.0);
    }
    return net->nlayers > 0 && 2.0 * floats * sizeof(float) <= 64.0 * 1024 * 1024;
}

/* One training step on zeros and targets valid for the net's loss: whatever the file put in the optimizer state and
 * the step counters must take a step without undefined behaviour (a counter at INT64_MAX overflowed on it).  The
 * step may fail (non-finite weights, say); the sanitizers are the judge. */
static void train_once(gf_net *net)
{
    if (!runnable(net))
        return;
    int64_t in = gf_net_input_size(net), tw = gf_net_target_size(net);
    float *x = calloc((size_t)in, sizeof *x), *t = calloc((size_t)tw, sizeof *t);
    fuzz_require(x && t, "step buffers");
    gfi_rng rng;
    gfi_rng_seed(&rng, 1);
    gfi_probe_targets(net, t, 1, &rng);
    (void)gf_net_train_step(net, x, (size_t)in, t, (size_t)tw, 1, NULL);
    free(x);
    free(t);
}

/* A net that loaded must run, save, and load again to the very same bytes, and take a training step. */
static void check_loaded(gf_net *net)
{
    int64_t in = gf_net_input_size(net), out = gf_net_output_size(net);
    if (runnable(net)) {
        float *x = calloc((size_t)in, sizeof *x), *y = calloc((size_t)out, sizeof *y);
        fuzz_require(x && y, "test buffers");
        fuzz_require(gf_net_predict(net, x, (size_t)in, 1, y, (size_t)out) == GF_OK, "predict");
        free(x);
        free(y);
    }
    uint32_t flags = 0;
    int64_t steps = gf_net_steps(net);
    size_t n1 = 0, n2 = 0;
    gf_net_save_buffer(net, flags, NULL, 0, &n1);
    uint8_t *b1 = malloc(n1);
    fuzz_require(b1 && gf_net_save_buffer(net, flags, b1, n1, NULL) == GF_OK, "save");
    gf_net *again = NULL;
    fuzz_require(gf_net_load_buffer(&again, b1, n1) == GF_OK, "reload");
    gf_net_save_buffer(again, flags, NULL, 0, &n2);
    uint8_t *b2 = malloc(n2);
    fuzz_require(b2 && n1 == n2 && gf_net_save_buffer(again, flags, b2, n2, NULL) == GF_OK && !memcmp(b1, b2, n1),
                 "save of the reloaded net gives the same bytes");
    fuzz_require(steps >= 0, "step count");
    gf_net_destroy(again);
    free(b1);
    free(b2);
    train_once(net); /* the net as loaded, training state included */
}

static void load_once(const uint8_t *data, size_t size)
{
    gf_net *net = (gf_net *)&net;
    int rc = gf_net_load_buffer(&net, data, size);
    fuzz_require(rc == GF_OK ? net != NULL : net == NULL, "*out is NULL exactly on failure");
    fuzz_require(rc == GF_OK || rc == GF_ERR_FORMAT || rc == GF_ERR_NOMEM, "status");
    fuzz_require(rc != GF_ERR_FORMAT || strstr(gf_last_error(), "offset "), "a format error names its offset");
    if (net) {
        check_loaded(net);
        gf_net_destroy(net);
    }
    fuzz_require(gf_live_allocations() == 0, "no library allocation outlives the load");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exactly sized copy: the sanitizer then sees any read past the end. */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    load_once(copy, size);
    if (size >= 36) {
        for (int i = 0; i < 8; i++)
            copy[24 + i] = (uint8_t)((uint64_t)size >> 8 * i);
        uint32_t crc = gfi_crc32(0, copy, size - 4);
        for (int i = 0; i < 4; i++)
            copy[size - 4 + i] = (uint8_t)(crc >> 8 * i);
        load_once(copy, size);
    }
    free(copy);
    return 0;
}
