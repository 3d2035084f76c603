/*  sb-toon — reads one JSON value on stdin and prints it as TOON (sb_toon), for
    trying the encoder by hand and for scripts. The document is followed by one
    newline (none for an empty document) so that the output is a text file.  */

#include "sb_toon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Input larger than this is refused rather than read without bound.
#define S_MAX_INPUT ((size_t)256 * 1024 * 1024)

static void
s_usage (FILE *f)
{
    fprintf (f,
             "usage: sb-toon [--delimiter ,|tab|\\t||] [--indent N] [--max-output BYTES] "
             "[--stats]\n"
             "Reads JSON on stdin and writes TOON (spec v4.0) on stdout.\n"
             "  --delimiter  ',' (default), tab ('\\t', 'tab' or a TAB character) or '|'\n"
             "  --indent     spaces per level, 1..%d (default 2)\n"
             "  --max-output refuse output longer than BYTES (default %zu)\n"
             "  --stats      print JSON and TOON sizes on stderr\n",
             SB_TOON_MAX_INDENT, (size_t)SB_TOON_DEFAULT_MAX_OUTPUT);
}

static int
s_parse_delimiter (const char *arg, char *out)
{
    if (strcmp (arg, ",") == 0 || strcmp (arg, "comma") == 0)
        *out = ',';
    else if (strcmp (arg, "\t") == 0 || strcmp (arg, "\\t") == 0 || strcmp (arg, "tab") == 0)
        *out = '\t';
    else if (strcmp (arg, "|") == 0 || strcmp (arg, "pipe") == 0)
        *out = '|';
    else
        return -1;
    return 0;
}

static int
s_parse_size (const char *arg, long long min, long long max, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll (arg, &end, 10);
    if (errno || end == arg || *end != '\0' || v < min || v > max) return -1;
    *out = v;
    return 0;
}

//  Reads all of f into a heap buffer (caller frees), or NULL past S_MAX_INPUT.
static char *
s_read_all (FILE *f, size_t *len)
{
    size_t cap = 64 * 1024, n = 0;
    char *buf = malloc (cap);
    while (buf) {
        n += fread (buf + n, 1, cap - n, f);
        if (n < cap) break;
        if (cap >= S_MAX_INPUT) {
            fprintf (stderr, "sb-toon: input larger than %zu bytes\n", S_MAX_INPUT);
            free (buf);
            return NULL;
        }
        char *bigger = realloc (buf, cap * 2);
        if (!bigger) free (buf);
        buf = bigger;
        cap *= 2;
    }
    if (!buf || ferror (f)) {
        fprintf (stderr, "sb-toon: cannot read input\n");
        free (buf);
        return NULL;
    }
    *len = n;
    return buf;
}

int
main (int argc, char **argv)
{
    sb_toon_options_t opts;
    sb_toon_options_init (&opts);
    int stats = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        long long n;
        if (strcmp (a, "--help") == 0 || strcmp (a, "-h") == 0) {
            s_usage (stdout);
            return 0;
        } else if (strcmp (a, "--stats") == 0)
            stats = 1;
        else if (strcmp (a, "--delimiter") == 0 && val) {
            if (s_parse_delimiter (val, &opts.delimiter) != 0) {
                fprintf (stderr, "sb-toon: bad delimiter '%s'\n", val);
                return 2;
            }
            i++;
        } else if (strcmp (a, "--indent") == 0 && val) {
            if (s_parse_size (val, 1, SB_TOON_MAX_INDENT, &n) != 0) {
                fprintf (stderr, "sb-toon: bad indent '%s'\n", val);
                return 2;
            }
            opts.indent = (int)n;
            i++;
        } else if (strcmp (a, "--max-output") == 0 && val) {
            if (s_parse_size (val, 1, 1LL << 40, &n) != 0) {
                fprintf (stderr, "sb-toon: bad max-output '%s'\n", val);
                return 2;
            }
            opts.max_output = (size_t)n;
            i++;
        } else {
            s_usage (stderr);
            return 2;
        }
    }

    size_t len = 0;
    char *text = s_read_all (stdin, &len);
    if (!text) return 1;
    json_error_t error;
    json_t *value = sb_toon_parse_json (text, len, &error);
    free (text);
    if (!value) {
        fprintf (stderr, "sb-toon: invalid JSON at line %d column %d: %s\n", error.line,
                 error.column, error.text);
        return 1;
    }
    char *toon = NULL;
    size_t toon_len = 0;
    int rc = sb_toon_encode_ex (value, &opts, &toon, &toon_len);
    if (rc != SB_TOON_OK) {
        fprintf (stderr, "sb-toon: %s\n", sb_toon_strerror (rc));
        json_decref (value);
        return 1;
    }
    if (stats) {
        char *compact = json_dumps (value, JSON_COMPACT | JSON_ENCODE_ANY);
        size_t json_len = compact ? strlen (compact) : 0;
        fprintf (stderr, "json %zu bytes (compact), toon %zu bytes, %+.1f%%\n", json_len, toon_len,
                 json_len ? 100.0 * ((double)toon_len - (double)json_len) / (double)json_len : 0.0);
        free (compact);
    }
    json_decref (value);
    int ok = fwrite (toon, 1, toon_len, stdout) == toon_len;
    if (toon_len > 0) ok = ok && fputc ('\n', stdout) != EOF;
    free (toon);
    if (fflush (stdout) != 0 || !ok) {
        fprintf (stderr, "sb-toon: write failed\n");
        return 1;
    }
    return 0;
}
