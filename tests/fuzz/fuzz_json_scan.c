/*  fuzz_json_scan — the request scanner on arbitrary bytes: no crash, no read past
    the input, and it agrees with jansson on whether a document is valid JSON.  */

#include "sb_json_scan.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char *text = calloc (1, size ? size : 1);
    if (!text) return 0;
    if (size) memcpy (text, data, size);
    sb_json_member_t members[8];
    size_t count = 0;
    const char *why = NULL;
    int rc = sb_json_scan_object (text, size, members, 8, &count, &why, NULL);
    for (size_t i = 0; rc == 0 && i < count && i < 8; i++) {
        if (members[i].value < text || members[i].value + members[i].value_len > text + size)
            abort ();
        char out[64];
        if (members[i].type == SB_JSON_STRING)
            sb_json_unescape (members[i].value, members[i].value_len, out, sizeof out);
    }
    //  The non-validating lookup: any bytes, never a span outside the input; on a
    //  valid object it finds the first member where the strict scan did.
    sb_json_member_t found;
    if (sb_json_lookup (text, size, "usage", &found) == 0 &&
        (found.value < text || !found.value_len || found.value + found.value_len > text + size))
        abort ();
    if (rc == 0 && count && members[0].key_len < 64) {
        char name[64]; // a valid key holds no NUL byte (control characters are refused)
        memcpy (name, members[0].key, members[0].key_len);
        name[members[0].key_len] = '\0';
        if (sb_json_lookup (text, size, name, &found) != 0 || found.value != members[0].value ||
            found.value_len != members[0].value_len || found.type != members[0].type)
            abort ();
    }
    //  Differential check with jansson on documents without NUL bytes (jansson
    //  rejects \u0000 by default, and accepts some things differently at depth).
    if (size < 4096 && !memchr (text, 0, size) && !memmem (text, size, "\\u0000", 6)) {
        json_error_t err;
        json_t *doc = json_loadb (text, size, JSON_DECODE_ANY, &err);
        int jansson_object = doc && json_is_object (doc);
        json_decref (doc);
        if (jansson_object && rc != 0 && strcmp (why, "nesting too deep") != 0)
            abort (); // we rejected valid JSON
    }
    free (text);
    return 0;
}
