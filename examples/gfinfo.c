/* gfinfo.c — prints what a model file holds: its format version, the library that wrote it, the layers,
 * the parameter count and whether it carries training state.  A corrupt file is reported with the
 * loader's message (the problem and its byte offset) and exit status 1.
 *
 *   gfinfo model.gfm [more.gfm ...]
 */
#include <stdio.h>
#include <stdlib.h>

#include "gradflow.h"

/* The whole file, or NULL with a message. */
static unsigned char *read_all(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return NULL;
    }
    size_t cap = 1 << 16, n = 0, got;
    unsigned char *buf = malloc(cap);
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            unsigned char *b = realloc(buf, cap *= 2);
            if (!b)
                free(buf);
            buf = b;
        }
    }
    if (!buf || ferror(f)) {
        fprintf(stderr, "gfinfo: %s: cannot read it\n", path);
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *size = n;
    return buf;
}

static int64_t field(const unsigned char *buf, size_t size, int32_t which)
{
    int64_t v = -1;
    gf_model_info(buf, size, which, &v); /* the buffer was validated once already */
    return v;
}

static int show(const char *path)
{
    size_t size;
    unsigned char *buf = read_all(path, &size);
    if (!buf)
        return 1;
    gf_net *net = NULL;
    if (gf_net_load_buffer(&net, buf, size) != GF_OK) {
        fprintf(stderr, "gfinfo: %s: %s\n", path, gf_last_error());
        free(buf);
        return 1;
    }
    int64_t writer = field(buf, size, GF_MODEL_WRITER_VERSION);
    printf("%s: %zu bytes, model file format %lld.%lld, written by libgradflow %lld.%lld.%lld\n", path, size,
           (long long)field(buf, size, GF_MODEL_FORMAT_MAJOR), (long long)field(buf, size, GF_MODEL_FORMAT_MINOR),
           (long long)(writer / 10000), (long long)(writer / 100 % 100), (long long)(writer % 100));
    printf("layers: %d, parameters: %lld, training state: ", (int)gf_net_layer_count(net),
           (long long)gf_net_param_count(net));
    if (field(buf, size, GF_MODEL_TRAINING_STATE) == 1)
        printf("yes (%lld steps taken)\n", (long long)gf_net_steps(net));
    else
        printf("no\n");
    size_t need = 0;
    gf_net_describe(net, NULL, 0, &need);
    char *text = malloc(need);
    if (text && gf_net_describe(net, text, need, NULL) == GF_OK)
        fputs(text, stdout);
    free(text);
    gf_net_destroy(net);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: gfinfo MODEL_FILE...\n");
        return 2;
    }
    int failed = 0;
    for (int i = 1; i < argc; i++)
        failed |= show(argv[i]);
    return failed;
}
