/*  test_sb_schema_parts — the validator's building blocks on their own: URI
    resolution (RFC 3986 section 5.4 examples), fragment unescaping, the number
    model and equality of instance values, and ECMA-262 regex translation.  */

#include "sb_regex.h"
#include "sb_schema_uri.h"
#include "sb_schema_value.h"
#include "sb_test.h"

#include <stdlib.h>

static void
s_check_resolve (const char *base, const char *ref, const char *want)
{
    char *got = sb_schema_uri_resolve (base, ref);
    CHECK_STR (got, want);
    free (got);
}

static void
test_uri (void)
{
    printf ("uri: RFC 3986 5.4 normal and abnormal examples, URNs, relative bases\n");
    const char *base = "http://a/b/c/d;p?q";
    static const char *cases[][2] = {
        {"g:h", "g:h"},
        {"g", "http://a/b/c/g"},
        {"./g", "http://a/b/c/g"},
        {"g/", "http://a/b/c/g/"},
        {"/g", "http://a/g"},
        {"//g", "http://g"},
        {"?y", "http://a/b/c/d;p?y"},
        {"g?y", "http://a/b/c/g?y"},
        {"#s", "http://a/b/c/d;p?q#s"},
        {"g#s", "http://a/b/c/g#s"},
        {"g?y#s", "http://a/b/c/g?y#s"},
        {";x", "http://a/b/c/;x"},
        {"g;x", "http://a/b/c/g;x"},
        {"", "http://a/b/c/d;p?q"},
        {".", "http://a/b/c/"},
        {"./", "http://a/b/c/"},
        {"..", "http://a/b/"},
        {"../", "http://a/b/"},
        {"../g", "http://a/b/g"},
        {"../..", "http://a/"},
        {"../../", "http://a/"},
        {"../../g", "http://a/g"},
        {"../../../g", "http://a/g"},
        {"../../../../g", "http://a/g"},
        {"/./g", "http://a/g"},
        {"/../g", "http://a/g"},
        {"g.", "http://a/b/c/g."},
        {".g", "http://a/b/c/.g"},
        {"g..", "http://a/b/c/g.."},
        {"..g", "http://a/b/c/..g"},
        {"./../g", "http://a/b/g"},
        {"./g/.", "http://a/b/c/g/"},
        {"g/./h", "http://a/b/c/g/h"},
        {"g/../h", "http://a/b/c/h"},
        {"g;x=1/./y", "http://a/b/c/g;x=1/y"},
        {"g;x=1/../y", "http://a/b/c/y"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        s_check_resolve (base, cases[i][0], cases[i][1]);

    s_check_resolve ("", "#/$defs/a", "#/$defs/a");
    s_check_resolve ("", "foo.json", "foo.json");
    s_check_resolve ("foo.json", "bar.json#x", "bar.json#x");
    s_check_resolve ("urn:uuid:deadbeef", "#/a", "urn:uuid:deadbeef#/a");
    s_check_resolve ("http://x/y", "urn:example:z", "urn:example:z");
    s_check_resolve ("file:///folder/file.json", "#/$defs/x", "file:///folder/file.json#/$defs/x");
    s_check_resolve ("http://localhost:1234/tree", "node", "http://localhost:1234/node");
    s_check_resolve ("http://example.com", "a.json", "http://example.com/a.json");

    CHECK (sb_schema_uri_without_fragment ("http://a/b#c") == 10);
    CHECK (sb_schema_uri_without_fragment ("http://a/b") == 10);
    size_t len;
    char *text = sb_schema_uri_unescape ("foo%22bar%2", 11, &len);
    CHECK_STR (text, "foo\"bar%2");
    CHECK (len == 9);
    free (text);
    text = sb_schema_uri_unescape ("a%00b", 5, &len);
    CHECK (len == 3 && text[1] == 0 && text[2] == 'b');
    free (text);
}

static json_t *
s_parse (const char *text)
{
    return json_loads (text, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
}

static int
s_equal_text (const char *a, const char *b)
{
    json_t *x = s_parse (a), *y = s_parse (b);
    int rc = sb_schema_value_equal (x, y);
    uint64_t hx = 0, hy = 1;
    sb_schema_value_hash (x, &hx);
    sb_schema_value_hash (y, &hy);
    if (rc == 1) CHECK (hx == hy); // equal values must hash alike
    json_decref (x);
    json_decref (y);
    return rc;
}

static int
s_multiple (const char *value, const char *divisor)
{
    json_t *v = s_parse (value), *d = s_parse (divisor);
    int rc = sb_schema_value_multiple_of (v, d);
    json_decref (v);
    json_decref (d);
    return rc;
}

static int
s_compare (const char *a, const char *b)
{
    json_t *x = s_parse (a), *y = s_parse (b);
    int rc = sb_schema_value_compare (x, y);
    json_decref (x);
    json_decref (y);
    return rc;
}

static void
test_value (void)
{
    printf ("value: exact int/double comparison, equality, hashing, uniqueness, multipleOf\n");
    CHECK (s_compare ("1", "1.0") == 0);
    CHECK (s_compare ("9007199254740993", "9007199254740992.0") == 1);
    CHECK (s_compare ("9007199254740992.0", "9007199254740993") == -1);
    CHECK (s_compare ("-3", "-2.5") == -1);
    CHECK (s_compare ("-2", "-2.5") == 1);
    CHECK (s_compare ("9223372036854775807", "1e300") == -1);
    CHECK (s_compare ("-9223372036854775807", "-1e300") == 1);
    CHECK (s_compare ("2.5", "2.25") == 1);

    CHECK (s_equal_text ("1", "1.0") == 1);
    CHECK (s_equal_text ("[1, {\"a\": 2.0}]", "[1.0, {\"a\": 2}]") == 1);
    CHECK (s_equal_text ("{\"a\": 1, \"b\": 2}", "{\"b\": 2, \"a\": 1}") == 1);
    CHECK (s_equal_text ("{\"a\": 1}", "{\"a\": 1, \"b\": 2}") == 0);
    CHECK (s_equal_text ("false", "0") == 0);
    CHECK (s_equal_text ("true", "1") == 0);
    CHECK (s_equal_text ("null", "false") == 0);
    CHECK (s_equal_text ("[]", "{}") == 0);
    CHECK (s_equal_text ("\"a\\u0000b\"", "\"a\\u0000c\"") == 0);
    CHECK (s_equal_text ("\"a\\u0000b\"", "\"a\\u0000b\"") == 1);

    //  Nesting beyond the limit is an error, not a stack overflow.
    json_t *deep_a = json_array (), *deep_b = json_array ();
    for (int i = 0; i < SB_SCHEMA_VALUE_MAX_DEPTH + 10; i++) {
        json_t *a = json_array (), *b = json_array ();
        json_array_append_new (a, deep_a);
        json_array_append_new (b, deep_b);
        deep_a = a;
        deep_b = b;
    }
    CHECK (sb_schema_value_equal (deep_a, deep_b) == -1);
    uint64_t h;
    CHECK (sb_schema_value_hash (deep_a, &h) == -1);
    json_decref (deep_a);
    json_decref (deep_b);

    size_t first = 99, second = 99;
    json_t *array = s_parse ("[1, \"1\", [1], {\"a\": 1}, 1.0]");
    CHECK (sb_schema_value_unique (array, &first, &second) == 0);
    CHECK (first == 0 && second == 4);
    json_decref (array);
    //  Large arrays go through hashing: same answers.
    array = json_array ();
    for (int i = 0; i < 1000; i++)
        json_array_append_new (array, json_integer (i));
    CHECK (sb_schema_value_unique (array, &first, &second) == 1);
    json_array_append_new (array, json_real (500.0));
    CHECK (sb_schema_value_unique (array, &first, &second) == 0);
    CHECK (first == 500 && second == 1000);
    json_decref (array);

    CHECK (s_multiple ("10", "5") == 1);
    CHECK (s_multiple ("10", "3") == 0);
    CHECK (s_multiple ("-9223372036854775807", "7") == 1);
    CHECK (s_multiple ("0.0075", "0.0001") == 1);
    CHECK (s_multiple ("0.00751", "0.0001") == 0);
    CHECK (s_multiple ("19.99", "0.01") == 1);
    CHECK (s_multiple ("0.3", "0.1") == 1);
    CHECK (s_multiple ("0.35", "0.1") == 0);
    CHECK (s_multiple ("4.5", "1.5") == 1);
    CHECK (s_multiple ("1e308", "0.5") == 1);
    CHECK (s_multiple ("1e308", "0.123456789") == 0);
    CHECK (s_multiple ("12391239123", "1e-8") == 1);
    CHECK (s_multiple ("10000000000.5", "1") == 0);

    CHECK (sb_schema_value_utf8_length ("a\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80", 10) == 4);
    CHECK (sb_schema_value_utf8_length ("", 0) == 0);
}

//  1 when the ECMA pattern matches text, 0 when not, -2 when it does not compile.
static int
s_match (const char *pattern, const char *text)
{
    char err[160];
    sb_regex_t *regex = sb_regex_new (pattern, strlen (pattern), err, sizeof err);
    if (!regex) return -2;
    int rc = sb_regex_search (regex, text, strlen (text), NULL);
    sb_regex_destroy (&regex);
    return rc;
}

static void
test_regex (void)
{
    printf ("regex: ECMA-262 meanings kept over PCRE2's\n");
    CHECK (s_match ("^\\d+$", "123") == 1);
    CHECK (s_match ("^\\d+$", "\xd9\xa1\xd9\xa2") == 0); // Arabic-Indic digits: not ECMA \d
    CHECK (s_match ("^\\w+$", "\xc3\xa9") == 0);         // é is not ECMA \w
    CHECK (s_match ("^\\s$", "\xc2\xa0") == 1);          // NBSP is ECMA \s
    CHECK (s_match ("^\\s$", "\xef\xbb\xbf") == 1);      // BOM is ECMA \s
    CHECK (s_match ("^\\S$", "\xc2\xa0") == 0);
    CHECK (s_match ("^[\\s]$", "\xe2\x80\xa8") == 1); // LINE SEPARATOR in a class
    CHECK (s_match ("^[\\s-x]+$", "-x ") == 1);       // '-' after \s is a literal
    CHECK (s_match ("^a$", "a\n") == 0);              // ECMA $ is the very end
    CHECK (s_match ("^.$", "\n") == 0);
    CHECK (s_match ("^.$", "\r") == 0);
    CHECK (s_match ("^.$", "\xe2\x80\xa8") == 0);
    CHECK (s_match ("^.$", "\xf0\x9f\x98\x80") == 1); // one code point
    CHECK (s_match ("^\\u00e9$", "\xc3\xa9") == 1);
    CHECK (s_match ("^\\u{1F600}$", "\xf0\x9f\x98\x80") == 1);
    CHECK (s_match ("^\\ud83d\\ude00$", "\xf0\x9f\x98\x80") == 1);
    CHECK (s_match ("\\ud83d", "x") == -2);
    CHECK (s_match ("^\\x41$", "A") == 1);
    CHECK (s_match ("^\\p{Letter}+$", "h\xc3\xa9llo") == 1);
    CHECK (s_match ("^\\p{gc=Lu}$", "A") == 1);
    CHECK (s_match ("^\\p{General_Category=Decimal_Number}$", "7") == 1);
    CHECK (s_match ("^\\p{Script=Greek}$", "\xce\xb1") == 1);
    CHECK (s_match ("^\\P{L}$", "1") == 1);
    CHECK (s_match ("[]", "anything") == 0);  // ECMA: the empty class
    CHECK (s_match ("^[^]$", "\n") == 1);     // ECMA: any character
    CHECK (s_match ("^[[:a]+$", "[:a") == 1); // '[' in a class is a literal
    CHECK (s_match ("^\\cJ$", "\n") == 1);
    CHECK (s_match ("^\\0$", "") == 0);
    CHECK (s_match ("a\\/b", "a/b") == 1);
    CHECK (s_match ("(?<year>\\d{4})-\\k<year>", "2024-2024") == 1);
    CHECK (s_match ("^\\v$", "\x0b") == 1);
    CHECK (s_match ("^\\v$", "\n") == 0); // ECMA \v is U+000B only
    CHECK (s_match ("(", "x") == -2);
    CHECK (s_match ("\\", "x") == -2);
    CHECK (s_match ("(?<=a+)b", "aab") == -2); // variable lookbehind: PCRE2 cannot
    CHECK (s_match ("es", "expresso") == 1);   // unanchored search

    //  Catastrophic backtracking ends at the match limit with -1 (or JIT wins
    //  quickly with 0): never a hang.
    char err[160];
    sb_regex_t *regex = sb_regex_new ("^(\\w+\\s?)*$", 12, err, sizeof err);
    CHECK (regex != NULL);
    char text[128];
    memset (text, 'a', 100);
    text[100] = '!';
    text[101] = 0;
    int rc = sb_regex_search (regex, text, 101, NULL);
    CHECK (rc == -1 || rc == 0);
    CHECK (strstr (sb_regex_translated (regex), "\\x{A0}") != NULL); // \s became ECMA's set
    sb_regex_destroy (&regex);
}

int
main (void)
{
    test_uri ();
    test_value ();
    test_regex ();
    return SB_TEST_DONE ();
}
