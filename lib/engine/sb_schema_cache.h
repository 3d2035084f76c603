/*  sb_schema_cache — compiled schemas keyed by their content, so that the tool
    definitions a client repeats on every request compile once. The key is the
    canonical form of the schema, what json_dumps with JSON_SORT_KEYS |
    JSON_COMPACT makes of it (member order does not matter, values are exact:
    1 and 1.0 differ), hashed from the tree and confirmed with json_equal rather
    than serialised. The entry count is bounded with least-recently-used
    eviction. Invalid schemas are cached too (their error is
    returned again without recompiling).

    Not thread-safe: use one cache per thread (the validator service keeps one per
    worker thread). A compiled sb_schema_t itself may be used by several threads.  */

#ifndef SB_SCHEMA_CACHE_H_INCLUDED
#define SB_SCHEMA_CACHE_H_INCLUDED

#include "sb_schema.h"

#include <stddef.h>

typedef struct _sb_schema_cache_t sb_schema_cache_t;

typedef struct {
    size_t hits;      // gets answered from the cache
    size_t misses;    // gets that compiled
    size_t evictions; // entries dropped to stay within max_entries
    size_t entries;   // entries held now
} sb_schema_cache_stats_t;

//  A cache holding at most `max_entries` schemas (0 counts as 1). Returns NULL
//  when memory runs out. Caller owns the result.
sb_schema_cache_t *sb_schema_cache_new (size_t max_entries);
void sb_schema_cache_destroy (sb_schema_cache_t **self_p);

//  Returns the compiled form of `schema_doc` (draft from its "$schema", 2020-12
//  when absent; no registry, so only references inside the document and to the
//  embedded metaschemas resolve). On a miss the cache compiles a private copy, so
//  the caller may change or free schema_doc afterwards. Returns NULL when the
//  schema is invalid or memory runs out, writing the reason into err (if
//  err_size > 0). The result is borrowed: it stays valid until the next
//  sb_schema_cache_get or sb_schema_cache_destroy on this cache.
sb_schema_t *sb_schema_cache_get (sb_schema_cache_t *self, json_t *schema_doc, char *err,
                                  size_t err_size);

void sb_schema_cache_stats (const sb_schema_cache_t *self, sb_schema_cache_stats_t *stats);

#endif
