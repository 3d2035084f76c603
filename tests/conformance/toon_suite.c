/*  toon_suite — runs every encode fixture of the official TOON conformance suite
    (every .json under shared/conformance/toon/fixtures/encode) through sb_toon and compares
    byte for byte. A new case is a new fixture, not new code.

    Fixture directory, first found: argv[1]; $SB_CONFORMANCE_DIR/toon or
    $SB_CONFORMANCE_DIR itself; the path compiled in as SB_TOON_CONFORMANCE_DIR
    (${CMAKE_SOURCE_DIR}/../shared/conformance/toon). No fixtures is a failure.  */

#include "sb_toon.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef SB_TOON_CONFORMANCE_DIR
#define SB_TOON_CONFORMANCE_DIR "../shared/conformance/toon"
#endif

#define S_MAX_FIXTURE ((size_t)16 * 1024 * 1024)
#define S_MAX_FILES   64

static int
s_is_dir (const char *path)
{
    struct stat st;
    return stat (path, &st) == 0 && S_ISDIR (st.st_mode);
}

//  Writes "<root>/fixtures/encode" into buf when that directory exists.
static int
s_encode_dir (const char *root, char *buf, size_t size)
{
    int n = snprintf (buf, size, "%s/fixtures/encode", root);
    return n > 0 && (size_t)n < size && s_is_dir (buf) ? 0 : -1;
}

static int
s_find_dir (int argc, char **argv, char *buf, size_t size)
{
    if (argc > 1) return s_encode_dir (argv[1], buf, size);
    const char *env = getenv ("SB_CONFORMANCE_DIR");
    if (env && *env) {
        char toon[4096];
        int n = snprintf (toon, sizeof toon, "%s/toon", env);
        if (n > 0 && (size_t)n < sizeof toon && s_encode_dir (toon, buf, size) == 0) return 0;
        if (s_encode_dir (env, buf, size) == 0) return 0;
        fprintf (stderr, "toon_suite: SB_CONFORMANCE_DIR=%s has no toon fixtures\n", env);
        return -1;
    }
    return s_encode_dir (SB_TOON_CONFORMANCE_DIR, buf, size);
}

static char *
s_read_file (const char *path, size_t *len)
{
    FILE *f = fopen (path, "rb");
    if (!f) return NULL;
    char *buf = malloc (S_MAX_FIXTURE);
    size_t n = buf ? fread (buf, 1, S_MAX_FIXTURE, f) : 0;
    int too_big = n == S_MAX_FIXTURE;
    fclose (f);
    if (!buf || too_big) {
        free (buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static int
s_cmp (const void *a, const void *b)
{
    return strcmp (*(char *const *)a, *(char *const *)b);
}

//  Prints a string with its control characters made visible, for diffs.
static void
s_show (const char *label, const char *s, size_t n)
{
    fprintf (stderr, "    %s: \"", label);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n')
            fputs ("\\n", stderr);
        else if (c == '\t')
            fputs ("\\t", stderr);
        else if (c < 0x20)
            fprintf (stderr, "\\x%02x", c);
        else
            fputc (c, stderr);
    }
    fputs ("\"\n", stderr);
}

//  Fills opts from a fixture's "options" object. Returns -1 for an option this
//  runner does not know, so a new option cannot be silently ignored.
static int
s_options (const json_t *options, sb_toon_options_t *opts)
{
    sb_toon_options_init (opts);
    if (!options) return 0;
    const char *key;
    json_t *v;
    json_object_foreach ((json_t *)options, key, v)
    {
        if (strcmp (key, "delimiter") == 0 && json_is_string (v) && json_string_length (v) == 1)
            opts->delimiter = json_string_value (v)[0];
        else if (strcmp (key, "indentSize") == 0 && json_is_number (v))
            opts->indent = (int)json_number_value (v);
        else
            return -1;
    }
    return 0;
}

//  Runs one fixture file; adds to *total and *passed.
static int
s_run_file (const char *path, int *total, int *passed)
{
    size_t len;
    char *text = s_read_file (path, &len);
    if (!text) {
        fprintf (stderr, "toon_suite: cannot read %s\n", path);
        return -1;
    }
    json_error_t error;
    json_t *doc = sb_toon_parse_json (text, len, &error);
    free (text);
    json_t *tests = doc ? json_object_get (doc, "tests") : NULL;
    if (!json_is_array (tests)) {
        fprintf (stderr, "toon_suite: %s: not a fixture file (%s)\n", path,
                 doc ? "no tests" : error.text);
        json_decref (doc);
        return -1;
    }
    const char *category = json_string_value (json_object_get (doc, "category"));
    if (!category || strcmp (category, "encode") != 0) {
        fprintf (stderr, "toon_suite: %s: category is not encode\n", path);
        json_decref (doc);
        return -1;
    }
    size_t i;
    json_t *test;
    json_array_foreach (tests, i, test)
    {
        const char *name = json_string_value (json_object_get (test, "name"));
        const char *expected = json_string_value (json_object_get (test, "expected"));
        json_t *input = json_object_get (test, "input");
        sb_toon_options_t opts;
        (*total)++;
        if (!name || !expected || !input ||
            s_options (json_object_get (test, "options"), &opts) != 0) {
            fprintf (stderr, "FAIL %s: malformed test #%zu\n", path, i);
            continue;
        }
        size_t out_len = 0;
        char *out = NULL;
        int rc = sb_toon_encode_ex (input, &opts, &out, &out_len);
        size_t exp_len = json_string_length (json_object_get (test, "expected"));
        if (rc == SB_TOON_OK && out_len == exp_len && memcmp (out, expected, exp_len) == 0)
            (*passed)++;
        else {
            fprintf (stderr, "FAIL %s: %s\n", strrchr (path, '/') + 1, name);
            if (rc != SB_TOON_OK)
                fprintf (stderr, "    error: %s\n", sb_toon_strerror (rc));
            else
                s_show ("got ", out, out_len);
            s_show ("want", expected, exp_len);
        }
        free (out);
    }
    json_decref (doc);
    return 0;
}

int
main (int argc, char **argv)
{
    char dir[4096];
    if (s_find_dir (argc, argv, dir, sizeof dir) != 0) {
        const char *env = getenv ("SB_CONFORMANCE_DIR");
        fprintf (stderr, "toon_suite: no TOON encode fixtures found (looked in %s)\n",
                 argc > 1      ? argv[1]
                 : env && *env ? env
                               : SB_TOON_CONFORMANCE_DIR);
        return 1;
    }
    DIR *d = opendir (dir);
    if (!d) {
        fprintf (stderr, "toon_suite: cannot open %s\n", dir);
        return 1;
    }
    char *files[S_MAX_FILES];
    size_t nfiles = 0;
    struct dirent *ent;
    while ((ent = readdir (d)) && nfiles < S_MAX_FILES) {
        size_t n = strlen (ent->d_name);
        if (n > 5 && strcmp (ent->d_name + n - 5, ".json") == 0)
            files[nfiles++] = strdup (ent->d_name);
    }
    closedir (d);
    qsort (files, nfiles, sizeof *files, s_cmp);

    int total = 0, passed = 0, broken = 0;
    for (size_t i = 0; i < nfiles; i++) {
        char path[8192];
        snprintf (path, sizeof path, "%s/%s", dir, files[i]);
        int before_total = total, before_passed = passed;
        if (!files[i] || s_run_file (path, &total, &passed) != 0)
            broken++;
        else
            printf ("  %-24s %d/%d\n", files[i], passed - before_passed, total - before_total);
        free (files[i]);
    }
    printf ("%d/%d encode fixtures (%s)\n", passed, total, dir);
    if (broken || total == 0 || passed != total) return 1;
    return 0;
}
