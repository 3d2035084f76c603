/*  sb_admin_store — admin's config store in SQLite: every configured object
    (channel, model group, API key, tool, price, setting) is one row of JSON
    keyed by (kind, id), plus a meta table holding the config sequence number.
    The store knows nothing about what a valid object is (sb_admin_api checks
    that); it keeps rows, transactions and the order objects were created in.
    Runs on admin's lws thread only.  */

#ifndef SB_ADMIN_STORE_H_INCLUDED
#define SB_ADMIN_STORE_H_INCLUDED

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _sb_admin_store_t sb_admin_store_t;

//  Opens (creating if needed) the database at path. Returns NULL and writes why
//  into err when it cannot be opened or its schema is from a newer version.
sb_admin_store_t *sb_admin_store_new (const char *path, char *err, size_t err_size);
void sb_admin_store_destroy (sb_admin_store_t **self_p);

//  True once the store was seeded (or started empty) on a first start: seeding
//  never happens again, even after every object was deleted.
bool sb_admin_store_initialized (sb_admin_store_t *self);
int sb_admin_store_mark_initialized (sb_admin_store_t *self);

//  Transactions: all changes of one API call commit together or not at all.
//  begin returns -1 when a transaction cannot start (the database is locked by
//  another process past the busy timeout, or I/O fails).
int sb_admin_store_begin (sb_admin_store_t *self);
int sb_admin_store_commit (sb_admin_store_t *self);
void sb_admin_store_rollback (sb_admin_store_t *self);

//  All objects of a kind, in creation order, as a JSON array (caller owns); for
//  "settings" an object {id: value}. NULL on a database error.
json_t *sb_admin_store_list (sb_admin_store_t *self, const char *kind);

//  One object (caller owns), or NULL when there is none (or on error).
json_t *sb_admin_store_get (sb_admin_store_t *self, const char *kind, const char *id);

//  Number of objects of a kind, or -1 on error.
long sb_admin_store_count (sb_admin_store_t *self, const char *kind);

//  Inserts a new object. Returns 0, 1 when the id is taken, -1 on error.
int sb_admin_store_insert (sb_admin_store_t *self, const char *kind, const char *id,
                           const json_t *doc);

//  Replaces the object `id` with doc under new_id (same id: an update; another
//  id: a rename that keeps its place in creation order). Returns 0, 1 when `id`
//  does not exist, 2 when new_id is taken by another object, -1 on error.
int sb_admin_store_replace (sb_admin_store_t *self, const char *kind, const char *id,
                            const char *new_id, const json_t *doc);

//  Inserts or replaces (settings). Returns 0 or -1.
int sb_admin_store_upsert (sb_admin_store_t *self, const char *kind, const char *id,
                           const json_t *doc);

//  Returns 0, 1 when it did not exist, -1 on error.
int sb_admin_store_delete (sb_admin_store_t *self, const char *kind, const char *id);

//  Deletes every object of a kind. Returns 0 or -1.
int sb_admin_store_delete_all (sb_admin_store_t *self, const char *kind);

//  The config sequence number (0 before the first change) and its update, which
//  belongs in the transaction of the change it numbers.
uint64_t sb_admin_store_seq (sb_admin_store_t *self);
int sb_admin_store_set_seq (sb_admin_store_t *self, uint64_t seq);

//  The last SQLite error message (for logs).
const char *sb_admin_store_error (sb_admin_store_t *self);

#endif
