/*  test_sb_json_scan — strict validation and top-level member spans.  */

#include "sb_json_scan.h"
#include "sb_test.h"

#include <stdlib.h>

static int
s_valid (const char *text)
{
    return sb_json_validate (text, strlen (text), NULL, NULL) == 0;
}

int
main (void)
{
    const char *req =
        " {\"model\" : \"gpt-4o\", \"messages\":[{\"role\":\"user\",\"content\":\"a\\\"b\"}],"
        "\"stream\":true,\"stream_options\":{\"include_usage\":false},\"n\":2,"
        "\"tools\":[]} ";
    sb_json_member_t m[16];
    size_t count = 0;
    const char *why;
    CHECK (sb_json_scan_object (req, strlen (req), m, 16, &count, &why, NULL) == 0);
    CHECK (count == 6);
    const sb_json_member_t *model = sb_json_find (m, count, "model");
    CHECK (model && model->type == SB_JSON_STRING && model->value_len == 8);
    char buf[64];
    CHECK (model && sb_json_unescape (model->value, model->value_len, buf, sizeof buf) == 6);
    CHECK_STR (buf, "gpt-4o");
    const sb_json_member_t *stream = sb_json_find (m, count, "stream");
    CHECK (stream && stream->type == SB_JSON_TRUE);
    const sb_json_member_t *msgs = sb_json_find (m, count, "messages");
    CHECK (msgs && msgs->type == SB_JSON_ARRAY && msgs->value[0] == '[' &&
           msgs->value[msgs->value_len - 1] == ']');
    const sb_json_member_t *so = sb_json_find (m, count, "stream_options");
    CHECK (so && so->type == SB_JSON_OBJECT &&
           so->value_len == strlen ("{\"include_usage\":false}"));
    uint64_t n = 0;
    CHECK (sb_json_uint (sb_json_find (m, count, "n"), &n) == 0 && n == 2);
    const sb_json_member_t *tools = sb_json_find (m, count, "tools");
    CHECK (tools && tools->value_len == 2);
    CHECK (sb_json_find (m, count, "absent") == NULL);

    //  Only the first `max` members are recorded; all are counted.
    CHECK (sb_json_scan_object (req, strlen (req), m, 2, &count, &why, NULL) == 0 && count == 6);

    //  Strictness.
    CHECK (s_valid ("{}"));
    CHECK (s_valid ("[1,-0.5e+3,\"\\u00e9\",true,false,null,{\"a\":[]}]"));
    CHECK (s_valid ("\"h\xc3\xa9\""));
    CHECK (!s_valid ("{\"a\":1 \"b\":2}"));
    CHECK (!s_valid ("{\"a\" 1}"));
    CHECK (!s_valid ("{\"a\":1,}"));
    CHECK (!s_valid ("[1,]"));
    CHECK (!s_valid ("{'a':1}"));
    CHECK (!s_valid ("{a:1}"));
    CHECK (!s_valid ("01"));
    CHECK (!s_valid ("1."));
    CHECK (!s_valid ("\"\x01\""));
    CHECK (!s_valid ("\"\xff\""));
    CHECK (!s_valid ("\"\\x\""));
    CHECK (!s_valid ("{\"a\":1}x"));
    CHECK (!s_valid ("{\"a\":tru}"));
    CHECK (!s_valid (""));
    CHECK (!s_valid ("{\"a\":"));
    size_t where = 0;
    CHECK (sb_json_scan_object ("[1]", 3, m, 16, &count, &why, &where) == -1);
    CHECK_STR (why, "not a JSON object");
    CHECK (sb_json_scan_object ("{\"a\":1 \"b\":2}", 13, m, 16, &count, &why, &where) == -1);
    CHECK_STR (why, "expected ',' or '}'");
    CHECK (where == 7);

    //  Depth bound: 128 levels pass, 129 are refused without recursion.
    char deep[400];
    for (int i = 0; i < 128; i++)
        deep[i] = '[', deep[128 + i] = ']';
    deep[256] = '\0';
    CHECK (s_valid (deep));
    char deeper[400];
    for (int i = 0; i < 129; i++)
        deeper[i] = '[', deeper[129 + i] = ']';
    deeper[258] = '\0';
    CHECK (sb_json_validate (deeper, 258, &why, NULL) == -1);
    CHECK_STR (why, "nesting too deep");

    //  Unescape: surrogate pairs, and a too-small buffer.
    const char *s = "\"\\ud83d\\ude00 x\\n\"";
    CHECK (sb_json_unescape (s, strlen (s), buf, sizeof buf) == 7);
    CHECK (memcmp (buf, "\xf0\x9f\x98\x80 x\n", 7) == 0);
    CHECK (sb_json_unescape ("\"abcdef\"", 8, buf, 4) == -1);
    //  Strings are scanned 8 bytes at a time where plain: every special byte must be
    //  seen at every offset and alignment, as the byte-by-byte rules say.
    {
        static const struct {
            const char *bytes;
            size_t len;
            int ok;
        } specials[] = {
            {"\x01", 1, 0}, {"\x1f", 1, 0},    {"\x7f", 1, 1},     {"\\n", 2, 1},
            {"\\q", 2, 0},  {"\\u00e9", 6, 1}, {"\xc3\xa9", 2, 1}, {"\xe2\x82\xac", 3, 1},
            {"\xff", 1, 0}, {"\xc3", 1, 0},    {"\\\"", 2, 1},     {" ", 1, 1},
        };
        int wrong = 0;
        for (size_t sp = 0; sp < sizeof specials / sizeof specials[0]; sp++)
            for (size_t pad = 0; pad < 8; pad++)
                for (size_t len = 0; len < 34; len++)
                    for (size_t at = 0; at <= len; at++) {
                        char doc[128];
                        size_t dn = 0;
                        memcpy (doc, "          ", pad);
                        dn = pad;
                        memcpy (doc + dn, "{\"k\":\"", 6);
                        dn += 6;
                        for (size_t i = 0; i < len; i++) {
                            if (i == at) {
                                memcpy (doc + dn, specials[sp].bytes, specials[sp].len);
                                dn += specials[sp].len;
                            }
                            doc[dn++] = (char)('a' + i % 26);
                        }
                        if (at == len) {
                            memcpy (doc + dn, specials[sp].bytes, specials[sp].len);
                            dn += specials[sp].len;
                        }
                        memcpy (doc + dn, "\"}", 2);
                        dn += 2;
                        sb_json_member_t sm[2];
                        size_t sc = 0;
                        int rc = sb_json_scan_object (doc, dn, sm, 2, &sc, NULL, NULL);
                        if ((rc == 0) != specials[sp].ok) wrong++;
                    }
        CHECK (wrong == 0);
        //  A quote ends the string wherever it falls.
        const char *early = "{\"k\":\"abcdefghijkl\"mnop\"}";
        size_t sc = 0;
        sb_json_member_t sm[2];
        CHECK (sb_json_scan_object (early, strlen (early), sm, 2, &sc, NULL, NULL) != 0);
    }
    //  sb_json_lookup: top-level members only, strings with escaped quotes skipped,
    //  and any cut of a document is safe.
    {
        const char *doc = "{\"id\":\"x\\\"usage\\\":1\",\"choices\":[{\"usage\":{\"a\":1}},\"]}\"],"
                          "\"n\":-1.5e3 , \"usage\" : {\"prompt_tokens\":3} ,\"z\":null}";
        sb_json_member_t f;
        CHECK (sb_json_lookup (doc, strlen (doc), "usage", &f) == 0);
        CHECK (f.type == SB_JSON_OBJECT && f.value_len == 19 &&
               memcmp (f.value, "{\"prompt_tokens\":3}", 19) == 0);
        CHECK (sb_json_lookup (doc, strlen (doc), "n", &f) == 0);
        CHECK (f.type == SB_JSON_NUMBER && f.value_len == 6);
        CHECK (sb_json_lookup (doc, strlen (doc), "z", &f) == 0 && f.type == SB_JSON_NULL);
        CHECK (sb_json_lookup (doc, strlen (doc), "choices", &f) == 0 && f.type == SB_JSON_ARRAY);
        CHECK (sb_json_lookup (doc, strlen (doc), "a", &f) == -1); // nested, not top level
        CHECK (sb_json_lookup ("[1]", 3, "a", &f) == -1);
        CHECK (sb_json_lookup ("{}", 2, "a", &f) == -1);
        //  Every prefix: found whole or not at all.
        int bad = 0;
        for (size_t cut = 0; cut <= strlen (doc); cut++) {
            char *copy = malloc (cut ? cut : 1);
            memcpy (copy, doc, cut);
            if (sb_json_lookup (copy, cut, "usage", &f) == 0 &&
                (f.value < copy || f.value + f.value_len > copy + cut))
                bad++;
            free (copy);
        }
        CHECK (bad == 0);
    }
    return SB_TEST_DONE ();
}
