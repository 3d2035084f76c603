/*  sb_admin_logs — request records from Redis: filters, listing with a cursor,
    one record with bodies and chunks, and the live tail. Runs on admin's
    Redis thread; every command is bounded by the context's timeout.  */

#include "sb_admin_logs.h"
#include "sb_clock.h"
#include "sb_oai_error.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  -------------------------------------------------------------------------
//  Filters

void
sb_admin_logs_filter_init (sb_admin_logs_filter_t *filter)
{
    memset (filter, 0, sizeof *filter);
    filter->limit = SB_ADMIN_LOGS_DEFAULT_LIMIT;
}

static int
s_u64 (const char *text, uint64_t *out)
{
    if (!*text || *text == '-' || *text == '+') return -1;
    char *end;
    errno = 0;
    unsigned long long n = strtoull (text, &end, 10);
    if (errno || *end) return -1;
    *out = n;
    return 0;
}

//  An entry id "<ms>-<seq>" or "<ms>".
static bool
s_valid_entry_id (const char *id)
{
    uint64_t ms, seq;
    char head[32];
    const char *dash = strchr (id, '-');
    size_t n = dash ? (size_t)(dash - id) : strlen (id);
    if (n == 0 || n >= sizeof head) return false;
    memcpy (head, id, n);
    head[n] = '\0';
    return s_u64 (head, &ms) == 0 && (!dash || s_u64 (dash + 1, &seq) == 0);
}

static int
s_string_arg (char *dst, size_t size, const char *name, const char *value, char *err,
              size_t err_size)
{
    size_t n = strlen (value);
    if (n >= size) {
        snprintf (err, err_size, "Query parameter '%s' is longer than %zu bytes.", name, size - 1);
        return -1;
    }
    memcpy (dst, value, n + 1);
    return 0;
}

int
sb_admin_logs_filter_arg (sb_admin_logs_filter_t *f, const char *name, const char *value, char *err,
                          size_t err_size)
{
    uint64_t n;
    if (strcmp (name, "limit") == 0) {
        if (s_u64 (value, &n) || n < 1 || n > SB_ADMIN_LOGS_MAX_LIMIT) {
            snprintf (err, err_size, "Query parameter 'limit' must be a number from 1 to %d.",
                      SB_ADMIN_LOGS_MAX_LIMIT);
            return -1;
        }
        f->limit = (unsigned)n;
    } else if (strcmp (name, "before") == 0) {
        if (strlen (value) >= sizeof f->before || !s_valid_entry_id (value)) {
            snprintf (err, err_size,
                      "Query parameter 'before' must be a cursor from 'next_before' "
                      "(<ms>-<seq>).");
            return -1;
        }
        snprintf (f->before, sizeof f->before, "%s", value);
    } else if (strcmp (name, "key") == 0)
        return s_string_arg (f->key, sizeof f->key, name, value, err, err_size);
    else if (strcmp (name, "model") == 0)
        return s_string_arg (f->model, sizeof f->model, name, value, err, err_size);
    else if (strcmp (name, "group") == 0)
        return s_string_arg (f->group, sizeof f->group, name, value, err, err_size);
    else if (strcmp (name, "channel") == 0)
        return s_string_arg (f->channel, sizeof f->channel, name, value, err, err_size);
    else if (strcmp (name, "status") == 0) {
        size_t len = strlen (value);
        if (strcmp (value, "error") == 0) {
            f->status_min = 400;
            f->status_max = 999;
        } else if (len == 3 && value[0] >= '1' && value[0] <= '5' && value[1] == 'x' &&
                   value[2] == 'x') {
            f->status_min = (value[0] - '0') * 100;
            f->status_max = f->status_min + 99;
        } else if (s_u64 (value, &n) == 0 && n >= 100 && n <= 999) {
            f->status_min = f->status_max = (int)n;
        } else {
            snprintf (err, err_size,
                      "Query parameter 'status' must be a status (200), a class (5xx) or "
                      "'error'.");
            return -1;
        }
    } else if (strcmp (name, "since") == 0 || strcmp (name, "until") == 0) {
        if (s_u64 (value, &n) || n == 0 || n > 100000000000000ull) {
            snprintf (err, err_size, "Query parameter '%s' must be a time in unix milliseconds.",
                      name);
            return -1;
        }
        if (name[0] == 's')
            f->since_ms = n;
        else
            f->until_ms = n;
    } else if (strcmp (name, "tool_issues") == 0) {
        if (strcmp (value, "1") && strcmp (value, "0") && strcmp (value, "true") &&
            strcmp (value, "false")) {
            snprintf (err, err_size, "Query parameter 'tool_issues' must be 1 or 0.");
            return -1;
        }
        f->tool_issues = value[0] == '1' || value[0] == 't';
    }
    return 0;
}

bool
sb_admin_logs_valid_id (const char *id)
{
    size_t n = strlen (id);
    if (n == 0 || n > SB_ADMIN_LOGS_MAX_ID) return false;
    for (const char *p = id; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p > 0x7e || *p == '/') return false;
    return true;
}

//  -------------------------------------------------------------------------
//  Records

//  One stream entry: pointers into the reply.
typedef struct {
    const char *id;
    const redisReply *request_id, *ts_us, *data, *request_body, *response_body, *chunks;
} s_entry_t;

static int
s_entry (const redisReply *item, s_entry_t *e)
{
    memset (e, 0, sizeof *e);
    if (item->type != REDIS_REPLY_ARRAY || item->elements != 2 ||
        item->element[0]->type != REDIS_REPLY_STRING || item->element[1]->type != REDIS_REPLY_ARRAY)
        return -1;
    e->id = item->element[0]->str;
    const redisReply *fields = item->element[1];
    for (size_t i = 0; i + 1 < fields->elements; i += 2) {
        const redisReply *k = fields->element[i], *v = fields->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) continue;
        if (strcmp (k->str, "request_id") == 0)
            e->request_id = v;
        else if (strcmp (k->str, "ts_us") == 0)
            e->ts_us = v;
        else if (strcmp (k->str, "data") == 0)
            e->data = v;
        else if (strcmp (k->str, "request_body") == 0)
            e->request_body = v;
        else if (strcmp (k->str, "response_body") == 0)
            e->response_body = v;
        else if (strcmp (k->str, "chunks") == 0)
            e->chunks = v;
    }
    return 0;
}

//  Length of the valid UTF-8 sequence at p (1 … 4), or 0 when it is not one.
static size_t
s_utf8_len (const unsigned char *p, size_t n)
{
    if (p[0] < 0x80) return 1;
    size_t len = (p[0] & 0xe0) == 0xc0   ? 2
                 : (p[0] & 0xf0) == 0xe0 ? 3
                 : (p[0] & 0xf8) == 0xf0 ? 4
                                         : 0;
    if (!len || len > n) return 0;
    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xc0) != 0x80) return 0;
    uint32_t cp = len == 2 ? (uint32_t)(p[0] & 0x1f) << 6 | (p[1] & 0x3f)
                  : len == 3
                      ? (uint32_t)(p[0] & 0x0f) << 12 | (uint32_t)(p[1] & 0x3f) << 6 | (p[2] & 0x3f)
                      : (uint32_t)(p[0] & 0x07) << 18 | (uint32_t)(p[1] & 0x3f) << 12 |
                            (uint32_t)(p[2] & 0x3f) << 6 | (p[3] & 0x3f);
    //  Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0;
    return len;
}

//  Bytes as a JSON string: invalid UTF-8 becomes U+FFFD (*lossy), and at most
//  `max` input bytes are taken (*cut).
static json_t *
s_text (const char *data, size_t n, size_t max, bool *lossy, bool *cut)
{
    if (n > max) {
        n = max;
        if (cut) *cut = true;
    }
    char *out = malloc (n * 3 + 1);
    if (!out) return NULL;
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)data;
    for (size_t i = 0; i < n;) {
        size_t k = s_utf8_len (p + i, n - i);
        if (k && !(k == 1 && p[i] == 0)) {
            memcpy (out + o, p + i, k);
            o += k;
            i += k;
        } else {
            memcpy (out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
            if (lossy) *lossy = true;
        }
    }
    json_t *s = json_stringn (out, o);
    free (out);
    return s;
}

json_t *
sb_admin_logs_decode_chunks (const char *data, size_t len, bool *truncated, bool *malformed)
{
    json_t *list = json_array ();
    if (!list) return NULL;
    size_t at = 0;
    while (at < len) {
        if (json_array_size (list) >= SB_ADMIN_LOGS_MAX_CHUNKS) {
            if (truncated) *truncated = true;
            break;
        }
        //  "<offset_ms> <len>\n"
        const char *nl = memchr (data + at, '\n', len - at < 48 ? len - at : 48);
        char head[48];
        unsigned long long offset, size;
        char extra;
        if (!nl || (size_t)(nl - (data + at)) >= sizeof head) goto bad;
        memcpy (head, data + at, (size_t)(nl - (data + at)));
        head[nl - (data + at)] = '\0';
        if (sscanf (head, "%llu %llu%c", &offset, &size, &extra) != 2) goto bad;
        at = (size_t)(nl - data) + 1;
        if (size > len - at) goto bad;
        json_t *text = s_text (data + at, (size_t)size, (size_t)size, NULL, NULL);
        json_t *item =
            text ? json_pack ("{s:I,s:o}", "offset_ms", (json_int_t)offset, "data", text) : NULL;
        if (!item) {
            json_decref (list);
            return NULL;
        }
        json_array_append_new (list, item);
        at += (size_t)size;
        if (at < len && data[at] == '\n') at++;
        continue;
    bad:
        if (malformed) *malformed = true;
        break;
    }
    return list;
}

static uint64_t
s_entry_ts_us (const s_entry_t *e)
{
    uint64_t ts = 0;
    if (e->ts_us && s_u64 (e->ts_us->str, &ts) == 0) return ts;
    //  No ts_us: the entry id's milliseconds (when Redis stored it).
    unsigned long long ms = strtoull (e->id, NULL, 10);
    return (uint64_t)ms * 1000u;
}

//  {"id","ts_us","request_id","record"} of an entry whose data parsed as `record`
//  (reference taken).
static json_t *
s_item (const s_entry_t *e, json_t *record)
{
    return json_pack ("{s:s,s:I,s:s%,s:o}", "id", e->id, "ts_us", (json_int_t)s_entry_ts_us (e),
                      "request_id", e->request_id ? e->request_id->str : "",
                      e->request_id ? e->request_id->len : 0, "record", record);
}

static bool
s_field_is (const json_t *record, const char *name, const char *want)
{
    if (!want[0]) return true;
    const char *v = json_string_value (json_object_get (record, name));
    return v && strcmp (v, want) == 0;
}

//  "mode=auto_fix; valid=0; fixed=1; invalid=0" or "skipped; …"
static bool
s_tool_issue (const json_t *record)
{
    const char *tv = json_string_value (json_object_get (record, "tool_validation"));
    if (!tv || !tv[0]) return false;
    if (strstr (tv, "skipped")) return true;
    const char *fixed = strstr (tv, "fixed="), *invalid = strstr (tv, "invalid=");
    return (fixed && strtol (fixed + 6, NULL, 10) > 0) ||
           (invalid && strtol (invalid + 8, NULL, 10) > 0);
}

static bool
s_matches (const sb_admin_logs_filter_t *f, const json_t *record, uint64_t ts_us)
{
    if (!s_field_is (record, "key", f->key) || !s_field_is (record, "model", f->model) ||
        !s_field_is (record, "group", f->group) || !s_field_is (record, "channel", f->channel))
        return false;
    if (f->status_min) {
        json_int_t status = json_integer_value (json_object_get (record, "status"));
        if (status < f->status_min || status > f->status_max) return false;
    }
    if (f->since_ms && ts_us / 1000 < f->since_ms) return false;
    if (f->until_ms && ts_us / 1000 > f->until_ms) return false;
    if (f->tool_issues && !s_tool_issue (record)) return false;
    return true;
}

//  The id just before `id` ("(" ranges need Redis 6.2; this works on 5).
//  Returns -1 when nothing can be older.
static int
s_predecessor (const char *id, char *out, size_t size)
{
    unsigned long long ms = 0, seq = 0;
    int fields = sscanf (id, "%llu-%llu", &ms, &seq);
    if (fields < 1) return -1;
    if (fields == 2 && seq > 0)
        snprintf (out, size, "%llu-%llu", ms, seq - 1);
    else if (ms > 0)
        snprintf (out, size, "%llu-18446744073709551615", ms - 1);
    else
        return -1;
    return 0;
}

static int
s_error (char **body, size_t *len, int status, const char *message, const char *code)
{
    char buf[1024];
    size_t n = sb_oai_error_body (buf, sizeof buf, status, message, NULL, code);
    *body = strndup (buf, n);
    *len = *body ? n : 0;
    return *body ? status : 500;
}

static int
s_redis_error (redisContext *c, const redisReply *reply, char **body, size_t *len)
{
    char msg[512];
    if (!reply)
        snprintf (msg, sizeof msg, "Request logs are unavailable: Redis: %s",
                  c->errstr[0] ? c->errstr : "no answer");
    else
        snprintf (msg, sizeof msg, "Request logs are unavailable: Redis: %.400s",
                  reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
    return s_error (body, len, 503, msg, "logs_unavailable");
}

static int
s_dump (json_t *doc, char **body, size_t *len)
{
    *body = doc ? json_dumps (doc, JSON_COMPACT) : NULL;
    json_decref (doc);
    if (!*body) return s_error (body, len, 500, "Out of memory", "internal_error");
    *len = strlen (*body);
    return 200;
}

int
sb_admin_logs_list (redisContext *c, const sb_admin_logs_filter_t *f, uint64_t deadline_us,
                    char **body, size_t *len)
{
    char end[64] = "+", start[32] = "-", last[64] = "";
    unsigned scanned = 0;
    bool more = false, exhausted = false;
    if (f->before[0] && s_predecessor (f->before, end, sizeof end)) exhausted = true;
    if (f->since_ms)
        //  Entry ids are the time Redis stored a record, never before the request
        //  ended, so older ids cannot hold newer requests.
        snprintf (start, sizeof start, "%" PRIu64 "-0", f->since_ms);
    json_t *data = json_array ();
    if (!data) return s_error (body, len, 500, "Out of memory", "internal_error");

    while (!exhausted && !more) {
        if (scanned >= SB_ADMIN_LOGS_MAX_SCAN || sb_mono_us () > deadline_us) {
            more = scanned > 0; // stopped early: the cursor says where to go on
            break;
        }
        redisReply *reply = redisCommand (c, "XREVRANGE %s %s %s COUNT %d", SB_ADMIN_LOGS_STREAM,
                                          end, start, SB_ADMIN_LOGS_BATCH);
        if (!reply || reply->type != REDIS_REPLY_ARRAY) {
            int status = s_redis_error (c, reply, body, len);
            freeReplyObject (reply);
            json_decref (data);
            return status;
        }
        for (size_t i = 0; i < reply->elements && !more; i++) {
            s_entry_t e;
            if (s_entry (reply->element[i], &e)) continue;
            scanned++;
            snprintf (last, sizeof last, "%s", e.id);
            json_t *record = e.data ? json_loadb (e.data->str, e.data->len, 0, NULL) : NULL;
            if (json_is_object (record) && s_matches (f, record, s_entry_ts_us (&e))) {
                json_array_append_new (data, s_item (&e, record));
                if (json_array_size (data) >= f->limit) more = true;
            } else
                json_decref (record);
        }
        exhausted = reply->elements < SB_ADMIN_LOGS_BATCH || !last[0] ||
                    s_predecessor (last, end, sizeof end) != 0;
        freeReplyObject (reply);
    }
    json_t *doc = json_pack ("{s:s,s:o,s:b,s:o,s:i}", "object", "list", "data", data, "has_more",
                             more, "next_before", more ? json_string (last) : json_null (),
                             "scanned", (int)scanned);
    return s_dump (doc, body, len);
}

int
sb_admin_logs_get (redisContext *c, const char *request_id, char **body, size_t *len)
{
    redisReply *ref = redisCommand (c, "GET sb:{log}:req:%s", request_id);
    if (!ref || (ref->type != REDIS_REPLY_STRING && ref->type != REDIS_REPLY_NIL)) {
        int status = s_redis_error (c, ref, body, len);
        freeReplyObject (ref);
        return status;
    }
    char msg[SB_ADMIN_LOGS_MAX_ID + 128];
    snprintf (msg, sizeof msg, "No request log for '%s' (not written yet, or expired).",
              request_id);
    if (ref->type == REDIS_REPLY_NIL) {
        freeReplyObject (ref);
        return s_error (body, len, 404, msg, "not_found");
    }
    redisReply *reply =
        redisCommand (c, "XRANGE %s %s %s", SB_ADMIN_LOGS_STREAM, ref->str, ref->str);
    freeReplyObject (ref);
    if (!reply || reply->type != REDIS_REPLY_ARRAY) {
        int status = s_redis_error (c, reply, body, len);
        freeReplyObject (reply);
        return status;
    }
    s_entry_t e;
    if (reply->elements != 1 || s_entry (reply->element[0], &e)) {
        freeReplyObject (reply);
        return s_error (body, len, 404, msg, "not_found"); // trimmed from the stream
    }
    json_t *record = e.data ? json_loadb (e.data->str, e.data->len, 0, NULL) : NULL;
    if (!json_is_object (record)) {
        json_decref (record);
        record = json_object ();
    }
    json_t *doc = s_item (&e, record);
    if (doc) {
        bool lossy = false, cut = false;
        if (e.request_body)
            json_object_set_new (doc, "request_body",
                                 s_text (e.request_body->str, e.request_body->len,
                                         SB_ADMIN_LOGS_MAX_BODY, &lossy, &cut));
        if (e.response_body && e.response_body->len)
            json_object_set_new (doc, "response_body",
                                 s_text (e.response_body->str, e.response_body->len,
                                         SB_ADMIN_LOGS_MAX_BODY, &lossy, &cut));
        if (e.chunks && e.chunks->len) {
            bool truncated = false, malformed = false;
            json_object_set_new (
                doc, "chunks",
                sb_admin_logs_decode_chunks (e.chunks->str, e.chunks->len, &truncated, &malformed));
            if (truncated) json_object_set_new (doc, "chunks_truncated", json_true ());
            if (malformed) json_object_set_new (doc, "chunks_malformed", json_true ());
        }
        //  Bodies are shown as text: what was not UTF-8 is marked, not hidden.
        if (lossy) json_object_set_new (doc, "bodies_lossy", json_true ());
        if (cut) json_object_set_new (doc, "bodies_cut", json_true ());
    }
    freeReplyObject (reply);
    return s_dump (doc, body, len);
}

static int
s_newest (redisContext *c, char *last_id, size_t last_size)
{
    redisReply *reply = redisCommand (c, "XREVRANGE %s + - COUNT 1", SB_ADMIN_LOGS_STREAM);
    if (!reply || reply->type != REDIS_REPLY_ARRAY) {
        freeReplyObject (reply);
        return -1;
    }
    s_entry_t e;
    if (reply->elements == 1 && s_entry (reply->element[0], &e) == 0)
        snprintf (last_id, last_size, "%s", e.id);
    else
        snprintf (last_id, last_size, "0-0");
    freeReplyObject (reply);
    return 0;
}

int
sb_admin_logs_tail (redisContext *c, char *last_id, size_t last_size, char **msg, size_t *len)
{
    *msg = NULL;
    *len = 0;
    if (!last_id[0]) return s_newest (c, last_id, last_size);
    redisReply *reply = redisCommand (c, "XREAD COUNT %d STREAMS %s %s", SB_ADMIN_LOGS_TAIL_COUNT,
                                      SB_ADMIN_LOGS_STREAM, last_id);
    if (!reply || (reply->type != REDIS_REPLY_ARRAY && reply->type != REDIS_REPLY_NIL)) {
        freeReplyObject (reply);
        return -1;
    }
    const redisReply *entries = NULL;
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 1 &&
        reply->element[0]->type == REDIS_REPLY_ARRAY && reply->element[0]->elements == 2 &&
        reply->element[0]->element[1]->type == REDIS_REPLY_ARRAY)
        entries = reply->element[0]->element[1];
    if (!entries || entries->elements == 0) {
        freeReplyObject (reply);
        return 0;
    }
    json_t *data = json_array ();
    for (size_t i = 0; data && i < entries->elements; i++) {
        s_entry_t e;
        if (s_entry (entries->element[i], &e)) continue;
        snprintf (last_id, last_size, "%s", e.id);
        json_t *record = e.data ? json_loadb (e.data->str, e.data->len, 0, NULL) : NULL;
        if (json_is_object (record))
            json_array_append_new (data, s_item (&e, record));
        else
            json_decref (record);
    }
    bool more = entries->elements >= SB_ADMIN_LOGS_TAIL_COUNT;
    freeReplyObject (reply);
    //  Behind by a full batch: the dashboard wants now, not a backlog.
    if (more && s_newest (c, last_id, last_size)) {
        json_decref (data);
        return -1;
    }
    if (!data || json_array_size (data) == 0) {
        json_decref (data);
        return 0;
    }
    json_t *doc =
        json_pack ("{s:s,s:o,s:b}", "type", "requests", "data", data, "more", more ? 1 : 0);
    *msg = doc ? json_dumps (doc, JSON_COMPACT) : NULL;
    json_decref (doc);
    if (*msg) *len = strlen (*msg);
    return 0;
}
