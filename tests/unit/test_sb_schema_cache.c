/*  test_sb_schema_cache — hits by content (key order does not matter), LRU
    eviction order, cached compile errors, and independence from the caller's
    document after a miss.  */

#include "sb_schema_cache.h"
#include "sb_test.h"

static json_t *
s_json (const char *text)
{
    return json_loads (text, JSON_DECODE_ANY, NULL);
}

//  Gets a schema given as text; the document is released right away, which the
//  cache must survive.
static sb_schema_t *
s_get (sb_schema_cache_t *cache, const char *text, char *err, size_t err_size)
{
    json_t *doc = s_json (text);
    sb_schema_t *schema = sb_schema_cache_get (cache, doc, err, err_size);
    json_decref (doc);
    return schema;
}

static int
s_valid (sb_schema_t *schema, const char *instance_text)
{
    json_t *instance = s_json (instance_text);
    int rc = sb_schema_validate (schema, instance, NULL, NULL);
    json_decref (instance);
    return rc;
}

static void
s_check_stats (sb_schema_cache_t *cache, size_t hits, size_t misses, size_t evictions,
               size_t entries)
{
    sb_schema_cache_stats_t stats;
    sb_schema_cache_stats (cache, &stats);
    if (stats.hits != hits || stats.misses != misses || stats.evictions != evictions ||
        stats.entries != entries)
        fprintf (stderr, "  stats: hits %zu misses %zu evictions %zu entries %zu\n", stats.hits,
                 stats.misses, stats.evictions, stats.entries);
    CHECK (stats.hits == hits);
    CHECK (stats.misses == misses);
    CHECK (stats.evictions == evictions);
    CHECK (stats.entries == entries);
}

#define S_A           "{\"type\": \"string\", \"maxLength\": 3}"
#define S_A_REORDERED "{\"maxLength\": 3, \"type\": \"string\"}"
#define S_B           "{\"type\": \"integer\"}"
#define S_C           "{\"type\": \"boolean\"}"

static void
test_hits_and_eviction (void)
{
    printf ("cache: same content hits, least recently used is evicted\n");
    char err[256];
    sb_schema_cache_t *cache = sb_schema_cache_new (2);
    CHECK (cache != NULL);
    sb_schema_t *a = s_get (cache, S_A, err, sizeof err);
    CHECK (a != NULL);
    CHECK (s_valid (a, "\"abc\"") == 1);
    CHECK (s_valid (a, "\"abcd\"") == 0);
    s_check_stats (cache, 0, 1, 0, 1);

    //  Key order is not part of the key (the canonical form sorts keys).
    CHECK (s_get (cache, S_A_REORDERED, err, sizeof err) == a);
    s_check_stats (cache, 1, 1, 0, 1);

    sb_schema_t *b = s_get (cache, S_B, err, sizeof err);
    CHECK (b != NULL && b != a);
    s_check_stats (cache, 1, 2, 0, 2);

    //  Touch A, so that B is the least recently used when C arrives.
    CHECK (s_get (cache, S_A, err, sizeof err) == a);
    sb_schema_t *c = s_get (cache, S_C, err, sizeof err);
    CHECK (c != NULL);
    CHECK (s_valid (c, "true") == 1);
    s_check_stats (cache, 2, 3, 1, 2);

    CHECK (s_get (cache, S_A, err, sizeof err) == a); // still there
    s_check_stats (cache, 3, 3, 1, 2);
    b = s_get (cache, S_B, err, sizeof err); // was evicted: compiles again, evicts C
    CHECK (b != NULL);
    CHECK (s_valid (b, "7") == 1);
    s_check_stats (cache, 3, 4, 2, 2);
    CHECK (s_get (cache, S_C, err, sizeof err) != NULL); // C was evicted: a miss, evicts A
    s_check_stats (cache, 3, 5, 3, 2);

    sb_schema_cache_destroy (&cache);
    CHECK (cache == NULL);
    sb_schema_cache_destroy (&cache);

    //  Values are exact: 1 and 1.0 are different canonical texts, so different
    //  entries, though they hash alike.
    cache = sb_schema_cache_new (4);
    sb_schema_t *one = s_get (cache, "{\"maximum\": 1}", err, sizeof err);
    sb_schema_t *one_real = s_get (cache, "{\"maximum\": 1.0}", err, sizeof err);
    CHECK (one != NULL && one_real != NULL && one != one_real);
    CHECK (s_get (cache, "{\"maximum\": 1}", err, sizeof err) == one);
    s_check_stats (cache, 1, 2, 0, 2);
    sb_schema_cache_destroy (&cache);
}

static void
test_errors_cached (void)
{
    printf ("cache: an invalid schema is remembered with its error\n");
    char err[256] = "";
    sb_schema_cache_t *cache = sb_schema_cache_new (4);
    CHECK (s_get (cache, "{\"type\": 5}", err, sizeof err) == NULL);
    CHECK (strstr (err, "type") != NULL);
    s_check_stats (cache, 0, 1, 0, 1);
    err[0] = 0;
    CHECK (s_get (cache, "{\"type\": 5}", err, sizeof err) == NULL);
    CHECK (strstr (err, "type") != NULL);
    s_check_stats (cache, 1, 1, 0, 1);
    CHECK (sb_schema_cache_get (cache, NULL, err, sizeof err) == NULL);
    CHECK_STR (err, "no schema document");
    //  err may be omitted.
    CHECK (s_get (cache, "{\"type\": 5}", NULL, 0) == NULL);
    sb_schema_cache_destroy (&cache);
}

static void
test_private_copy (void)
{
    printf ("cache: the caller's document may change after a get\n");
    char err[256];
    sb_schema_cache_t *cache = sb_schema_cache_new (0); // 0 counts as 1
    json_t *doc = s_json ("{\"type\": \"string\"}");
    sb_schema_t *schema = sb_schema_cache_get (cache, doc, err, sizeof err);
    CHECK (schema != NULL);
    json_object_set_new (doc, "type", json_string ("integer"));
    CHECK (s_valid (schema, "\"x\"") == 1);
    CHECK (s_valid (schema, "1") == 0);
    //  The changed document is different content: a miss, evicting the first.
    sb_schema_t *changed = sb_schema_cache_get (cache, doc, err, sizeof err);
    CHECK (changed != NULL);
    CHECK (s_valid (changed, "1") == 1);
    s_check_stats (cache, 0, 2, 1, 1);
    json_decref (doc);

    //  Boolean schemas are documents too.
    sb_schema_t *no = sb_schema_cache_get (cache, json_false (), err, sizeof err);
    CHECK (no != NULL);
    CHECK (s_valid (no, "{}") == 0);
    sb_schema_cache_destroy (&cache);
}

static void
test_many (void)
{
    printf ("cache: stays within max_entries over many distinct schemas\n");
    char err[256], text[64];
    sb_schema_cache_t *cache = sb_schema_cache_new (16);
    for (int i = 0; i < 1000; i++) {
        snprintf (text, sizeof text, "{\"maximum\": %d}", i % 40);
        sb_schema_t *schema = s_get (cache, text, err, sizeof err);
        CHECK (schema != NULL);
        char instance[16];
        snprintf (instance, sizeof instance, "%d", i % 40);
        CHECK (s_valid (schema, instance) == 1);
    }
    sb_schema_cache_stats_t stats;
    sb_schema_cache_stats (cache, &stats);
    CHECK (stats.entries == 16);
    CHECK (stats.hits + stats.misses == 1000);
    CHECK (stats.evictions == stats.misses - 16);
    sb_schema_cache_destroy (&cache);
}

int
main (void)
{
    test_hits_and_eviction ();
    test_errors_cached ();
    test_private_copy ();
    test_many ();
    return SB_TEST_DONE ();
}
