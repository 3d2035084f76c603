/*  test_sb_toon — the TOON encoder's own behaviour beyond the conformance
    fixtures: number forms outside the fixtures, option validation, output
    bounds, depth limits, the caller-buffer variant, the gateway helper, and
    concurrent use from several threads.  */

#include "sb_toon.h"
#include "sb_test.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

//  Encodes JSON text with the given delimiter and indent (0 = defaults).
//  Returns a heap string, or NULL when parsing or encoding failed.
static char *
s_enc (const char *json, char delim, int indent)
{
    json_t *v = sb_toon_parse_json (json, strlen (json), NULL);
    if (!v) return NULL;
    sb_toon_options_t o = {.delimiter = delim, .indent = indent};
    char *out = sb_toon_encode (v, &o, NULL);
    json_decref (v);
    return out;
}

//  CHECK_STR for a heap result, freeing it.
#define CHECK_ENC(json, delim, indent, want)                                                       \
    do {                                                                                           \
        char *got_ = s_enc (json, delim, indent);                                                  \
        CHECK_STR (got_, want);                                                                    \
        free (got_);                                                                               \
    } while (0)

static void
s_test_numbers (void)
{
    printf ("numbers: canonical forms, JavaScript-identical outside the fixtures\n");
    CHECK_ENC ("[1.0, -0.0, -0, 1e6, 1.5000, 0.1, 123.456]", 0, 0,
               "[7]: 1,0,0,1000000,1.5,0.1,123.456");
    //  Outside 1e-6 <= |n| < 1e21 the exponent form, lowercase e, explicit sign.
    CHECK_ENC ("[1e21, 1.5e-7, -2e-7, 1e-6, 9.99e20]", 0, 0,
               "[5]: 1e+21,1.5e-7,-2e-7,0.000001,999000000000000000000");
    CHECK_ENC ("[1.7976931348623157e308, 5e-324, 2.2250738585072014e-308]", 0, 0,
               "[3]: 1.7976931348623157e+308,5e-324,2.2250738585072014e-308");
    //  Shortest digits that read back to the same double.
    CHECK_ENC ("[0.30000000000000004, 3.141592653589793, 9007199254740993.0]", 0, 0,
               "[3]: 0.30000000000000004,3.141592653589793,9007199254740992");
    //  64-bit integers stay exact; beyond 64 bits the document falls back to doubles.
    CHECK_ENC ("[9223372036854775807, -9223372036854775808]", 0, 0,
               "[2]: 9223372036854775807,-9223372036854775808");
    CHECK_ENC ("{\"big\": 123456789012345678901234, \"small\": 7}", 0, 0,
               "big: 1.2345678901234569e+23\nsmall: 7");
    //  json_real refuses NaN/Infinity, so a jansson value can never hold them.
    CHECK (json_real (NAN) == NULL);
}

static void
s_test_strings_and_keys (void)
{
    printf ("strings and keys: quoting, escapes, NUL, BOM\n");
    json_t *v = json_stringn ("a\0b\x7f", 4);
    char *out = sb_toon_encode (v, NULL, NULL);
    CHECK_STR (out, "\"a\\u0000b\x7f\"");
    free (out);
    json_decref (v);
    //  A BOM would be stripped by a decoder at the start of the document only.
    CHECK_ENC ("\"\xEF\xBB\xBFhi\"", 0, 0, "\"\xEF\xBB\xBFhi\"");
    CHECK_ENC ("{\"k\": \"\xEF\xBB\xBFhi\"}", 0, 0, "k: \xEF\xBB\xBFhi");
    //  The document delimiter decides quoting of field values; others are data.
    CHECK_ENC ("{\"a\": \"x|y\", \"b\": \"x,y\"}", '|', 0, "a: \"x|y\"\nb: x,y");
    CHECK_ENC ("{\"a\": \"x\\ty\"}", '\t', 0, "a: \"x\\ty\"");
    CHECK_ENC ("[\"TRUE\", \"Null\", \"1.\", \".5\", \"1e\", \"0x10\", \"e5\"]", 0, 0,
               "[7]: TRUE,Null,1.,.5,1e,0x10,e5");
    CHECK_ENC ("[\"1E+5\", \"-0\", \"+0.5\", \"a b\", \"x#\", \"x-\"]", 0, 0,
               "[6]: \"1E+5\",\"-0\",\"+0.5\",a b,x#,x-");
    CHECK_ENC ("{\"a.b\": 1, \"_x9\": 2, \"9x\": 3, \"é\": 4, \"a b\": 5}", 0, 0,
               "a.b: 1\n_x9: 2\n\"9x\": 3\n\"é\": 4\n\"a b\": 5");
    CHECK_ENC ("{\"q\": \"\\u001f\\\\\\\"\\r\"}", 0, 0, "q: \"\\u001f\\\\\\\"\\r\"");
}

static void
s_test_structure (void)
{
    printf ("structure: key order, tabular order, keyed forms, list items\n");
    CHECK_ENC ("{\"z\": 1, \"a\": 2, \"m\": 3}", 0, 0, "z: 1\na: 2\nm: 3");
    //  Duplicate keys: first position, last value (as JSON.parse).
    CHECK_ENC ("{\"a\": 1, \"b\": 2, \"a\": 3}", 0, 0, "a: 3\nb: 2");
    CHECK_ENC ("[{\"a\": 1, \"b\": 2}, {\"b\": 3, \"a\": 4}]", 0, 0, "[2]{a,b}:\n  1,2\n  4,3");
    CHECK_ENC ("{\"t\": [{\"a\": {\"x\": 1, \"y\": 2}}, {\"a\": {\"y\": 3, \"x\": 4}}]}", '\t', 4,
               "t[2\t]{a{x\ty}}:\n    1\t2\n    4\t3");
    //  Keyed form needs two entries; a keyed-eligible list item stays nested.
    CHECK_ENC ("{\"one\": {\"x\": 1}}", 0, 0, "one:\n  x: 1");
    CHECK_ENC ("[{\"p\": {\"x\": 1}, \"q\": {\"x\": 2}}, 5]", 0, 0,
               "[2]:\n  - p:\n      x: 1\n    q:\n      x: 2\n  - 5");
    //  ...while a uniform array of such objects is tabular with field groups.
    CHECK_ENC ("[{\"p\": {\"x\": 1}, \"q\": {\"x\": 2}}]", 0, 0, "[1]{p{x},q{x}}:\n  1,2");
    CHECK_ENC ("{\"m\": {\"a\": {\"x\": 1}, \"b\": {\"x\": 2}}, \"n\": 0}", '|', 0,
               "m[2:|]{x}:\n  a: 1\n  b: 2\nn: 0");
    //  Arrays inside list items: keyless inner arrays never use tabular form.
    CHECK_ENC ("[[{\"a\": 1}, {\"a\": 2}], [[1], []]]", 0, 0,
               "[2]:\n  - [2]:\n    - a: 1\n    - a: 2\n  - [2]:\n    - [1]: 1\n    - [0]:");
    CHECK_ENC ("[{\"k\": [[1, 2]], \"z\": {}}]", 0, 0, "[1]:\n  - k[1]:\n      - [2]: 1,2\n    z:");
    CHECK_ENC ("[[]]", '|', 0, "[1|]:\n  - [0|]:");
    CHECK_ENC ("{}", 0, 0, "");
    CHECK_ENC ("{\"a\": {}}", 0, 3, "a:");
    CHECK_ENC ("{\"a\": {\"b\": {\"c\": 1}}}", 0, 3, "a:\n   b:\n      c: 1");
}

static void
s_test_options (void)
{
    printf ("options: validation and defaults\n");
    json_t *v = json_pack ("{s:i}", "a", 1);
    sb_toon_options_t o;
    char *out = (char *)1;
    size_t len = 99;
    sb_toon_options_init (&o);
    CHECK (o.delimiter == ',' && o.indent == 2 && o.max_output == SB_TOON_DEFAULT_MAX_OUTPUT &&
           o.max_depth == SB_TOON_DEFAULT_MAX_DEPTH);
    o.delimiter = ';';
    CHECK (sb_toon_encode_ex (v, &o, &out, &len) == SB_TOON_EINVAL && out == NULL && len == 0);
    sb_toon_options_init (&o);
    o.indent = SB_TOON_MAX_INDENT + 1;
    CHECK (sb_toon_encode_ex (v, &o, &out, &len) == SB_TOON_EINVAL);
    o.indent = -1;
    CHECK (sb_toon_encode_ex (v, &o, &out, &len) == SB_TOON_EINVAL);
    sb_toon_options_init (&o);
    o.max_depth = SB_TOON_MAX_DEPTH + 1;
    CHECK (sb_toon_encode_ex (v, &o, &out, &len) == SB_TOON_EINVAL);
    CHECK (sb_toon_encode_ex (NULL, NULL, &out, &len) == SB_TOON_EINVAL && out == NULL);
    CHECK (sb_toon_encode (NULL, NULL, &len) == NULL && len == 0);
    //  A zeroed struct means every default.
    sb_toon_options_t zero = {0};
    out = sb_toon_encode (v, &zero, &len);
    CHECK_STR (out, "a: 1");
    CHECK (len == 4);
    free (out);
    CHECK (strcmp (sb_toon_strerror (SB_TOON_ETOOBIG), sb_toon_strerror (SB_TOON_EDEPTH)) != 0);
    CHECK (strcmp (sb_toon_strerror (12345), "unknown TOON status") == 0);
    json_decref (v);
}

static void
s_test_bounds (void)
{
    printf ("bounds: max_output exact edge, caller buffer, depth limit\n");
    const char *json = "{\"rows\":[{\"a\":1,\"b\":\"x\"},{\"a\":2,\"b\":\"y\"}]}";
    json_t *v = sb_toon_parse_json (json, strlen (json), NULL);
    const char *want = "rows[2]{a,b}:\n  1,x\n  2,y";
    size_t want_len = strlen (want);
    sb_toon_options_t o;
    sb_toon_options_init (&o);
    char *out;
    size_t len;
    CHECK (v != NULL);
    //  Every bound from 1 byte up: refused below the length, identical at and above.
    for (size_t max = 1; max <= want_len + 2; max++) {
        o.max_output = max;
        int rc = sb_toon_encode_ex (v, &o, &out, &len);
        if (max < want_len)
            CHECK (rc == SB_TOON_ETOOBIG && out == NULL && len == 0);
        else {
            CHECK (rc == SB_TOON_OK && len == want_len);
            CHECK_STR (out, want);
        }
        free (out);
    }
    //  Caller buffer: needs len + 1 for the NUL.
    char buf[64];
    memset (buf, 'X', sizeof buf);
    CHECK (sb_toon_encode_into (v, NULL, buf, want_len + 1, &len) == SB_TOON_OK);
    CHECK (len == want_len && strcmp (buf, want) == 0);
    memset (buf, 'X', sizeof buf);
    CHECK (sb_toon_encode_into (v, NULL, buf, want_len, &len) == SB_TOON_ETOOBIG && len == 0);
    CHECK (buf[0] == '\0' && buf[want_len] == 'X'); // nothing written past cap
    CHECK (sb_toon_encode_into (v, NULL, buf, 0, &len) == SB_TOON_EINVAL);
    json_decref (v);

    //  Depth: 300 nested arrays pass the default (256) only when allowed.
    char deep[700];
    size_t n = 0;
    for (int i = 0; i < 300; i++)
        deep[n++] = '[';
    for (int i = 0; i < 300; i++)
        deep[n++] = ']';
    v = sb_toon_parse_json (deep, n, NULL);
    CHECK (v != NULL);
    CHECK (sb_toon_encode_ex (v, NULL, &out, &len) == SB_TOON_EDEPTH && out == NULL);
    o.max_output = 0;
    o.max_depth = 301;
    CHECK (sb_toon_encode_ex (v, &o, &out, &len) == SB_TOON_OK);
    //  Line i is "- [1]:" at depth i; the innermost is "- [0]:" at depth 299,
    //  598 spaces deep (well past the 64-space indent chunk).
    CHECK (out && len > 598 && strcmp (out + len - 6, "- [0]:") == 0 && out[len - 7] == ' ' &&
           out[len - 605] == '\n');
    free (out);
    json_decref (v);
}

static void
s_test_maybe_compress (void)
{
    printf ("maybe_compress: TOON only when strictly smaller\n");
    const char *table = "[{\"id\":1,\"name\":\"Ada\",\"role\":\"admin\"},"
                        "{\"id\":2,\"name\":\"Bob\",\"role\":\"user\"}]";
    char *out = NULL;
    size_t out_len = 0, saved = 0;
    CHECK (sb_toon_maybe_compress (table, strlen (table), NULL, &out, &out_len, &saved) == 1);
    CHECK_STR (out, "[2]{id,name,role}:\n  1,Ada,admin\n  2,Bob,user");
    CHECK (out_len == strlen (out) && saved == strlen (table) - out_len);
    free (out);
    //  Whitespace around the text is fine; the options apply.
    const char *spaced = "\n  {\"t\": [1, 2, 3]}  \n";
    sb_toon_options_t o = {.delimiter = '|'};
    CHECK (sb_toon_maybe_compress (spaced, strlen (spaced), &o, &out, &out_len, &saved) == 1);
    CHECK_STR (out, "t[3|]: 1|2|3");
    free (out);

    //  A tiny object still wins: "a: 1" is 4 bytes against 7.
    CHECK (sb_toon_maybe_compress ("{\"a\":1}", 7, NULL, &out, &out_len, &saved) == 1);
    CHECK (out_len == 4 && saved == 3);
    CHECK_STR (out, "a: 1");
    free (out);

    //  Left alone: not smaller, not a container, invalid, or lossy.
    const char *cases[] = {
        "{\"a\":[[1]]}",                 // TOON "a[1]:\n  - [1]: 1" is longer
        "[[]]",                          // "[1]:\n  - [0]:" is longer
        "42",                            // scalars are not tool-result structures
        "\"text\"",                      //
        "hello, world",                  //
        "{\"a\":",                       // invalid
        "{\"a\":1,\"a\":2}",             // duplicate keys would lose a value
        "[123456789012345678901234567]", // beyond 64 bits would lose digits
        "{}",                            // empty TOON document: keep the JSON
        "[]",                            // "[]" is not smaller than "[]"
        "   ",                           //
        "",                              //
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        out = (char *)1;
        saved = 99;
        int rc = sb_toon_maybe_compress (cases[i], strlen (cases[i]), NULL, &out, &out_len, &saved);
        if (rc != 0) fprintf (stderr, "  case %zu: rc %d\n", i, rc);
        CHECK (rc == 0 && out == NULL && saved == 0);
    }
    CHECK (sb_toon_maybe_compress (NULL, 3, NULL, &out, &out_len, &saved) == -1);
    CHECK (sb_toon_maybe_compress ("[1]", 3, NULL, NULL, &out_len, &saved) == -1);
}

static void
s_test_parse_json (void)
{
    printf ("parse_json: any value, big integers, errors\n");
    json_error_t err;
    json_t *v = sb_toon_parse_json ("100000000000000000000", 21, &err);
    CHECK (json_is_real (v));
    char *out = sb_toon_encode (v, NULL, NULL);
    CHECK_STR (out, "100000000000000000000");
    free (out);
    json_decref (v);
    v = sb_toon_parse_json ("[1, 2", 5, &err);
    CHECK (v == NULL && err.text[0] != '\0');
    CHECK (sb_toon_parse_json (NULL, 0, &err) == NULL);
    CHECK (sb_toon_parse_json ("1e400", 5, NULL) == NULL);
}

//  Several threads encode one shared value at once; every result must equal
//  the single-threaded one (the encoder keeps no state between calls).
typedef struct {
    const json_t *value;
    const char *want;
    char delim;
    int mismatches;
} s_thread_arg_t;

static void *
s_thread_main (void *p)
{
    s_thread_arg_t *arg = p;
    sb_toon_options_t o = {.delimiter = arg->delim};
    for (int i = 0; i < 200; i++) {
        char *out = sb_toon_encode (arg->value, &o, NULL);
        if (!out || strcmp (out, arg->want) != 0) arg->mismatches++;
        free (out);
    }
    return NULL;
}

static void
s_test_threads (void)
{
    printf ("threads: 4 concurrent encoders on one shared value\n");
    const char *json = "{\"users\":[{\"id\":1,\"tags\":[\"a\",\"b|c\"]},{\"id\":2,\"tags\":[]}],"
                       "\"m\":{\"x\":{\"p\":1.5},\"y\":{\"p\":-2}},\"n\":\"a,b\"}";
    json_t *v = sb_toon_parse_json (json, strlen (json), NULL);
    s_thread_arg_t args[4];
    pthread_t th[4];
    char *want[2];
    sb_toon_options_t comma = {.delimiter = ','}, pipe = {.delimiter = '|'};
    want[0] = sb_toon_encode (v, &comma, NULL);
    want[1] = sb_toon_encode (v, &pipe, NULL);
    CHECK (want[0] && want[1] && strcmp (want[0], want[1]) != 0);
    for (int i = 0; i < 4; i++) {
        args[i] = (s_thread_arg_t){v, want[i % 2], i % 2 ? '|' : ',', 0};
        CHECK (pthread_create (&th[i], NULL, s_thread_main, &args[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join (th[i], NULL);
        CHECK (args[i].mismatches == 0);
    }
    free (want[0]);
    free (want[1]);
    json_decref (v);
}

int
main (void)
{
    s_test_numbers ();
    s_test_strings_and_keys ();
    s_test_structure ();
    s_test_options ();
    s_test_bounds ();
    s_test_maybe_compress ();
    s_test_parse_json ();
    s_test_threads ();
    return SB_TEST_DONE ();
}
