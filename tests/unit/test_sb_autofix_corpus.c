/*  test_sb_autofix_corpus — plays every case of tests/data/autofix/ (one file per
    case, format in tests/data/autofix/README.md) through sb_autofix_run and checks
    the arguments byte for byte, the fix kinds and the error keywords. Every repaired
    result must also come back unchanged when fed again (idempotence).
    Prints "N/N cases"; any failure fails the test.

    Usage: test_sb_autofix_corpus [DIR] [-v]  (DIR defaults to tests/data/autofix)  */

#include "sb_autofix.h"
#include "sb_jrepair.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CASES   2048
#define MAX_FILE    (1 << 20)
#define MAX_SCHEMAS 256

typedef struct {
    char *name;
    char *schema;
    char *input;
    size_t input_len;
    char *expect;     // NULL: the case expects a rejection
    int expect_input; // "=input": the arguments are the input, byte for byte
    char *fixes;      // space-separated kinds, or NULL when not checked
    char *errors;     // space-separated keywords that must appear, or NULL
    sb_autofix_mode_t mode;
} s_case_t;

typedef struct {
    char *text;
    sb_schema_t *schema;
} s_schema_entry_t;

static s_schema_entry_t s_schemas[MAX_SCHEMAS];
static size_t s_nschemas;
static int s_verbose;

static char *
s_read_file (const char *path, size_t *len)
{
    FILE *f = fopen (path, "rb");
    if (!f) return NULL;
    char *buf = malloc (MAX_FILE + 1);
    size_t n = buf ? fread (buf, 1, MAX_FILE, f) : 0;
    fclose (f);
    if (!buf) return NULL;
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

static char *
s_trimdup (const char *s, size_t n)
{
    while (n && strchr (" \t\r\n", s[n - 1]))
        n--;
    while (n && strchr (" \t\r\n", *s)) {
        s++;
        n--;
    }
    char *d = malloc (n + 1);
    memcpy (d, s, n);
    d[n] = 0;
    return d;
}

static int
s_set_section (s_case_t *c, const char *name, const char *sec, const char *body, size_t n)
{
    if (strcmp (sec, "schema") == 0)
        c->schema = s_trimdup (body, n);
    else if (strcmp (sec, "input") == 0) {
        c->input = malloc (n + 1);
        memcpy (c->input, body, n);
        c->input[n] = 0;
        c->input_len = n;
    } else if (strcmp (sec, "input_json") == 0) {
        //  Exact bytes given as one JSON string (trailing newlines, NULs...).
        json_error_t jerr;
        json_t *s = json_loadb (body, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        int ok = json_is_string (s);
        if (ok) {
            c->input_len = json_string_length (s);
            c->input = malloc (c->input_len + 1);
            memcpy (c->input, json_string_value (s), c->input_len + 1);
        }
        json_decref (s);
        if (!ok) {
            fprintf (stderr, "%s: input_json is not a JSON string\n", name);
            return -1;
        }
    } else if (strcmp (sec, "expect") == 0) {
        char *e = s_trimdup (body, n);
        if (strcmp (e, "null") == 0)
            free (e);
        else if (strcmp (e, "=input") == 0) {
            c->expect_input = 1;
            free (e);
        } else
            c->expect = e;
    } else if (strcmp (sec, "fixes") == 0)
        c->fixes = s_trimdup (body, n);
    else if (strcmp (sec, "errors") == 0)
        c->errors = s_trimdup (body, n);
    else if (strcmp (sec, "mode") == 0) {
        char *m = s_trimdup (body, n);
        int bad = sb_autofix_mode_from_name (m, &c->mode);
        free (m);
        if (bad) {
            fprintf (stderr, "%s: unknown mode\n", name);
            return -1;
        }
    } else if (strcmp (sec, "tags") != 0 && strcmp (sec, "note") != 0) {
        fprintf (stderr, "%s: unknown section '%s'\n", name, sec);
        return -1;
    }
    return 0;
}

//  Splits a case file into its sections: a line "@@ NAME" starts one, whose text
//  runs to the newline before the next such line (or to the end of the file, less
//  one final newline). Lines before the first section are comments.
static int
s_parse_case (const char *dir, const char *name, s_case_t *c)
{
    char path[4096];
    snprintf (path, sizeof path, "%s/%s", dir, name);
    size_t len;
    char *text = s_read_file (path, &len);
    if (!text) {
        fprintf (stderr, "%s: cannot read\n", name);
        return -1;
    }
    memset (c, 0, sizeof *c);
    c->name = strdup (name);
    int rc = 0;
    char sec[64] = "";
    const char *body = NULL;
    const char *line = text;
    while (line <= text + len) {
        int is_marker = strncmp (line, "@@ ", 3) == 0;
        const char *eol = memchr (line, '\n', (size_t)(text + len - line));
        if (is_marker || line == text + len) {
            if (body) {
                const char *body_end = line > body ? line - 1 : body;
                if (line == text + len && (len == 0 || text[len - 1] != '\n'))
                    body_end = text + len;
                if (s_set_section (c, name, sec, body, (size_t)(body_end - body))) rc = -1;
            }
            if (line == text + len) break;
            const char *end = eol ? eol : text + len;
            char *s = s_trimdup (line + 3, (size_t)(end - line - 3));
            snprintf (sec, sizeof sec, "%s", s);
            free (s);
            body = eol ? eol + 1 : text + len;
        }
        if (!eol)
            line = text + len;
        else
            line = eol + 1;
    }
    free (text);
    if (!c->schema || !c->input) {
        fprintf (stderr, "%s: needs @@ schema and @@ input\n", name);
        rc = -1;
    }
    return rc;
}

static sb_schema_t *
s_schema_for (const char *dir, const char *text)
{
    for (size_t i = 0; i < s_nschemas; i++)
        if (strcmp (s_schemas[i].text, text) == 0) return s_schemas[i].schema;
    if (s_nschemas == MAX_SCHEMAS) return NULL;
    json_error_t jerr;
    json_t *doc;
    if (text[0] == '@') {
        char path[4096];
        snprintf (path, sizeof path, "%s/schemas/%s.json", dir, text + 1);
        doc = json_load_file (path, 0, &jerr);
    } else
        doc = json_loads (text, JSON_DECODE_ANY, &jerr);
    if (!doc) {
        fprintf (stderr, "schema does not parse: %s\n", jerr.text);
        return NULL;
    }
    char err[256] = "";
    sb_schema_t *schema = sb_schema_new (doc, SB_DRAFT_AUTO, NULL, err, sizeof err);
    json_decref (doc);
    if (!schema) {
        fprintf (stderr, "schema does not compile: %s\n", err);
        return NULL;
    }
    s_schemas[s_nschemas].text = strdup (text);
    s_schemas[s_nschemas++].schema = schema;
    return schema;
}

//  Copies the next space-separated word of *at into w; 0 at the end.
static int
s_next_word (const char **at, char *w, size_t size)
{
    const char *p = *at;
    while (*p && strchr (" \t\n", *p))
        p++;
    size_t n = 0;
    while (p[n] && !strchr (" \t\n", p[n]))
        n++;
    if (n == 0) return 0;
    snprintf (w, size, "%.*s", (int)n, p);
    *at = p + n;
    return 1;
}

//  1 when every word of `want` is a kind in the report and (exact) vice versa.
static int
s_same_fix_kinds (const sb_autofix_report_t *r, const char *want, char *got, size_t got_size)
{
    got[0] = 0;
    size_t used = 0;
    for (size_t i = 0; i < sb_autofix_report_fix_count (r); i++) {
        const char *k = sb_autofix_report_fix_kind (r, i);
        int n = snprintf (got + used, got_size - used, "%s%s@%s", used ? " " : "", k,
                          sb_autofix_report_fix_path (r, i));
        if (n > 0 && (size_t)n < got_size - used) used += (size_t)n;
    }
    if (strcmp (want, "none") == 0) return sb_autofix_report_fix_count (r) == 0;
    //  Each wanted kind appears...
    int ok = 1;
    char w[64];
    for (const char *at = want; s_next_word (&at, w, sizeof w);) {
        int found = 0;
        for (size_t i = 0; i < sb_autofix_report_fix_count (r) && !found; i++)
            found = strcmp (sb_autofix_report_fix_kind (r, i), w) == 0;
        if (!found) ok = 0;
    }
    //  ...and no other kind does.
    for (size_t i = 0; i < sb_autofix_report_fix_count (r) && ok; i++) {
        const char *k = sb_autofix_report_fix_kind (r, i);
        size_t kl = strlen (k);
        const char *at = want;
        int found = 0;
        while ((at = strstr (at, k)) && !found) {
            int starts = at == want || strchr (" \t\n", at[-1]);
            int ends = at[kl] == 0 || strchr (" \t\n", at[kl]);
            found = starts && ends;
            at += kl;
        }
        if (!found) ok = 0;
    }
    return ok;
}

static int
s_has_error_keywords (const sb_autofix_report_t *r, const char *want)
{
    int ok = 1;
    char w[64];
    for (const char *at = want; s_next_word (&at, w, sizeof w);) {
        int found = 0;
        for (size_t i = 0; i < sb_autofix_report_error_count (r) && !found; i++)
            found = strcmp (sb_autofix_report_error_keyword (r, i), w) == 0;
        if (!found) ok = 0;
    }
    return ok;
}

static int
s_check (const char *dir, const s_case_t *c)
{
    sb_schema_t *schema = s_schema_for (dir, c->schema);
    if (!schema) {
        fprintf (stderr, "FAIL %s: bad schema\n", c->name);
        return 0;
    }
    sb_autofix_report_t *r = NULL;
    if (sb_autofix_run (c->input, c->input_len, schema, c->mode, &r)) {
        fprintf (stderr, "FAIL %s: out of memory\n", c->name);
        return 0;
    }
    int ok = 1;
    const char *why = "";
    size_t got_len;
    const char *got = sb_autofix_report_arguments (r, &got_len);
    if (c->expect || c->expect_input) {
        const char *want = c->expect ? c->expect : c->input;
        size_t want_len = c->expect ? strlen (c->expect) : c->input_len;
        if (!got || got_len != want_len || memcmp (got, want, want_len) != 0) {
            ok = 0;
            why = "arguments differ";
        } else if (!sb_autofix_report_valid (r)) {
            ok = 0;
            why = "not valid";
        }
    } else if (got || sb_autofix_report_valid (r)) {
        ok = 0;
        why = "accepted, should be rejected";
    }
    char fixes[4096];
    if (ok && c->fixes && !s_same_fix_kinds (r, c->fixes, fixes, sizeof fixes)) {
        ok = 0;
        why = "fix kinds differ";
    } else if (!c->fixes)
        s_same_fix_kinds (r, "none", fixes, sizeof fixes);
    if (ok && c->errors && !s_has_error_keywords (r, c->errors)) {
        ok = 0;
        why = "error keywords differ";
    }
    //  What AutoFix releases, fed again, must pass unchanged.
    if (ok && got && c->mode == SB_AUTOFIX_AUTO_FIX) {
        sb_autofix_report_t *again = NULL;
        if (sb_autofix_run (got, got_len, schema, SB_AUTOFIX_AUTO_FIX, &again) == 0) {
            if (!sb_autofix_report_valid (again) || !sb_autofix_report_unchanged (again)) {
                ok = 0;
                why = "its output is not a fixed point";
            }
        }
        sb_autofix_report_destroy (&again);
    }
    if (!ok || s_verbose) {
        char *report = sb_autofix_report_to_json (r, NULL);
        fprintf (stderr, "%s %s: %s\n  input:  %.*s\n  expect: %s\n  report: %s\n  fixes:  %s\n",
                 ok ? "ok" : "FAIL", c->name, why, (int)(c->input_len > 400 ? 400 : c->input_len),
                 c->input,
                 c->expect         ? c->expect
                 : c->expect_input ? "=input"
                                   : "null",
                 report ? report : "?", fixes);
        free (report);
    }
    sb_autofix_report_destroy (&r);
    return ok;
}

static int
s_name_cmp (const void *a, const void *b)
{
    return strcmp (*(char *const *)a, *(char *const *)b);
}

int
main (int argc, char **argv)
{
    const char *dir = "tests/data/autofix";
    for (int i = 1; i < argc; i++) {
        if (strcmp (argv[i], "-v") == 0)
            s_verbose = 1;
        else
            dir = argv[i];
    }
    DIR *d = opendir (dir);
    if (!d) {
        fprintf (stderr, "cannot open %s\n", dir);
        return 1;
    }
    static char *names[MAX_CASES];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir (d)) && n < MAX_CASES) {
        size_t l = strlen (e->d_name);
        if (l > 5 && strcmp (e->d_name + l - 5, ".case") == 0) names[n++] = strdup (e->d_name);
    }
    closedir (d);
    qsort (names, n, sizeof names[0], s_name_cmp);
    size_t passed = 0, accepted = 0, rejected = 0;
    for (size_t i = 0; i < n; i++) {
        s_case_t c;
        int ok = s_parse_case (dir, names[i], &c) == 0 && s_check (dir, &c);
        passed += (size_t)ok;
        if (c.expect || c.expect_input)
            accepted++;
        else
            rejected++;
        free (c.name);
        free (c.schema);
        free (c.input);
        free (c.expect);
        free (c.fixes);
        free (c.errors);
        free (names[i]);
    }
    for (size_t i = 0; i < s_nschemas; i++) {
        free (s_schemas[i].text);
        sb_schema_destroy (&s_schemas[i].schema);
    }
    printf ("autofix corpus: %zu/%zu cases (%zu to repair or pass, %zu to reject)\n", passed, n,
            accepted, rejected);
    printf ("%zu passed, %zu failed\n", passed, n - passed);
    return (passed == n && n >= 150) ? 0 : 1;
}
