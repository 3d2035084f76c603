/*  test_sb_jrepair — the lenient parser's own guarantees, beyond the corpus: fix
    names, fix paths (JSON Pointer escaping), lexemes and key order kept, strict mode,
    the depth, memory and step limits, the value API and the jansson conversion.  */

#include "sb_jrepair.h"
#include "sb_test.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    char text[2048];
    size_t n;
} s_fixlog_t;

static void
s_log_fix (void *arg, sb_fix_kind_t kind, const char *path)
{
    s_fixlog_t *log = arg;
    int w = snprintf (log->text + log->n, sizeof log->text - log->n, "%s%s@%s", log->n ? " " : "",
                      sb_fix_kind_name (kind), path);
    if (w > 0 && (size_t)w < sizeof log->text - log->n) log->n += (size_t)w;
}

//  Parses `in` and returns the compact JSON (static buffer) or "REJECT: why".
static const char *
s_parse (const char *in, unsigned flags, s_fixlog_t *log)
{
    static char out[4096];
    sb_jdoc_t *doc = sb_jdoc_new (0);
    char err[256];
    if (log) memset (log, 0, sizeof *log);
    sb_jval_t *v = sb_jrepair_parse (doc, in, strlen (in), flags, NULL, log ? s_log_fix : NULL, log,
                                     err, sizeof err);
    if (!v)
        snprintf (out, sizeof out, "REJECT: %s", err);
    else {
        char *j = sb_jval_to_json (v, NULL);
        snprintf (out, sizeof out, "%s", j ? j : "(null)");
        free (j);
    }
    sb_jdoc_destroy (&doc);
    return out;
}

static const unsigned LENIENT = SB_JREPAIR_EXTRACT | SB_JREPAIR_TRUNCATION;

static void
s_test_names (void)
{
    printf ("fix kind names round-trip\n");
    for (int k = 0; k < SB_FIX_KIND_COUNT_; k++) {
        const char *name = sb_fix_kind_name ((sb_fix_kind_t)k);
        CHECK (name && strcmp (name, "unknown") != 0);
        CHECK (sb_fix_kind_from_name (name) == k);
    }
    CHECK (sb_fix_kind_from_name ("no_such_fix") == -1);
    CHECK (strcmp (sb_fix_kind_name (SB_FIX_KIND_COUNT_), "unknown") == 0);
}

static void
s_test_lexemes_and_order (void)
{
    printf ("lexemes, key order, escapes\n");
    CHECK_STR (
        s_parse ("{\"z\": 1.0, \"a\": 1e5, \"m\": -0, \"b\": 1.50E-3}", SB_JREPAIR_STRICT, NULL),
        "{\"z\":1.0,\"a\":1e5,\"m\":-0,\"b\":1.50E-3}");
    CHECK_STR (s_parse ("{\"k9\":1,\"k1\":2,\"k5\":3,\"k0\":4}", 0, NULL),
               "{\"k9\":1,\"k1\":2,\"k5\":3,\"k0\":4}");
    //  Escapes decode; output escapes only what JSON requires; non-ASCII raw.
    CHECK_STR (s_parse ("{\"a\": \"\\u00e9\\/\\u001F\\t\\\"\"}", SB_JREPAIR_STRICT, NULL),
               "{\"a\":\"\xc3\xa9/\\u001F\\t\\\"\"}");
    //  NUL survives (length-counted strings).
    CHECK_STR (s_parse ("{\"a\":\"x\\u0000y\"}", SB_JREPAIR_STRICT, NULL), "{\"a\":\"x\\u0000y\"}");
}

static void
s_test_paths (void)
{
    printf ("fix paths are JSON Pointers\n");
    s_fixlog_t log;
    CHECK_STR (s_parse ("{'a': {'b c/d~': 'x'}}", LENIENT, &log), "{\"a\":{\"b c/d~\":\"x\"}}");
    CHECK (strstr (log.text, "single_quotes@/a/b c~1d~0") != NULL);
    CHECK (strstr (log.text, "single_quotes@/a ") != NULL);
    CHECK_STR (s_parse ("{\"l\": [1, 2, 'x', {k: 1,}]}", LENIENT, &log),
               "{\"l\":[1,2,\"x\",{\"k\":1}]}");
    CHECK_STR (log.text, "single_quotes@/l/2 unquoted_key@/l/3/k trailing_comma@/l/3");
    //  The same repair at the same spot is reported once.
    CHECK_STR (s_parse ("{\"a\": \"x\ny\nz\"}", LENIENT, &log), "{\"a\":\"x\\ny\\nz\"}");
    CHECK_STR (log.text, "control_char@/a");
    //  A prefix is put before every path (used for strings parsed inside a value).
    sb_jdoc_t *doc = sb_jdoc_new (0);
    memset (&log, 0, sizeof log);
    CHECK (sb_jrepair_parse (doc, "{'k': 1}", 8, 0, "/outer/0", s_log_fix, &log, NULL, 0));
    CHECK_STR (log.text, "single_quotes@/outer/0/k");
    sb_jdoc_destroy (&doc);
}

static void
s_test_strict (void)
{
    printf ("strict mode names the repair a text needs\n");
    CHECK_STR (s_parse ("[1, \"a\", null, true]", SB_JREPAIR_STRICT, NULL), "[1,\"a\",null,true]");
    CHECK_STR (s_parse ("\"just a string\"", SB_JREPAIR_STRICT, NULL), "\"just a string\"");
    CHECK_STR (s_parse ("42", SB_JREPAIR_STRICT, NULL), "42");
    const char *r = s_parse ("{'a': 1}", SB_JREPAIR_STRICT, NULL);
    CHECK (strstr (r, "REJECT: not strict JSON (single_quotes)") == r);
    r = s_parse ("{\"a\": 1,}", SB_JREPAIR_STRICT, NULL);
    CHECK (strstr (r, "trailing_comma") != NULL);
    r = s_parse ("{\"a\": 1", SB_JREPAIR_STRICT, NULL);
    CHECK (strstr (r, "REJECT: unexpected end of input") == r);
    r = s_parse ("```json\n{}\n```", SB_JREPAIR_STRICT, NULL);
    CHECK (strncmp (r, "REJECT", 6) == 0);
    //  Without EXTRACT the value must start the text; without TRUNCATION it must end.
    CHECK (strncmp (s_parse ("Sure: {\"a\": 1}", 0, NULL), "REJECT", 6) == 0);
    CHECK (strncmp (s_parse ("{\"a\": [1", 0, NULL), "REJECT", 6) == 0);
    CHECK_STR (s_parse ("{\"a\": [1 ", SB_JREPAIR_TRUNCATION, NULL), "{\"a\":[1]}");
}

static void
s_test_limits (void)
{
    printf ("depth, memory and step limits\n");
    char deep[1024];
    size_t n = 0;
    for (int i = 0; i < SB_JREPAIR_MAX_DEPTH; i++)
        deep[n++] = '[';
    for (int i = 0; i < SB_JREPAIR_MAX_DEPTH; i++)
        deep[n++] = ']';
    deep[n] = 0;
    CHECK (strncmp (s_parse (deep, 0, NULL), "[[", 2) == 0);
    n = 0;
    for (int i = 0; i < SB_JREPAIR_MAX_DEPTH + 2; i++)
        deep[n++] = '[';
    for (int i = 0; i < SB_JREPAIR_MAX_DEPTH + 2; i++)
        deep[n++] = ']';
    deep[n] = 0;
    CHECK (strstr (s_parse (deep, 0, NULL), "REJECT: nesting too deep") != NULL);

    //  A document too small for the value: rejected, not crashed.
    sb_jdoc_t *small = sb_jdoc_new (1024);
    char big[8192];
    n = 0;
    big[n++] = '[';
    for (int i = 0; i < 1000; i++) {
        big[n++] = '1';
        big[n++] = ',';
    }
    big[n - 1] = ']';
    char err[128];
    CHECK (sb_jrepair_parse (small, big, n, 0, NULL, NULL, NULL, err, sizeof err) == NULL);
    CHECK (strstr (err, "memory") != NULL);
    sb_jdoc_destroy (&small);

    //  Large inputs, valid and broken, finish quickly (linear parse, bounded
    //  backtracking).
    size_t size = 1 << 20;
    char *text = malloc (size + 64);
    size_t at = 0;
    text[at++] = '{';
    for (int i = 0; at < size; i++)
        at += (size_t)snprintf (text + at, 64, "\"k%d\": \"v \\\"%d\\\"\", ", i, i);
    memcpy (text + at, "\"end\": 1}", 10);
    at += 9;
    clock_t t0 = clock ();
    sb_jdoc_t *doc = sb_jdoc_new (0);
    CHECK (sb_jrepair_parse (doc, text, at, LENIENT, NULL, NULL, NULL, err, sizeof err) != NULL);
    sb_jdoc_destroy (&doc);
    //  The same with an unrepairable error at the very end: every choice point is
    //  revisited, and the parse still ends (rejected) within its budget.
    text[at - 1] = '@';
    doc = sb_jdoc_new (0);
    CHECK (sb_jrepair_parse (doc, text, at, LENIENT, NULL, NULL, NULL, err, sizeof err) == NULL);
    sb_jdoc_destroy (&doc);
    //  Strings full of stray quotes followed by commas: each is a choice point.
    at = 0;
    text[at++] = '{';
    text[at++] = '"';
    text[at++] = 'a';
    text[at++] = '"';
    text[at++] = ':';
    text[at++] = '"';
    while (at < size)
        at += (size_t)snprintf (text + at, 64, "x\", y\", ");
    doc = sb_jdoc_new (0);
    sb_jrepair_parse (doc, text, at, LENIENT, NULL, NULL, NULL, err, sizeof err);
    sb_jdoc_destroy (&doc);
    double secs = (double)(clock () - t0) / CLOCKS_PER_SEC;
    printf ("  3 MiB of large inputs in %.2f s\n", secs);
    CHECK (secs < 10.0);
    free (text);
}

static void
s_test_values (void)
{
    printf ("value API and jansson conversion\n");
    sb_jdoc_t *doc = sb_jdoc_new (0);
    sb_jval_t *o = sb_jval_new_object (doc);
    sb_jval_t *a = sb_jval_new_array (doc);
    CHECK (sb_jval_array_append (doc, a, sb_jval_new_number (doc, "12345678901234567890123", 23)) ==
           0);
    CHECK (sb_jval_array_append (doc, a, sb_jval_new_bool (doc, 1)) == 0);
    CHECK (sb_jval_object_append (doc, o, "a\0b", 3, a) == 0);
    CHECK (sb_jval_object_append (doc, o, "s", 1, sb_jval_new_string (doc, "x\"y", 3)) == 0);
    CHECK (sb_jval_object_append (doc, o, "n", 1, sb_jval_new_null (doc)) == 0);
    char *j = sb_jval_to_json (o, NULL);
    CHECK_STR (j, "{\"a\\u0000b\":[12345678901234567890123,true],\"s\":\"x\\\"y\",\"n\":null}");
    free (j);
    CHECK (sb_jval_size (o) == 3);
    CHECK (sb_jval_get (o, "s", 1) != NULL && sb_jval_get (o, "t", 1) == NULL);
    size_t kl;
    CHECK (memcmp (sb_jval_key_at (o, 0, &kl), "a\0b", 3) == 0 && kl == 3);
    sb_jval_set_at (o, 2, sb_jval_new_number (doc, "7", 1));
    json_t *jj = sb_jval_to_jansson (o);
    CHECK (jj != NULL);
    //  An integer beyond json_int_t becomes a real rather than failing.
    json_t *big = json_array_get (json_object_getn (jj, "a\0b", 3), 0);
    CHECK (json_is_real (big));
    CHECK (json_integer_value (json_object_get (jj, "n")) == 7);
    json_decref (jj);
    //  1e999 has no double: no conversion.
    sb_jval_t *inf = sb_jval_new_number (doc, "1e999", 5);
    CHECK (sb_jval_to_jansson (inf) == NULL);
    sb_jdoc_destroy (&doc);
    sb_jdoc_destroy (&doc); // NULL-safe
}

static void
s_test_readings (void)
{
    printf ("ambiguous readings: backtracking picks the one that parses\n");
    s_fixlog_t log;
    //  ", then": the quote is data because '"then' does not parse as a member.
    CHECK_STR (s_parse ("{\"t\": \"He said \"hi\", then left\"}", LENIENT, &log),
               "{\"t\":\"He said \\\"hi\\\", then left\"}");
    //  '}' for ']' vs missing ']': the rest decides.
    CHECK_STR (s_parse ("{\"a\": [1, 2}, \"b\": 3}", LENIENT, &log), "{\"a\":[1,2],\"b\":3}");
    CHECK_STR (log.text, "mismatched_closer@/a");
    CHECK_STR (s_parse ("{\"a\": [1, 2}", LENIENT, &log), "{\"a\":[1,2]}");
    CHECK_STR (log.text, "missing_closer@/a");
    //  A stray quote before ':' means a key was swallowed: no reading.
    CHECK (strncmp (s_parse ("{\"a\": \"x\"} {\"b\": 1}", LENIENT, NULL), "REJECT", 6) == 0);
    //  Truncated text with stray quotes has no trusted reading.
    CHECK (strncmp (s_parse ("{\"t\": \"He said \"hi\", then", LENIENT, NULL), "REJECT", 6) == 0);
    //  A number the text ends on may be cut; after a delimiter it is whole.
    CHECK_STR (s_parse ("{\"a\": 1, \"n\": 12", LENIENT, NULL), "{\"a\":1}");
    CHECK_STR (s_parse ("{\"a\": 1, \"n\": 12 ", LENIENT, NULL), "{\"a\":1,\"n\":12}");
}

int
main (void)
{
    s_test_names ();
    s_test_lexemes_and_order ();
    s_test_paths ();
    s_test_strict ();
    s_test_limits ();
    s_test_values ();
    s_test_readings ();
    return SB_TEST_DONE ();
}
