/*  sb-autofix — AutoFix from the command line: reads the raw arguments of one tool
    call on stdin, validates (and in auto_fix mode repairs) them against the JSON
    Schema in SCHEMA_FILE, and prints one JSON report on stdout.

    Exit status: 0 the arguments are valid (as given or repaired), 1 they are not,
    2 usage, schema or I/O error.  */

#include "sb_autofix.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
s_usage (FILE *out)
{
    fprintf (out,
             "usage: sb-autofix [--mode validate_only|auto_fix] SCHEMA_FILE < ARGUMENTS\n"
             "Prints {\"valid\", \"arguments\", \"fixes\", \"errors\"}; see docs/autofix.md.\n");
}

//  Reads all of stdin, up to one byte more than AutoFix accepts (so that it can say
//  the input is too long). Caller owns the result.
static char *
s_read_stdin (size_t *len)
{
    size_t cap = 64 * 1024, n = 0;
    const size_t max = SB_AUTOFIX_MAX_INPUT + 1;
    char *buf = malloc (cap);
    while (buf) {
        size_t got = fread (buf + n, 1, cap - n, stdin);
        n += got;
        if (got == 0 || n >= max) break;
        if (n == cap) {
            size_t ncap = cap * 2 > max ? max : cap * 2;
            char *nb = realloc (buf, ncap);
            if (!nb) {
                free (buf);
                return NULL;
            }
            buf = nb;
            cap = ncap;
        }
    }
    if (buf && ferror (stdin)) {
        free (buf);
        return NULL;
    }
    *len = n;
    return buf;
}

int
main (int argc, char **argv)
{
    sb_autofix_mode_t mode = SB_AUTOFIX_AUTO_FIX;
    const char *schema_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp (argv[i], "--mode") == 0 && i + 1 < argc) {
            if (sb_autofix_mode_from_name (argv[++i], &mode)) {
                fprintf (stderr, "sb-autofix: unknown mode '%s'\n", argv[i]);
                return 2;
            }
        } else if (strncmp (argv[i], "--mode=", 7) == 0) {
            if (sb_autofix_mode_from_name (argv[i] + 7, &mode)) {
                fprintf (stderr, "sb-autofix: unknown mode '%s'\n", argv[i] + 7);
                return 2;
            }
        } else if (strcmp (argv[i], "-h") == 0 || strcmp (argv[i], "--help") == 0) {
            s_usage (stdout);
            return 0;
        } else if (argv[i][0] == '-' || schema_path) {
            s_usage (stderr);
            return 2;
        } else
            schema_path = argv[i];
    }
    if (!schema_path) {
        s_usage (stderr);
        return 2;
    }
    json_error_t jerr;
    json_t *doc = json_load_file (schema_path, JSON_DECODE_ANY, &jerr);
    if (!doc) {
        fprintf (stderr, "sb-autofix: %s: %s (line %d)\n", schema_path, jerr.text, jerr.line);
        return 2;
    }
    char err[256] = "";
    sb_schema_t *schema = sb_schema_new (doc, SB_DRAFT_AUTO, NULL, err, sizeof err);
    json_decref (doc);
    if (!schema) {
        fprintf (stderr, "sb-autofix: %s: invalid schema: %s\n", schema_path, err);
        return 2;
    }
    size_t len = 0;
    char *input = s_read_stdin (&len);
    if (!input) {
        fprintf (stderr, "sb-autofix: cannot read stdin\n");
        sb_schema_destroy (&schema);
        return 2;
    }
    sb_autofix_report_t *report = NULL;
    int status = 2;
    if (sb_autofix_run (input, len, schema, mode, &report) == 0) {
        char *text = sb_autofix_report_to_json (report, NULL);
        if (text) {
            puts (text);
            status = sb_autofix_report_valid (report) ? 0 : 1;
            free (text);
        }
    }
    if (status == 2) fprintf (stderr, "sb-autofix: out of memory\n");
    sb_autofix_report_destroy (&report);
    sb_schema_destroy (&schema);
    free (input);
    return status;
}
