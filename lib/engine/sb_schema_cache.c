/*  sb_schema_cache — content-keyed LRU cache of compiled schemas: a chained hash
    table plus a doubly linked recency list. The key is the schema's canonical
    form, the identity json_dumps (JSON_SORT_KEYS | JSON_COMPACT) gives it: member
    order ignored, everything else exact. It is computed without serialising:
    an order-independent hash of the tree, confirmed by json_equal against the
    stored copy. For a typical tool schema that is ~3 us against ~11 us for the
    sorted dump, where compiling costs ~20 us, so a dump would eat most of what a
    hit saves. Neither step allocates.  */

#include "sb_schema_cache.h"
#include "sb_schema_value.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct _s_entry_t s_entry_t;

struct _s_entry_t {
    uint64_t hash;
    json_t *doc;         // private copy of the schema document (the key)
    sb_schema_t *schema; // compiled from doc; NULL when the schema is invalid
    char *error;         // why it is invalid, when schema is NULL
    s_entry_t *chain;    // next entry of the same bucket
    s_entry_t *newer;    // recency list: newest ... oldest
    s_entry_t *older;
};

//  Invariants: count <= max_entries; every entry is in exactly one bucket chain
//  and in the recency list; bucket_count is a power of two >= 2 * max_entries.
struct _sb_schema_cache_t {
    s_entry_t **buckets;
    size_t bucket_count;
    s_entry_t *newest;
    s_entry_t *oldest;
    size_t count;
    size_t max_entries;
    sb_schema_cache_stats_t stats;
};

sb_schema_cache_t *
sb_schema_cache_new (size_t max_entries)
{
    if (max_entries == 0) max_entries = 1;
    if (max_entries > SIZE_MAX / 4 / sizeof (s_entry_t *)) return NULL;
    sb_schema_cache_t *self = calloc (1, sizeof *self);
    if (!self) return NULL;
    self->max_entries = max_entries;
    self->bucket_count = 16;
    while (self->bucket_count < 2 * max_entries)
        self->bucket_count *= 2;
    self->buckets = calloc (self->bucket_count, sizeof *self->buckets);
    if (!self->buckets) {
        free (self);
        return NULL;
    }
    return self;
}

static void
s_entry_destroy (s_entry_t *entry)
{
    sb_schema_destroy (&entry->schema);
    json_decref (entry->doc);
    free (entry->error);
    free (entry);
}

void
sb_schema_cache_destroy (sb_schema_cache_t **self_p)
{
    if (!self_p || !*self_p) return;
    sb_schema_cache_t *self = *self_p;
    s_entry_t *entry = self->newest;
    while (entry) {
        s_entry_t *older = entry->older;
        s_entry_destroy (entry);
        entry = older;
    }
    free (self->buckets);
    free (self);
    *self_p = NULL;
}

static void
s_unlink_recency (sb_schema_cache_t *self, s_entry_t *entry)
{
    if (entry->newer)
        entry->newer->older = entry->older;
    else
        self->newest = entry->older;
    if (entry->older)
        entry->older->newer = entry->newer;
    else
        self->oldest = entry->newer;
    entry->newer = entry->older = NULL;
}

static void
s_push_newest (sb_schema_cache_t *self, s_entry_t *entry)
{
    entry->older = self->newest;
    entry->newer = NULL;
    if (self->newest) self->newest->newer = entry;
    self->newest = entry;
    if (!self->oldest) self->oldest = entry;
}

static void
s_evict_oldest (sb_schema_cache_t *self)
{
    s_entry_t *victim = self->oldest;
    assert (victim);
    s_entry_t **link = &self->buckets[victim->hash & (self->bucket_count - 1)];
    while (*link != victim)
        link = &(*link)->chain;
    *link = victim->chain;
    s_unlink_recency (self, victim);
    s_entry_destroy (victim);
    self->count--;
    self->stats.evictions++;
}

sb_schema_t *
sb_schema_cache_get (sb_schema_cache_t *self, json_t *schema_doc, char *err, size_t err_size)
{
    assert (self);
    char scratch[8];
    if (!err || err_size == 0) {
        err = scratch;
        err_size = sizeof scratch;
    }
    err[0] = 0;
    uint64_t hash;
    if (!schema_doc || sb_schema_value_hash (schema_doc, &hash) != 0) {
        //  Too deep to hash is far too deep to compile.
        snprintf (err, err_size, schema_doc ? "schema nested too deeply" : "no schema document");
        return NULL;
    }
    size_t bucket = hash & (self->bucket_count - 1);
    for (s_entry_t *entry = self->buckets[bucket]; entry; entry = entry->chain) {
        if (entry->hash != hash || !json_equal (entry->doc, schema_doc)) continue;
        self->stats.hits++;
        s_unlink_recency (self, entry);
        s_push_newest (self, entry);
        if (!entry->schema) snprintf (err, err_size, "%s", entry->error);
        return entry->schema;
    }

    self->stats.misses++;
    s_entry_t *entry = calloc (1, sizeof *entry);
    if (!entry) {
        snprintf (err, err_size, "out of memory");
        return NULL;
    }
    entry->hash = hash;
    //  A private copy: the compiled schema borrows pointers into its document,
    //  which must not change under it when the caller reuses schema_doc.
    entry->doc = json_deep_copy (schema_doc);
    char reason[256] = "out of memory";
    if (entry->doc)
        entry->schema = sb_schema_new (entry->doc, SB_DRAFT_AUTO, NULL, reason, sizeof reason);
    //  Running out of memory says nothing about the schema: not worth remembering.
    if (!entry->schema &&
        (strcmp (reason, "out of memory") == 0 || !(entry->error = strdup (reason)))) {
        s_entry_destroy (entry);
        snprintf (err, err_size, "%s", reason);
        return NULL;
    }
    if (self->count == self->max_entries) s_evict_oldest (self);
    entry->chain = self->buckets[bucket];
    self->buckets[bucket] = entry;
    s_push_newest (self, entry);
    self->count++;
    if (!entry->schema) snprintf (err, err_size, "%s", reason);
    return entry->schema;
}

void
sb_schema_cache_stats (const sb_schema_cache_t *self, sb_schema_cache_stats_t *stats)
{
    assert (self && stats);
    *stats = self->stats;
    stats->entries = self->count;
}
