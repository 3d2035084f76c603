/*  sb_admin_store — SQLite rows of JSON, one table for every kind of object.
    WAL mode so a reader (sqlite3 CLI, backups) never blocks admin; a busy timeout
    so a brief lock held by such a reader is waited out instead of failing.  */

#include "sb_admin_store.h"

#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_SCHEMA_VERSION 1
#define S_BUSY_MS        2000

//  Invariant: db is open; in_tx says a transaction begun by us is open.
struct _sb_admin_store_t {
    sqlite3 *db;
    bool in_tx;
};

static const char s_schema[] =
    "CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);"
    //  rowid order is creation order: an update or a rename keeps the row.
    "CREATE TABLE IF NOT EXISTS objects ("
    "  kind TEXT NOT NULL, id TEXT NOT NULL, doc TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,"
    "  PRIMARY KEY (kind, id));";

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static sqlite3_stmt *
s_prepare (sb_admin_store_t *self, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2 (self->db, sql, -1, &stmt, NULL) != SQLITE_OK) return NULL;
    return stmt;
}

static int
s_exec (sb_admin_store_t *self, const char *sql)
{
    return sqlite3_exec (self->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

//  Reads meta[k] into buf; returns 0, 1 when absent, -1 on error.
static int
s_meta_get (sb_admin_store_t *self, const char *k, char *buf, size_t size)
{
    sqlite3_stmt *stmt = s_prepare (self, "SELECT v FROM meta WHERE k = ?");
    if (!stmt) return -1;
    sqlite3_bind_text (stmt, 1, k, -1, SQLITE_STATIC);
    int rc = sqlite3_step (stmt);
    int result = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
    if (result == 0) snprintf (buf, size, "%s", (const char *)sqlite3_column_text (stmt, 0));
    sqlite3_finalize (stmt);
    return result;
}

static int
s_meta_set (sb_admin_store_t *self, const char *k, const char *v)
{
    sqlite3_stmt *stmt = s_prepare (self, "INSERT INTO meta (k, v) VALUES (?, ?) "
                                          "ON CONFLICT (k) DO UPDATE SET v = excluded.v");
    if (!stmt) return -1;
    sqlite3_bind_text (stmt, 1, k, -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 2, v, -1, SQLITE_STATIC);
    int rc = sqlite3_step (stmt);
    sqlite3_finalize (stmt);
    return rc == SQLITE_DONE ? 0 : -1;
}

sb_admin_store_t *
sb_admin_store_new (const char *path, char *err, size_t err_size)
{
    sb_admin_store_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, err_size, "out of memory");
        return NULL;
    }
    int rc = sqlite3_open_v2 (
        path, &self->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf (err, err_size, "%s: %s", path,
                  self->db ? sqlite3_errmsg (self->db) : sqlite3_errstr (rc));
        goto fail;
    }
    sqlite3_busy_timeout (self->db, S_BUSY_MS);
    //  NORMAL in WAL mode: a committed change survives a crash of admin; a power
    //  loss may lose the last transactions, never corrupt the file.
    if (s_exec (self, "PRAGMA journal_mode = WAL") ||
        s_exec (self, "PRAGMA synchronous = NORMAL") || s_exec (self, s_schema)) {
        snprintf (err, err_size, "%s: %s", path, sqlite3_errmsg (self->db));
        goto fail;
    }
    char version[32];
    rc = s_meta_get (self, "schema_version", version, sizeof version);
    if (rc == 1) {
        char v[16];
        snprintf (v, sizeof v, "%d", S_SCHEMA_VERSION);
        rc = s_meta_set (self, "schema_version", v);
    } else if (rc == 0 && strtol (version, NULL, 10) > S_SCHEMA_VERSION) {
        snprintf (err, err_size, "%s: schema version %s is newer than this admin (%d)", path,
                  version, S_SCHEMA_VERSION);
        goto fail;
    }
    if (rc != 0) {
        snprintf (err, err_size, "%s: %s", path, sqlite3_errmsg (self->db));
        goto fail;
    }
    return self;

fail:
    sb_admin_store_destroy (&self);
    return NULL;
}

void
sb_admin_store_destroy (sb_admin_store_t **self_p)
{
    if (!self_p || !*self_p) return;
    sb_admin_store_t *self = *self_p;
    if (self->in_tx) sb_admin_store_rollback (self);
    sqlite3_close (self->db);
    free (self);
    *self_p = NULL;
}

bool
sb_admin_store_initialized (sb_admin_store_t *self)
{
    char v[32];
    return s_meta_get (self, "initialized_ms", v, sizeof v) == 0;
}

int
sb_admin_store_mark_initialized (sb_admin_store_t *self)
{
    char v[32];
    snprintf (v, sizeof v, "%" PRId64, s_now_ms ());
    return s_meta_set (self, "initialized_ms", v);
}

int
sb_admin_store_begin (sb_admin_store_t *self)
{
    //  IMMEDIATE takes the write lock now, so the validation that follows reads
    //  exactly the state the change will commit on top of.
    if (s_exec (self, "BEGIN IMMEDIATE")) return -1;
    self->in_tx = true;
    return 0;
}

int
sb_admin_store_commit (sb_admin_store_t *self)
{
    if (s_exec (self, "COMMIT")) {
        sb_admin_store_rollback (self);
        return -1;
    }
    self->in_tx = false;
    return 0;
}

void
sb_admin_store_rollback (sb_admin_store_t *self)
{
    if (self->in_tx) s_exec (self, "ROLLBACK");
    self->in_tx = false;
}

static json_t *
s_parse (const unsigned char *text)
{
    return text ? json_loads ((const char *)text, JSON_DECODE_ANY, NULL) : NULL;
}

json_t *
sb_admin_store_list (sb_admin_store_t *self, const char *kind)
{
    bool settings = strcmp (kind, "settings") == 0;
    sqlite3_stmt *stmt =
        s_prepare (self, "SELECT id, doc FROM objects WHERE kind = ? ORDER BY rowid");
    if (!stmt) return NULL;
    sqlite3_bind_text (stmt, 1, kind, -1, SQLITE_STATIC);
    json_t *result = settings ? json_object () : json_array ();
    int rc = SQLITE_DONE;
    while (result && (rc = sqlite3_step (stmt)) == SQLITE_ROW) {
        json_t *doc = s_parse (sqlite3_column_text (stmt, 1));
        if (!doc) continue; // unreadable row (edited by hand): skipped, not fatal
        if (settings)
            json_object_set_new (result, (const char *)sqlite3_column_text (stmt, 0), doc);
        else
            json_array_append_new (result, doc);
    }
    if (rc != SQLITE_DONE) {
        json_decref (result);
        result = NULL;
    }
    sqlite3_finalize (stmt);
    return result;
}

json_t *
sb_admin_store_get (sb_admin_store_t *self, const char *kind, const char *id)
{
    sqlite3_stmt *stmt = s_prepare (self, "SELECT doc FROM objects WHERE kind = ? AND id = ?");
    if (!stmt) return NULL;
    sqlite3_bind_text (stmt, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 2, id, -1, SQLITE_STATIC);
    json_t *doc = NULL;
    if (sqlite3_step (stmt) == SQLITE_ROW) doc = s_parse (sqlite3_column_text (stmt, 0));
    sqlite3_finalize (stmt);
    return doc;
}

long
sb_admin_store_count (sb_admin_store_t *self, const char *kind)
{
    sqlite3_stmt *stmt = s_prepare (self, "SELECT count(*) FROM objects WHERE kind = ?");
    if (!stmt) return -1;
    sqlite3_bind_text (stmt, 1, kind, -1, SQLITE_STATIC);
    long n = sqlite3_step (stmt) == SQLITE_ROW ? (long)sqlite3_column_int64 (stmt, 0) : -1;
    sqlite3_finalize (stmt);
    return n;
}

static char *
s_dump (const json_t *doc)
{
    return json_dumps (doc, JSON_COMPACT | JSON_ENCODE_ANY);
}

int
sb_admin_store_insert (sb_admin_store_t *self, const char *kind, const char *id, const json_t *doc)
{
    char *text = s_dump (doc);
    sqlite3_stmt *stmt = text ? s_prepare (self, "INSERT INTO objects (kind, id, doc, created_ms, "
                                                 "updated_ms) VALUES (?, ?, ?, ?, ?)")
                              : NULL;
    int result = -1;
    if (stmt) {
        int64_t now = s_now_ms ();
        sqlite3_bind_text (stmt, 1, kind, -1, SQLITE_STATIC);
        sqlite3_bind_text (stmt, 2, id, -1, SQLITE_STATIC);
        sqlite3_bind_text (stmt, 3, text, -1, SQLITE_STATIC);
        sqlite3_bind_int64 (stmt, 4, now);
        sqlite3_bind_int64 (stmt, 5, now);
        int rc = sqlite3_step (stmt);
        result = rc == SQLITE_DONE ? 0 : rc == SQLITE_CONSTRAINT ? 1 : -1;
    }
    sqlite3_finalize (stmt);
    free (text);
    return result;
}

int
sb_admin_store_replace (sb_admin_store_t *self, const char *kind, const char *id,
                        const char *new_id, const json_t *doc)
{
    char *text = s_dump (doc);
    sqlite3_stmt *stmt =
        text ? s_prepare (self, "UPDATE objects SET id = ?, doc = ?, updated_ms = ? "
                                "WHERE kind = ? AND id = ?")
             : NULL;
    int result = -1;
    if (stmt) {
        sqlite3_bind_text (stmt, 1, new_id, -1, SQLITE_STATIC);
        sqlite3_bind_text (stmt, 2, text, -1, SQLITE_STATIC);
        sqlite3_bind_int64 (stmt, 3, s_now_ms ());
        sqlite3_bind_text (stmt, 4, kind, -1, SQLITE_STATIC);
        sqlite3_bind_text (stmt, 5, id, -1, SQLITE_STATIC);
        int rc = sqlite3_step (stmt);
        if (rc == SQLITE_DONE)
            result = sqlite3_changes (self->db) ? 0 : 1;
        else
            result = rc == SQLITE_CONSTRAINT ? 2 : -1;
    }
    sqlite3_finalize (stmt);
    free (text);
    return result;
}

int
sb_admin_store_upsert (sb_admin_store_t *self, const char *kind, const char *id, const json_t *doc)
{
    char *text = s_dump (doc);
    sqlite3_stmt *stmt =
        text ? s_prepare (self, "INSERT INTO objects (kind, id, doc, created_ms, updated_ms) "
                                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (kind, id) DO UPDATE "
                                "SET doc = excluded.doc, updated_ms = excluded.updated_ms")
             : NULL;
    int result = -1;
    if (stmt) {
        int64_t now = s_now_ms ();
        sqlite3_bind_text (stmt, 1, kind, -1, SQLITE_STATIC);
        sqlite3_bind_text (stmt, 2, id, -1, SQLITE_STATIC);
        sqlite3_bind_text (stmt, 3, text, -1, SQLITE_STATIC);
        sqlite3_bind_int64 (stmt, 4, now);
        sqlite3_bind_int64 (stmt, 5, now);
        result = sqlite3_step (stmt) == SQLITE_DONE ? 0 : -1;
    }
    sqlite3_finalize (stmt);
    free (text);
    return result;
}

int
sb_admin_store_delete (sb_admin_store_t *self, const char *kind, const char *id)
{
    sqlite3_stmt *stmt = s_prepare (self, "DELETE FROM objects WHERE kind = ? AND id = ?");
    if (!stmt) return -1;
    sqlite3_bind_text (stmt, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 2, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step (stmt);
    int result = rc != SQLITE_DONE ? -1 : sqlite3_changes (self->db) ? 0 : 1;
    sqlite3_finalize (stmt);
    return result;
}

int
sb_admin_store_delete_all (sb_admin_store_t *self, const char *kind)
{
    sqlite3_stmt *stmt = s_prepare (self, "DELETE FROM objects WHERE kind = ?");
    if (!stmt) return -1;
    sqlite3_bind_text (stmt, 1, kind, -1, SQLITE_STATIC);
    int rc = sqlite3_step (stmt);
    sqlite3_finalize (stmt);
    return rc == SQLITE_DONE ? 0 : -1;
}

uint64_t
sb_admin_store_seq (sb_admin_store_t *self)
{
    char v[32];
    if (s_meta_get (self, "seq", v, sizeof v) != 0) return 0;
    return strtoull (v, NULL, 10);
}

int
sb_admin_store_set_seq (sb_admin_store_t *self, uint64_t seq)
{
    char v[32];
    snprintf (v, sizeof v, "%" PRIu64, seq);
    return s_meta_set (self, "seq", v);
}

const char *
sb_admin_store_error (sb_admin_store_t *self)
{
    return sqlite3_errmsg (self->db);
}
