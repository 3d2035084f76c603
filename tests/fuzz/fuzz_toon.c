/*  fuzz_toon — arbitrary bytes as JSON through the TOON encoder: never crashes,
    never writes past its bound, and every result keeps the invariants a decoder
    relies on (no raw NUL, no trailing newline or trailing spaces, no blank line).
    The first byte picks the options so that all delimiters, indents and small
    output bounds get exercised.  */

#include "sb_toon.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
s_check_document (const char *s, size_t n, size_t max)
{
    if (n > max || strlen (s) != n) abort ();
    if (n > 0 && s[n - 1] == '\n') abort ();
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\n') continue;
        if (i == 0 || s[i - 1] == ' ' || s[i + 1] == '\n' || s[i + 1] == '\0') abort ();
    }
    if (n > 0 && s[n - 1] == ' ') abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    static const char delims[] = {',', '\t', '|'};
    static const size_t bounds[] = {0, 1, 7, 64, 4096};
    uint8_t pick = data[0];
    sb_toon_options_t opts;
    sb_toon_options_init (&opts);
    opts.delimiter = delims[pick % 3];
    opts.indent = 1 + (pick >> 2) % 4;
    if (bounds[(pick >> 4) % 5]) opts.max_output = bounds[(pick >> 4) % 5];
    opts.max_depth = (pick & 0x80) ? 8 : 0;
    data++;
    size--;

    //  An exact-size heap copy so that ASan catches any over-read.
    char *text = malloc (size ? size : 1);
    if (!text) return 0;
    memcpy (text, data, size);

    json_t *value = sb_toon_parse_json (text, size, NULL);
    if (value) {
        char *out = NULL;
        size_t len = 0;
        int rc = sb_toon_encode_ex (value, &opts, &out, &len);
        if (rc == SB_TOON_OK) {
            s_check_document (out, len, opts.max_output);
        } else if (out || len || (rc != SB_TOON_ETOOBIG && rc != SB_TOON_EDEPTH))
            abort ();

        //  The caller-buffer variant agrees with the allocating one.
        char small[96];
        size_t small_len = 0;
        int rc2 = sb_toon_encode_into (value, &opts, small, sizeof small, &small_len);
        if (rc == SB_TOON_OK && len < sizeof small) {
            if (rc2 != SB_TOON_OK || small_len != len || memcmp (small, out, len) != 0) abort ();
        } else if (rc2 == SB_TOON_OK) {
            abort (); // fits the small buffer but not the bound, or failed above
        }
        free (out);
        json_decref (value);
    }

    //  The gateway helper: only ever hands back something strictly smaller.
    char *toon = NULL;
    size_t toon_len = 0, saved = 0;
    int rc = sb_toon_maybe_compress (text, size, &opts, &toon, &toon_len, &saved);
    if (rc == 1) {
        if (!toon || toon_len >= size || saved != size - toon_len) abort ();
        s_check_document (toon, toon_len, size);
    } else if (rc != 0 || toon || saved)
        abort ();
    free (toon);
    free (text);
    return 0;
}
