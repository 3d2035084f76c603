/*  bench_autofix — times sb_autofix_run (parse, coerce, validate, report to JSON)
    over the AutoFix corpus, the way bench_autofix.mjs times the JavaScript
    pipeline: median of 9 batches, MB = 1e6 bytes of input. Also writes what it
    released for each case, for the accuracy comparison.

    usage: bench_autofix SECONDS CASES_JSONL RESULTS_JSONL
    CASES_JSONL: one case a line, {"name", "schema", "input_b64", "mode"} (written by
    bench_autofix.mjs). Prints {"calls_per_s", "mb_per_s", "calls", "bytes"}.  */

#include "sb_autofix.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CASES 4096
#define BATCHES   9

typedef struct {
    char *input;
    size_t len;
    sb_schema_t *schema;
    sb_autofix_mode_t mode;
    const char *name;
} s_case_t;

static s_case_t s_cases[MAX_CASES];
static size_t s_ncases;

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
s_b64 (char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

static char *
s_decode_b64 (const char *in, size_t *len)
{
    size_t n = strlen (in);
    char *out = malloc (n / 4 * 3 + 4);
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; out && i < n; i++) {
        int v = s_b64 (in[i]);
        if (v < 0) continue;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)((acc >> bits) & 0xFF);
        }
    }
    if (out) out[o] = 0;
    *len = o;
    return out;
}

static size_t s_sink;

//  One pass over every case; returns the input bytes processed.
static size_t
s_pass (void)
{
    size_t bytes = 0;
    for (size_t i = 0; i < s_ncases; i++) {
        sb_autofix_report_t *r = NULL;
        if (sb_autofix_run (s_cases[i].input, s_cases[i].len, s_cases[i].schema, s_cases[i].mode,
                            &r) == 0) {
            size_t n = 0;
            char *json = sb_autofix_report_to_json (r, &n);
            s_sink += n;
            free (json);
            sb_autofix_report_destroy (&r);
        }
        bytes += s_cases[i].len;
    }
    return bytes;
}

static int
s_cmp (const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int
main (int argc, char **argv)
{
    if (argc != 4) {
        fprintf (stderr, "usage: bench_autofix SECONDS CASES_JSONL RESULTS_JSONL\n");
        return 2;
    }
    double seconds = strtod (argv[1], NULL);
    if (seconds <= 0) seconds = 2;
    FILE *f = fopen (argv[2], "rb");
    if (!f) {
        fprintf (stderr, "cannot open %s\n", argv[2]);
        return 2;
    }
    static char line[1 << 20];
    json_t *schemas = json_object (); // schema text -> index into compiled
    sb_schema_t *compiled[256];
    size_t ncompiled = 0;
    while (fgets (line, sizeof line, f) && s_ncases < MAX_CASES) {
        json_error_t jerr;
        json_t *c = json_loads (line, 0, &jerr);
        if (!c) {
            fprintf (stderr, "bad case line: %s\n", jerr.text);
            return 2;
        }
        char *schema_text = json_dumps (json_object_get (c, "schema"), JSON_COMPACT);
        json_t *idx = json_object_get (schemas, schema_text);
        if (!idx) {
            char err[256] = "";
            sb_schema_t *s =
                sb_schema_new (json_object_get (c, "schema"), SB_DRAFT_AUTO, NULL, err, sizeof err);
            if (!s || ncompiled == 256) {
                fprintf (stderr, "schema: %s\n", err);
                return 2;
            }
            compiled[ncompiled] = s;
            idx = json_integer ((json_int_t)ncompiled++);
            json_object_set_new (schemas, schema_text, idx);
        }
        free (schema_text);
        s_case_t *k = &s_cases[s_ncases++];
        k->input = s_decode_b64 (json_string_value (json_object_get (c, "input_b64")), &k->len);
        k->schema = compiled[json_integer_value (idx)];
        sb_autofix_mode_from_name (json_string_value (json_object_get (c, "mode")), &k->mode);
        k->name = strdup (json_string_value (json_object_get (c, "name")));
        json_decref (c);
    }
    fclose (f);

    //  What AutoFix released for each case.
    FILE *out = fopen (argv[3], "wb");
    if (!out) return 2;
    for (size_t i = 0; i < s_ncases; i++) {
        sb_autofix_report_t *r = NULL;
        if (sb_autofix_run (s_cases[i].input, s_cases[i].len, s_cases[i].schema, s_cases[i].mode,
                            &r))
            return 2;
        size_t n;
        const char *args = sb_autofix_report_arguments (r, &n);
        json_t *o = json_pack ("{s:s, s:o}", "name", s_cases[i].name, "arguments",
                               args ? json_stringn (args, n) : json_null ());
        char *text = json_dumps (o, JSON_COMPACT);
        fprintf (out, "%s\n", text);
        free (text);
        json_decref (o);
        sb_autofix_report_destroy (&r);
    }
    fclose (out);

    double batch = seconds / BATCHES;
    double t0 = s_now ();
    size_t bytes_per_pass = s_pass ();
    while (s_now () - t0 < batch / 2)
        s_pass ();
    double calls[BATCHES], mbs[BATCHES];
    for (int b = 0; b < BATCHES; b++) {
        size_t passes = 0;
        double start = s_now (), t;
        do {
            s_pass ();
            passes++;
            t = s_now ();
        } while (t - start < batch);
        calls[b] = (double)(passes * s_ncases) / (t - start);
        mbs[b] = (double)(passes * bytes_per_pass) / (t - start) / 1e6;
    }
    qsort (calls, BATCHES, sizeof calls[0], s_cmp);
    qsort (mbs, BATCHES, sizeof mbs[0], s_cmp);
    printf ("{\"calls_per_s\":%.1f,\"mb_per_s\":%.3f,\"calls\":%zu,\"bytes\":%zu,\"sink\":%zu}\n",
            calls[BATCHES / 2], mbs[BATCHES / 2], s_ncases, bytes_per_pass, s_sink % 10);
    for (size_t i = 0; i < ncompiled; i++)
        sb_schema_destroy (&compiled[i]);
    for (size_t i = 0; i < s_ncases; i++) {
        free (s_cases[i].input);
        free ((char *)s_cases[i].name);
    }
    json_decref (schemas);
    return 0;
}
