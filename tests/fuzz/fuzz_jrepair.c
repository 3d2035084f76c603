/*  fuzz_jrepair — the AutoFix lenient parser on arbitrary bytes, in every mode, and
    the whole pipeline (parse, coerce, validate, report) with one fixed schema that
    exercises coercion paths. Checks the invariants that must hold for any input:
    what the parser accepts prints as JSON that jansson reads back, and whatever
    AutoFix releases is valid and comes back unchanged when fed again.  */

#include "sb_autofix.h"
#include "sb_jrepair.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char s_schema_text[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"s\":{\"type\":\"string\"},\"i\":{\"type\":\"integer\"},\"n\":{\"type\":\"number\"},"
    "\"b\":{\"type\":\"boolean\"},\"z\":{\"type\":[\"null\",\"integer\"]},"
    "\"a\":{\"type\":\"array\",\"items\":{\"type\":\"integer\"}},"
    "\"o\":{\"type\":\"object\",\"properties\":{\"k\":{\"enum\":[\"x\",1]}}},"
    "\"u\":{\"anyOf\":[{\"type\":\"boolean\"},{\"$ref\":\"#/$defs/t\"}]}},"
    "\"$defs\":{\"t\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}},"
    "\"additionalProperties\":{\"type\":[\"string\",\"number\",\"object\",\"array\"]}}";

static void
s_check_roundtrip (const uint8_t *data, size_t size, unsigned flags)
{
    sb_jdoc_t *doc = sb_jdoc_new (64 * size + (1 << 20));
    if (!doc) return;
    char err[128];
    sb_jval_t *v =
        sb_jrepair_parse (doc, (const char *)data, size, flags, NULL, NULL, NULL, err, sizeof err);
    if (v) {
        size_t len;
        char *text = sb_jval_to_json (v, &len);
        if (text) {
            json_error_t jerr;
            json_t *back = json_loadb (text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
            //  Numbers beyond jansson's range and NULs in keys are what it may not read.
            if (!back && !strstr (jerr.text, "too big") && !strstr (jerr.text, "overflow") &&
                !strstr (jerr.text, "NUL byte")) {
                fprintf (stderr, "parser output is not JSON (%s): %.*s\n", jerr.text, (int)len,
                         text);
                abort ();
            }
            json_decref (back);
            free (text);
        }
    }
    sb_jdoc_destroy (&doc);
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static sb_schema_t *schema;
    if (!schema) {
        json_t *doc = json_loads (s_schema_text, 0, NULL);
        schema = sb_schema_new (doc, SB_DRAFT_AUTO, NULL, NULL, 0);
        json_decref (doc);
        if (!schema) abort ();
    }
    s_check_roundtrip (data, size, SB_JREPAIR_EXTRACT | SB_JREPAIR_TRUNCATION);
    s_check_roundtrip (data, size, 0);
    s_check_roundtrip (data, size, SB_JREPAIR_STRICT);

    for (int mode = 0; mode < 2; mode++) {
        sb_autofix_report_t *r = NULL;
        if (sb_autofix_run ((const char *)data, size, schema, (sb_autofix_mode_t)mode, &r))
            continue;
        size_t len;
        const char *args = sb_autofix_report_arguments (r, &len);
        if ((args != NULL) != (sb_autofix_report_valid (r) != 0)) abort ();
        if (args && mode == SB_AUTOFIX_AUTO_FIX) {
            sb_autofix_report_t *again = NULL;
            if (sb_autofix_run (args, len, schema, SB_AUTOFIX_AUTO_FIX, &again) == 0 &&
                (!sb_autofix_report_valid (again) || !sb_autofix_report_unchanged (again)))
                abort ();
            sb_autofix_report_destroy (&again);
        }
        //  The report is always JSON, whatever bytes the input or its paths held.
        char *json = sb_autofix_report_to_json (r, NULL);
        if (!json) abort ();
        //  The hand-written report is what jansson would print.
        json_t *j = sb_autofix_report_json (r);
        char *dumped = j ? json_dumps (j, JSON_COMPACT) : NULL;
        if (dumped && strcmp (dumped, json) != 0) {
            fprintf (stderr, "report text differs:\n%s\n%s\n", json, dumped);
            abort ();
        }
        free (dumped);
        json_decref (j);
        free (json);
        sb_autofix_report_destroy (&r);
    }
    return 0;
}
