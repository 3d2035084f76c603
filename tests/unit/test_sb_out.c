/*  test_sb_out — the record appender: numbers at their limits, JSON escaping, and
    a full buffer that cuts the text without overrunning it.  */

#include "sb_out.h"
#include "sb_test.h"

#include <inttypes.h>
#include <stdio.h>

int
main (void)
{
    char buf[128];
    sb_out_t o = sb_out (buf, sizeof buf);
    sb_out_u64 (&o, 0);
    sb_out_lit (&o, " ");
    sb_out_u64 (&o, UINT64_MAX);
    sb_out_lit (&o, " ");
    sb_out_i64 (&o, INT64_MIN);
    sb_out_lit (&o, " ");
    sb_out_i64 (&o, -42);
    sb_out_lit (&o, " ");
    sb_out_i64 (&o, 7);
    CHECK (strcmp (buf, "0 18446744073709551615 -9223372036854775808 -42 7") == 0);
    CHECK (o.len == strlen (buf));

    //  Every value agrees with printf.
    uint64_t v = 1;
    for (int i = 0; i < 64; i++, v = v * 3 + (uint64_t)i) {
        char want[32];
        snprintf (want, sizeof want, "%" PRIu64, v);
        o = sb_out (buf, sizeof buf);
        sb_out_u64 (&o, v);
        CHECK (strcmp (buf, want) == 0);
    }

    o = sb_out (buf, sizeof buf);
    sb_out_jstr (&o, "a\"b\\c\n\x01", 7);
    CHECK (strcmp (buf, "\"a\\\"b\\\\c\\n\\u0001\"") == 0);
    sb_out_cstr (&o, "!");
    CHECK (buf[o.len - 1] == '!' && buf[o.len] == '\0');

    //  A full buffer: cut, NUL-terminated, never past its end.
    char small[8 + 4];
    memset (small, 'Z', sizeof small);
    o = sb_out (small, 8);
    sb_out_lit (&o, "0123456789");
    CHECK (o.len == 7 && strcmp (small, "0123456") == 0);
    sb_out_u64 (&o, 99);
    sb_out_jstr (&o, "xyz", 3);
    CHECK (o.len == 7 && small[7] == '\0');
    CHECK (small[8] == 'Z' && small[11] == 'Z');
    o = sb_out (small, 1);
    sb_out_jstr (&o, "abc", 3);
    CHECK (o.len == 0 && small[0] == '\0');
    //  sb_json_escape_append agrees with a plain per-byte escaper at every buffer
    //  size: same text, same cut, same result.
    {
        const char text[] = "plain \"quoted\" back\\slash\n\ttab\x01\x1f end";
        size_t tlen = sizeof text - 1;
        int wrong = 0;
        for (size_t size = 1; size < 80; size++) {
            char want[96], got[96];
            size_t wn = 0, gn = 0;
            int wrc = 0;
            for (size_t i = 0; i < tlen && !wrc; i++) {
                unsigned char c = (unsigned char)text[i];
                char esc[8];
                size_t k;
                if (c == '"' || c == '\\')
                    esc[0] = '\\', esc[1] = (char)c, k = 2;
                else if (c == '\n')
                    esc[0] = '\\', esc[1] = 'n', k = 2;
                else if (c == '\t')
                    esc[0] = '\\', esc[1] = 't', k = 2;
                else if (c < 0x20)
                    k = (size_t)snprintf (esc, sizeof esc, "\\u%04x", c);
                else
                    esc[0] = (char)c, k = 1;
                if (wn + k >= size)
                    wrc = -1;
                else {
                    memcpy (want + wn, esc, k);
                    wn += k;
                }
            }
            int grc = sb_json_escape_append (got, size, &gn, text, tlen);
            if (grc != wrc || gn != wn || memcmp (got, want, wn) != 0) wrong++;
        }
        CHECK (wrong == 0);
    }
    return SB_TEST_DONE ();
}
