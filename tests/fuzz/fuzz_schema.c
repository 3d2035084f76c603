/*  fuzz_schema — libFuzzer target for sb_schema. The input is a schema and an
    instance separated by the first NUL byte (without one, the schema validates
    itself). Both are compiled as draft 2020-12 and draft-07, validated with and
    without an error callback, and the two runs must agree; a cache sees every
    schema too. Crashes, sanitizer reports and disagreements are findings.  */

#include "sb_schema.h"
#include "sb_schema_cache.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
s_count (void *arg, const char *pointer, const char *keyword, const char *message)
{
    //  Every report carries a pointer, a keyword and a message.
    if (!pointer || !keyword || !*keyword || !message) abort ();
    (*(size_t *)arg)++;
}

static void
s_check (sb_schema_t *schema, const json_t *instance)
{
    size_t errors = 0;
    int fast = sb_schema_validate (schema, instance, NULL, NULL);
    int full = sb_schema_validate (schema, instance, s_count, &errors);
    //  A full run may hit the step budget where the fast one stopped early.
    if (fast >= 0 && full >= 0 && fast != full) abort ();
    if ((full == 0 && errors == 0) || (full == 1 && errors != 0)) abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    //  One cache for the whole run, as a worker thread keeps one.
    static sb_schema_cache_t *cache;
    if (!cache) cache = sb_schema_cache_new (8);

    const uint8_t *nul = memchr (data, 0, size);
    size_t schema_len = nul ? (size_t)(nul - data) : size;
    json_t *doc = json_loadb ((const char *)data, schema_len, JSON_DECODE_ANY, NULL);
    if (!doc) return 0;
    json_t *instance = nul ? json_loadb ((const char *)nul + 1, size - schema_len - 1,
                                         JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL)
                           : json_incref (doc);
    if (instance) {
        static const sb_draft_t drafts[] = {SB_DRAFT_AUTO, SB_DRAFT_7};
        for (size_t i = 0; i < sizeof drafts / sizeof drafts[0]; i++) {
            char err[256];
            sb_schema_t *schema = sb_schema_new (doc, drafts[i], NULL, err, sizeof err);
            if (schema) {
                if (sb_schema_document (schema) != doc) abort ();
                s_check (schema, instance);
            } else if (!err[0])
                abort (); // a failure always says why
            sb_schema_destroy (&schema);
        }
        sb_schema_t *cached = cache ? sb_schema_cache_get (cache, doc, NULL, 0) : NULL;
        if (cached) s_check (cached, instance);
    }
    json_decref (instance);
    json_decref (doc);
    return 0;
}
