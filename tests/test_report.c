/* test_report.c — text, CSV, JSON-lines and SVG reports: structure checked by small strict parsers written here
 * (CSV column counts and numbers, a JSON grammar, an XML well-formedness checker), buffer and file rules. */
#define _POSIX_C_SOURCE 200809L /* mkstemp, fdopen; alarm: a report that loops forever fails instead of hanging */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "verdict.h"

/* ------------------------------------------------------------------ */
/* Fixtures: a real net probed once, then trained a few steps          */
/* ------------------------------------------------------------------ */

typedef struct {
    gf_net *net;
    gf_diag *d;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f || gf_net_create(&f->net, 16, 7))
        return -1;
    for (int i = 0; i < 6; i++)
        if (gf_net_add_dense(f->net, i == 5 ? 1 : 16, i == 5 ? GF_ACT_IDENTITY : GF_ACT_TANH, NULL))
            return -1;
    if (gf_diag_create(&f->d, f->net) || gf_diag_enable(f->d, 1) || gf_diag_probe(f->d, 32, 3))
        return -1;
    float x[32 * 16], t[32];
    for (int i = 0; i < 32 * 16; i++)
        x[i] = (float)sin(i * 0.37);
    for (int i = 0; i < 32; i++)
        t[i] = (float)cos(i * 0.2);
    for (int s = 0; s < 5; s++)
        if (gf_net_train_step(f->net, x, 32 * 16, t, 32, 32, NULL))
            return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    gf_diag_destroy(f->d);
    gf_net_destroy(f->net);
    free(f);
    return 0;
}

/* The whole report in a fresh buffer (checks the size protocol on the way). */
static char *report(const gf_diag *d, int32_t format)
{
    size_t need = 0;
    assert_int_equal(gf_diag_report(d, format, NULL, 0, &need), GF_OK);
    assert_true(need > 1);
    char *buf = malloc(need);
    size_t need2 = 0;
    assert_int_equal(gf_diag_report(d, format, buf, need, &need2), GF_OK);
    assert_int_equal(need2, need);
    assert_int_equal(strlen(buf) + 1, need);
    return buf;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* ------------------------------------------------------------------ */
/* A strict JSON value parser (RFC 8259 grammar, no extensions)        */
/* ------------------------------------------------------------------ */

static const char *json_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    return p;
}

static const char *json_value(const char *p);

static const char *json_string(const char *p)
{
    if (*p++ != '"')
        return NULL;
    while (*p != '"') {
        if ((unsigned char)*p < 0x20)
            return NULL;
        if (*p == '\\') {
            p++;
            if (*p == 'u') {
                for (int k = 1; k <= 4; k++)
                    if (!isxdigit((unsigned char)p[k]))
                        return NULL;
                p += 4;
            } else if (!strchr("\"\\/bfnrt", *p) || !*p) {
                return NULL;
            }
        }
        p++;
    }
    return p + 1;
}

static const char *json_number(const char *p)
{
    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else if (isdigit((unsigned char)*p))
        while (isdigit((unsigned char)*p))
            p++;
    else
        return NULL;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return NULL;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!isdigit((unsigned char)*p))
            return NULL;
        while (isdigit((unsigned char)*p))
            p++;
    }
    return p;
}

static const char *json_seq(const char *p, char close, bool object)
{
    p = json_ws(p + 1);
    if (*p == close)
        return p + 1;
    for (;;) {
        if (object) {
            if (!(p = json_string(p)))
                return NULL;
            p = json_ws(p);
            if (*p++ != ':')
                return NULL;
        }
        if (!(p = json_value(json_ws(p))))
            return NULL;
        p = json_ws(p);
        if (*p == close)
            return p + 1;
        if (*p++ != ',')
            return NULL;
        p = json_ws(p);
    }
}

static const char *json_value(const char *p)
{
    switch (*p) {
    case '{': return json_seq(p, '}', true);
    case '[': return json_seq(p, ']', false);
    case '"': return json_string(p);
    case 't': return strncmp(p, "true", 4) ? NULL : p + 4;
    case 'f': return strncmp(p, "false", 5) ? NULL : p + 5;
    case 'n': return strncmp(p, "null", 4) ? NULL : p + 4;
    default: return json_number(p);
    }
}

/* True when line (without its newline) is exactly one JSON object. */
static bool json_object_line(const char *line, size_t n)
{
    char *s = malloc(n + 1);
    memcpy(s, line, n);
    s[n] = '\0';
    const char *e = s[0] == '{' ? json_value(s) : NULL;
    bool ok = e && *json_ws(e) == '\0';
    free(s);
    return ok;
}

/* ------------------------------------------------------------------ */
/* A minimal XML well-formedness checker                               */
/* ------------------------------------------------------------------ */

static bool xml_name_char(char c) { return isalnum((unsigned char)c) || c == '-' || c == '_' || c == ':' || c == '.'; }

/* Checks one entity or character reference at p (after '&'). */
static const char *xml_entity(const char *p)
{
    static const char *names[] = {"amp;", "lt;", "gt;", "quot;", "apos;"};
    for (size_t k = 0; k < 5; k++)
        if (!strncmp(p, names[k], strlen(names[k])))
            return p + strlen(names[k]);
    if (*p == '#') {
        p++;
        while (isalnum((unsigned char)*p))
            p++;
        return *p == ';' ? p + 1 : NULL;
    }
    return NULL;
}

/* Balanced tags, quoted attributes, no stray '<' or '&', one root.  Returns an error description or NULL. */
static const char *xml_check(const char *p)
{
    char stack[64][32];
    int depth = 0, roots = 0;
    if (!strncmp(p, "<?xml", 5)) {
        p = strstr(p, "?>");
        if (!p)
            return "unterminated XML declaration";
        p += 2;
    }
    while (*p) {
        if (*p == '&') {
            if (!(p = xml_entity(p + 1)))
                return "bad entity";
            continue;
        }
        if (*p == '>')
            return "stray >";
        if (*p != '<') {
            if (depth == 0 && !isspace((unsigned char)*p))
                return "text outside the root";
            p++;
            continue;
        }
        p++;
        bool closing = *p == '/';
        if (closing)
            p++;
        const char *name = p;
        while (xml_name_char(*p))
            p++;
        size_t nlen = (size_t)(p - name);
        if (nlen == 0 || nlen >= 32)
            return "bad tag name";
        if (closing) {
            if (depth == 0 || strlen(stack[depth - 1]) != nlen || strncmp(stack[depth - 1], name, nlen))
                return "mismatched closing tag";
            depth--;
            p = (const char *)strchr(p, '>');
            if (!p)
                return "unterminated closing tag";
            p++;
            continue;
        }
        /* Attributes: name="value" with no '<' inside values. */
        for (;;) {
            while (isspace((unsigned char)*p))
                p++;
            if (*p == '>' || (*p == '/' && p[1] == '>'))
                break;
            const char *an = p;
            while (xml_name_char(*p))
                p++;
            if (p == an || *p != '=' || (p[1] != '"' && p[1] != '\''))
                return "unquoted or malformed attribute";
            char q = p[1];
            p += 2;
            while (*p && *p != q) {
                if (*p == '<')
                    return "< in attribute value";
                if (*p == '&' && !(p = xml_entity(p + 1)))
                    return "bad entity in attribute";
                else if (*p != q)
                    p++;
            }
            if (!*p)
                return "unterminated attribute value";
            p++;
        }
        if (depth == 0)
            roots++;
        if (*p == '/') {
            p += 2;
            continue;
        }
        if (depth == 64)
            return "too deep";
        memcpy(stack[depth], name, nlen);
        stack[depth][nlen] = '\0';
        depth++;
        p++;
    }
    if (depth)
        return "unclosed element";
    return roots == 1 ? NULL : "not exactly one root element";
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */
/* ------------------------------------------------------------------ */

static void test_text_report_has_a_row_per_layer_and_the_net_verdict(void **state)
{
    fixture *f = *state;
    char *s = report(f->d, GF_REPORT_TEXT);
    assert_non_null(strstr(s, "delta_in_norm"));
    assert_non_null(strstr(s, "update_ratio"));
    assert_non_null(strstr(s, "dense/tanh"));
    assert_non_null(strstr(s, "dense/identity"));
    assert_non_null(strstr(s, "net verdict: "));
    assert_non_null(strstr(s, "\nreason: "));
    assert_non_null(strstr(s, "\nremedy: "));
    /* header line + step line + 6 rows + verdict, reason, remedy */
    assert_int_equal(count_lines(s), 2 + 6 + 3);
    free(s);
}

static void test_text_report_before_any_observation_says_unknown(void **state)
{
    (void)state;
    gf_net *net;
    gf_diag *d;
    assert_int_equal(gf_net_create(&net, 4, 1), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 2, GF_ACT_RELU, NULL), GF_OK);
    assert_int_equal(gf_diag_create(&d, net), GF_OK);
    char *s = report(d, GF_REPORT_TEXT);
    assert_non_null(strstr(s, "unknown"));
    free(s);
    s = report(d, GF_REPORT_JSON);
    assert_true(json_object_line(s, strcspn(s, "\n")));
    free(s);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

static void test_csv_has_a_header_and_one_consistent_row_per_layer_per_step(void **state)
{
    fixture *f = *state;
    char *s = report(f->d, GF_REPORT_CSV);
    int records = gf_diag_history_length(f->d);
    assert_true(records >= 6); /* the probe and five steps */
    assert_int_equal(count_lines(s), 1 + records * 6);
    const char *line = s;
    int row = 0;
    while (*line) {
        size_t n = strcspn(line, "\n");
        int fields = 1;
        for (size_t k = 0; k < n; k++)
            fields += line[k] == ',';
        assert_int_equal(fields, 2 + GF_STAT_CANDIDATE_DEAD_FRAC + 1);
        if (row == 0) {
            assert_memory_equal(line, "step,layer,", 11);
            assert_non_null(strstr(line, gf_stat_name(GF_STAT_WGRAD_NORM)));
        } else {
            /* every field is a number strtod takes whole (nan/inf included) */
            const char *p = line;
            for (int k = 0; k < fields; k++) {
                char *end;
                strtod(p, &end);
                assert_true(end > p && (*end == ',' || *end == '\n' || *end == '\0'));
                p = end + 1;
            }
        }
        row++;
        line += n + (line[n] == '\n');
    }
    /* The first data row is the probe: step -1. */
    assert_non_null(strstr(s, "\n-1,0,"));
    free(s);
}

static void test_json_lines_are_objects_stats_then_verdicts(void **state)
{
    fixture *f = *state;
    char *s = report(f->d, GF_REPORT_JSON);
    int records = gf_diag_history_length(f->d);
    assert_int_equal(count_lines(s), records * 6 + 6 + 1);
    const char *line = s;
    int k = 0;
    while (*line) {
        size_t n = strcspn(line, "\n");
        assert_true(json_object_line(line, n));
        bool stats = !strncmp(line, "{\"type\":\"stats\"", 15);
        assert_true(stats == (k < records * 6));
        k++;
        line += n + (line[n] == '\n');
    }
    assert_non_null(strstr(s, "{\"type\":\"verdict\",\"layer\":-1,"));
    assert_non_null(strstr(s, "\"remedy\":\""));
    free(s);
}

/* Non-finite values must not leak into JSON as NaN or Infinity. */
static void test_json_writes_nonfinite_numbers_as_null(void **state)
{
    fixture *f = *state;
    double *v = (double *)gfi_diag_at(f->d, 0, 1, GF_STAT_WGRAD_NORM);
    double keep = *v;
    *v = NAN;
    char *s = report(f->d, GF_REPORT_JSON);
    *v = keep;
    assert_non_null(strstr(s, ":null"));
    assert_null(strstr(s, ":nan"));
    assert_null(strstr(s, ":inf"));
    const char *line = s;
    while (*line) {
        size_t n = strcspn(line, "\n");
        assert_true(json_object_line(line, n));
        line += n + (line[n] == '\n');
    }
    free(s);
}

static void test_json_parser_rejects_malformed_lines(void **state)
{
    (void)state;
    assert_true(json_object_line("{\"a\":[1,-2.5e3,null,\"x\\\"y\"]}", 29));
    assert_false(json_object_line("{\"a\":NaN}", 9));
    assert_false(json_object_line("{a:1}", 5));
    assert_false(json_object_line("{\"a\":1", 6));
    assert_false(json_object_line("{\"a\":\"\\q\"}", 10));
}

static void test_svg_is_well_formed_with_labelled_axes_and_a_legend(void **state)
{
    fixture *f = *state;
    char *s = report(f->d, GF_REPORT_SVG);
    const char *err = xml_check(s);
    if (err)
        fail_msg("SVG not well-formed: %s", err);
    assert_non_null(strstr(s, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert_non_null(strstr(s, ">training step</text>"));
    assert_non_null(strstr(s, ">layer</text>"));
    assert_non_null(strstr(s, ">weight-gradient norm</text>"));
    assert_non_null(strstr(s, ">layer 0 (input side)</text>"));
    assert_non_null(strstr(s, "(output)</text>"));
    free(s);
}

static void test_svg_shows_the_whole_reason_and_remedy(void **state)
{
    fixture *f = *state;
    char reason[4096], remedy[4096];
    assert_int_equal(gf_diag_verdict_reason(f->d, -1, reason, sizeof reason, NULL), GF_OK);
    assert_int_equal(gf_diag_verdict_remedy(f->d, -1, remedy, sizeof remedy, NULL), GF_OK);
    char *s = report(f->d, GF_REPORT_SVG);
    size_t n = strlen(reason);
    assert_non_null(strstr(s, reason + (n > 12 ? n - 12 : 0))); /* the end of the reason is there: nothing cut */
    assert_non_null(strstr(s, ">remedy</text>"));
    assert_null(strstr(s, "..."));
    free(s);
}

static void test_svg_draws_nonfinite_and_zero_values_as_marked_gaps(void **state)
{
    fixture *f = *state;
    double *a = (double *)gfi_diag_at(f->d, 1, 0, GF_STAT_WGRAD_NORM);
    double *b = (double *)gfi_diag_at(f->d, 0, 2, GF_STAT_DELTA_PRE_NORM);
    double ka = *a, kb = *b;
    char *before = report(f->d, GF_REPORT_SVG);
    *a = INFINITY;
    *b = 0.0;
    char *s = report(f->d, GF_REPORT_SVG);
    *a = ka;
    *b = kb;
    assert_null(xml_check(s));
    assert_non_null(strstr(s, "the weight-gradient norm is NaN or Inf"));
    assert_non_null(strstr(s, "delta_pre is 0"));
    assert_null(strstr(s, "inf,"));
    assert_null(strstr(s, "nan,"));
    int lines_before = 0, lines = 0;
    for (const char *p = before; (p = strstr(p, "<polyline")); p++)
        lines_before++;
    for (const char *p = s; (p = strstr(p, "<polyline")); p++)
        lines++;
    assert_true(lines > lines_before); /* the gaps split two lines in two */
    free(before);
    free(s);
}

static void test_svg_profile_needs_no_input_gradient(void **state)
{
    fixture *f = *state;
    /* The fixture trains without gf_net_set_input_grad: layer 0's delta-in is not measured, its delta_pre is. */
    assert_true(isnan(*(const double *)gfi_diag_at(f->d, 0, 0, GF_STAT_DELTA_IN_NORM)));
    char *s = report(f->d, GF_REPORT_SVG);
    assert_null(xml_check(s));
    assert_null(strstr(s, "is NaN or Inf"));
    free(s);
}

static void test_svg_marks_no_delta_when_only_the_update_overflowed(void **state)
{
    (void)state;
    gf_net *net;
    gf_diag *d;
    gf_optimizer *o;
    assert_int_equal(gf_net_create(&net, 2, 7), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 3, GF_ACT_RELU, NULL), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 2, GF_ACT_IDENTITY, NULL), GF_OK);
    assert_int_equal(gf_optimizer_create(&o, GF_OPT_SGD, 1e38), GF_OK);
    assert_int_equal(gf_net_set_optimizer(net, o), GF_OK);
    assert_int_equal(gf_diag_create(&d, net), GF_OK);
    const float x[6] = {1.0f, 2.0f, -0.5f, 1.5f, 2.0f, -1.0f}, t[6] = {500, -500, 100, 0, -100, 200};
    /* Finite forward and backward; the update (no guard) overflows the weights to +-Inf. */
    assert_int_equal(gf_net_train_step(net, x, 6, t, 6, 3, NULL), GF_OK);
    int64_t nan, pinf, ninf;
    assert_int_equal(gf_diag_nonfinite(d, 0, GF_TENSOR_WEIGHT, &nan, &pinf, &ninf), GF_OK);
    assert_true(pinf + ninf > 0);
    char *s = report(d, GF_REPORT_SVG);
    assert_null(xml_check(s));
    assert_null(strstr(s, "delta_pre is NaN or Inf"));
    free(s);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

/* Steps past 2^53, where adding 1 to a double no longer changes it: the step axis still ends. */
static void test_svg_report_of_a_net_at_step_2_to_the_61_returns(void **state)
{
    (void)state;
    gf_net *net;
    gf_diag *d;
    assert_int_equal(gf_net_create(&net, 2, 1), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 3, GF_ACT_TANH, NULL), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 1, GF_ACT_IDENTITY, NULL), GF_OK);
    const float x[4] = {1, 2, 3, 4}, t[2] = {1, 0};
    assert_int_equal(gf_net_train_step(net, x, 4, t, 2, 2, NULL), GF_OK);
    net->steps = (int64_t)1 << 61; /* within the documented 0 .. 2^62 a loaded model may carry */
    assert_int_equal(gf_diag_create(&d, net), GF_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(gf_net_train_step(net, x, 4, t, 2, 2, NULL), GF_OK);
    alarm(20);
    char *s = report(d, GF_REPORT_SVG);
    alarm(0);
    assert_null(xml_check(s));
    free(s);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

static void test_xml_checker_rejects_malformed_documents(void **state)
{
    (void)state;
    assert_null(xml_check("<a x=\"1\"><b/>t &amp; u</a>"));
    assert_non_null(xml_check("<a><b></a></b>"));
    assert_non_null(xml_check("<a x=1></a>"));
    assert_non_null(xml_check("<a>x & y</a>"));
    assert_non_null(xml_check("<a></a><b></b>"));
}

static void test_report_to_file_matches_the_buffer(void **state)
{
    fixture *f = *state;
    char path[] = "/tmp/gf_report_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fclose(fdopen(fd, "w"));
    for (int32_t fmt = GF_REPORT_TEXT; fmt <= GF_REPORT_SVG; fmt++) {
        assert_int_equal(gf_diag_report_file(f->d, fmt, path), GF_OK);
        char *want = report(f->d, fmt);
        FILE *in = fopen(path, "rb");
        size_t n = strlen(want);
        char *got = malloc(n + 2);
        size_t r = fread(got, 1, n + 1, in);
        fclose(in);
        assert_int_equal(r, n);
        assert_memory_equal(got, want, n);
        free(got);
        free(want);
    }
    remove(path);
    /* Keep copies for tests/check_reports.sh when asked to. */
    const char *dir = getenv("GF_REPORT_OUT");
    if (dir) {
        static const char *ext[] = {"txt", "csv", "jsonl", "svg"};
        for (int32_t fmt = GF_REPORT_TEXT; fmt <= GF_REPORT_SVG; fmt++) {
            char out[512];
            snprintf(out, sizeof out, "%s/report.%s", dir, ext[fmt]);
            assert_int_equal(gf_diag_report_file(f->d, fmt, out), GF_OK);
        }
    }
}

static void test_report_rejects_misuse(void **state)
{
    fixture *f = *state;
    char small[16];
    size_t need = 0;
    assert_int_equal(gf_diag_report(f->d, GF_REPORT_TEXT, small, sizeof small, &need), GF_ERR_BUFFER);
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_true(need > sizeof small);
    assert_int_equal(gf_diag_report(NULL, GF_REPORT_TEXT, small, sizeof small, NULL), GF_ERR_NULL);
    assert_int_equal(gf_diag_report(f->d, 4, small, sizeof small, NULL), GF_ERR_INVALID);
    assert_int_equal(gf_diag_report(f->d, -1, small, sizeof small, NULL), GF_ERR_INVALID);
    assert_int_equal(gf_diag_report(f->d, GF_REPORT_CSV, NULL, 8, NULL), GF_ERR_NULL);
    assert_int_equal(gf_diag_report((const gf_diag *)(void *)f->net, GF_REPORT_CSV, small, 16, NULL), GF_ERR_KIND);
    assert_int_equal(gf_diag_report_file(f->d, GF_REPORT_CSV, NULL), GF_ERR_NULL);
    assert_int_equal(gf_diag_report_file(f->d, GF_REPORT_CSV, "/nonexistent-dir/x/report.csv"), GF_ERR_IO);
    assert_int_equal(gf_diag_report_file(f->d, 9, "/tmp/never-written"), GF_ERR_INVALID);
}

/* ------------------------------------------------------------------ */
/* The time profile of recurrent layers                                */
/* ------------------------------------------------------------------ */

enum { RT = 12 };

/* An LSTM of 4 units over 12 steps, last step -> dense 1, observed for three steps. */
static int setup_recurrent(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    const int64_t dims[2] = {RT, 2};
    if (!f || gf_net_create_shaped(&f->net, GF_SHAPE_SEQUENCE, dims, 2, 7) || gf_net_add_lstm(f->net, 4, 0, NULL) ||
        gf_net_add_dense(f->net, 1, GF_ACT_IDENTITY, NULL))
        return -1;
    if (gf_diag_create(&f->d, f->net) || gf_diag_enable(f->d, 1))
        return -1;
    float x[8 * RT * 2], t[8];
    for (int i = 0; i < 8 * RT * 2; i++)
        x[i] = (float)sin(i * 0.37);
    for (int i = 0; i < 8; i++)
        t[i] = (float)cos(i * 0.2);
    for (int s = 0; s < 3; s++)
        if (gf_net_train_step(f->net, x, 8 * RT * 2, t, 8, 8, NULL))
            return -1;
    *state = f;
    return 0;
}

static void test_text_report_has_the_time_profile_of_a_recurrent_layer(void **state)
{
    fixture *f = *state;
    char *s = report(f->d, GF_REPORT_TEXT);
    const char *p = strstr(s, "time profile, layer 0: ||dL/dh_t|| by step: 0:");
    assert_non_null(p);
    assert_non_null(strstr(p, " 12:"));
    assert_non_null(strstr(p, "per step back"));
    assert_non_null(strstr(p, "mean forget/update gate"));
    assert_null(strstr(s, "time profile, layer 1")); /* dense on a vector has none */
    free(s);
}

static void test_csv_adds_a_time_table_after_an_empty_line(void **state)
{
    fixture *f = *state;
    char *s = report(f->d, GF_REPORT_CSV);
    char *gap = strstr(s, "\n\n");
    assert_non_null(gap);
    const char *table = gap + 2;
    assert_memory_equal(table, "layer,t,delta_time_norm,gate_saturated_frac,forget_gate_mean,candidate_saturated_frac\n",
                        86);
    assert_int_equal(count_lines(table), 1 + RT + 1);
    /* Row t pairs ||dL/dh_t|| with the gates of step t, which reads h_t: the last state (t = T) has no gates. */
    const char *row = strchr(table, '\n') + 1;
    assert_memory_equal(row, "0,0,", 4);
    int fields = 1;
    for (const char *c = row; *c != '\n'; c++)
        fields += *c == ',';
    assert_int_equal(fields, 6);
    const char *last = strstr(table, "\n0,12,");
    assert_non_null(last);
    assert_memory_equal(last + 1 + strcspn(last + 1, "\n") - 3, ",,,", 3);
    free(s);
}

static void test_json_has_a_time_object_with_arrays(void **state)
{
    fixture *f = *state;
    char *s = report(f->d, GF_REPORT_JSON);
    const char *p = strstr(s, "{\"type\":\"time\",\"step\":");
    assert_non_null(p);
    size_t n = strcspn(p, "\n");
    assert_true(json_object_line(p, n));
    const char *arr = strstr(p, "\"delta_time_norm\":[");
    assert_non_null(arr);
    int values = 1;
    for (const char *c = arr + 19; *c != ']'; c++)
        values += *c == ',';
    assert_int_equal(values, RT + 1);
    assert_non_null(strstr(p, "\"forget_gate_mean\":["));
    /* Before the verdicts. */
    assert_true(strstr(s, "{\"type\":\"verdict\"") > p);
    free(s);
}

static void test_svg_has_a_time_panel_for_a_recurrent_layer(void **state)
{
    fixture *f = *state;
    char *s = report(f->d, GF_REPORT_SVG);
    const char *err = xml_check(s);
    if (err)
        fail_msg("SVG: %s", err);
    assert_non_null(strstr(s, "gradient norm against the time step"));
    assert_non_null(strstr(s, ">time step t</text>"));
    assert_non_null(strstr(s, ">12</text>")); /* the last step's tick */
    const char *dir = getenv("GF_REPORT_OUT");
    if (dir) {
        static const char *ext[] = {"txt", "csv", "jsonl", "svg"};
        for (int32_t fmt = GF_REPORT_TEXT; fmt <= GF_REPORT_SVG; fmt++) {
            char out[512];
            snprintf(out, sizeof out, "%s/recurrent.%s", dir, ext[fmt]);
            assert_int_equal(gf_diag_report_file(f->d, fmt, out), GF_OK);
        }
    }
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_text_report_has_a_row_per_layer_and_the_net_verdict, setup, teardown),
        cmocka_unit_test(test_text_report_before_any_observation_says_unknown),
        cmocka_unit_test_setup_teardown(test_csv_has_a_header_and_one_consistent_row_per_layer_per_step, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_json_lines_are_objects_stats_then_verdicts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_writes_nonfinite_numbers_as_null, setup, teardown),
        cmocka_unit_test(test_json_parser_rejects_malformed_lines),
        cmocka_unit_test_setup_teardown(test_svg_is_well_formed_with_labelled_axes_and_a_legend, setup, teardown),
        cmocka_unit_test_setup_teardown(test_svg_shows_the_whole_reason_and_remedy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_svg_draws_nonfinite_and_zero_values_as_marked_gaps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_svg_profile_needs_no_input_gradient, setup, teardown),
        cmocka_unit_test(test_svg_marks_no_delta_when_only_the_update_overflowed),
        cmocka_unit_test(test_svg_report_of_a_net_at_step_2_to_the_61_returns),
        cmocka_unit_test(test_xml_checker_rejects_malformed_documents),
        cmocka_unit_test_setup_teardown(test_report_to_file_matches_the_buffer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_rejects_misuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_text_report_has_the_time_profile_of_a_recurrent_layer, setup_recurrent,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_csv_adds_a_time_table_after_an_empty_line, setup_recurrent, teardown),
        cmocka_unit_test_setup_teardown(test_json_has_a_time_object_with_arrays, setup_recurrent, teardown),
        cmocka_unit_test_setup_teardown(test_svg_has_a_time_panel_for_a_recurrent_layer, setup_recurrent, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
