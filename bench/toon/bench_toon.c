/*  bench_toon — times sb_toon on the benchmark inputs: encode alone (value →
    TOON) and parse + encode (JSON text → TOON, the gateway's path). Prints one
    JSON line per input and writes each TOON result to OUT_DIR/NAME.c.toon so
    that the JavaScript side can compare bytes. Run through bench/toon/run.sh.

    usage: bench_toon SECONDS OUT_DIR INPUT.json...  */

#include "sb_toon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_MAX_INPUT ((size_t)64 * 1024 * 1024)
#define S_BATCHES   9 // the median of this many timed batches is reported

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int
s_cmp_double (const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static char *
s_read_file (const char *path, size_t *len)
{
    FILE *f = fopen (path, "rb");
    if (!f) return NULL;
    char *buf = malloc (S_MAX_INPUT);
    size_t n = buf ? fread (buf, 1, S_MAX_INPUT, f) : 0;
    fclose (f);
    if (!buf || n == S_MAX_INPUT) {
        free (buf);
        return NULL;
    }
    *len = n;
    return buf;
}

//  One unit of work; returns the TOON length so the compiler cannot drop it.
static size_t
s_encode_once (const json_t *value)
{
    size_t len = 0;
    char *out = sb_toon_encode (value, NULL, &len);
    if (!out) {
        fprintf (stderr, "bench_toon: encode failed\n");
        exit (1);
    }
    free (out);
    return len;
}

static size_t
s_parse_encode_once (const char *text, size_t n)
{
    json_t *value = sb_toon_parse_json (text, n, NULL);
    if (!value) exit (1);
    size_t len = s_encode_once (value);
    json_decref (value);
    return len;
}

static size_t
s_parse_once (const char *text, size_t n)
{
    json_t *value = sb_toon_parse_json (text, n, NULL);
    if (!value) exit (1);
    json_decref (value);
    return 1;
}

typedef enum { S_ENCODE, S_PARSE_ENCODE, S_PARSE } s_work_t;

static size_t
s_work (s_work_t work, const char *text, size_t n, const json_t *value)
{
    switch (work) {
        case S_ENCODE:
            return s_encode_once (value);
        case S_PARSE_ENCODE:
            return s_parse_encode_once (text, n);
        default:
            return s_parse_once (text, n);
    }
}

//  Median MB/s (1 MB = 1e6 bytes of input JSON) over S_BATCHES batches that
//  together take about `seconds`; a short warm-up runs first.
static double
s_measure (s_work_t work, const char *text, size_t n, const json_t *value, double seconds)
{
    double batch = seconds / S_BATCHES, rates[S_BATCHES];
    volatile size_t sink = 0;
    double t0 = s_now ();
    while (s_now () - t0 < batch / 2)
        sink += s_work (work, text, n, value);
    for (int b = 0; b < S_BATCHES; b++) {
        long iters = 0;
        double start = s_now (), now;
        do {
            sink += s_work (work, text, n, value);
            iters++;
            now = s_now ();
        } while (now - start < batch);
        rates[b] = (double)n * (double)iters / (now - start) / 1e6;
    }
    (void)sink;
    qsort (rates, S_BATCHES, sizeof *rates, s_cmp_double);
    return rates[S_BATCHES / 2];
}

int
main (int argc, char **argv)
{
    if (argc < 4) {
        fprintf (stderr, "usage: bench_toon SECONDS OUT_DIR INPUT.json...\n");
        return 2;
    }
    double seconds = strtod (argv[1], NULL);
    if (seconds <= 0) seconds = 2;
    for (int i = 3; i < argc; i++) {
        size_t n;
        char *text = s_read_file (argv[i], &n);
        json_error_t error;
        json_t *value = text ? sb_toon_parse_json (text, n, &error) : NULL;
        if (!value) {
            fprintf (stderr, "bench_toon: cannot load %s\n", argv[i]);
            return 1;
        }
        const char *base = strrchr (argv[i], '/') ? strrchr (argv[i], '/') + 1 : argv[i];
        char name[256];
        snprintf (name, sizeof name, "%.*s", (int)(strlen (base) > 5 ? strlen (base) - 5 : 0),
                  base);

        size_t toon_len = 0;
        char *toon = sb_toon_encode (value, NULL, &toon_len);
        char path[4096];
        snprintf (path, sizeof path, "%s/%s.c.toon", argv[2], name);
        FILE *f = fopen (path, "wb");
        if (!toon || !f || fwrite (toon, 1, toon_len, f) != toon_len) {
            fprintf (stderr, "bench_toon: cannot write %s\n", path);
            return 1;
        }
        fclose (f);
        free (toon);

        double enc = s_measure (S_ENCODE, text, n, value, seconds);
        double full = s_measure (S_PARSE_ENCODE, text, n, value, seconds);
        double parse = s_measure (S_PARSE, text, n, value, seconds);
        printf ("{\"name\":\"%s\",\"json_bytes\":%zu,\"toon_bytes\":%zu,"
                "\"encode_mbps\":%.1f,\"parse_encode_mbps\":%.1f,\"parse_mbps\":%.1f}\n",
                name, n, toon_len, enc, full, parse);
        fflush (stdout);
        json_decref (value);
        free (text);
    }
    return 0;
}
