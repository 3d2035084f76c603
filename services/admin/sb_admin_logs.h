/*  sb_admin_logs — the request records the logger keeps in Redis, read for the
    logs API and the dashboard's live feed: a filtered, paged listing (newest
    first), one record with its bodies and decoded stream chunks, and the tail
    of the stream. Filters are parsed here (HTTP-free); the queries take a
    connected hiredis context and run on admin's Redis thread (sb_admin_redis),
    never on the lws thread.

    Keys (the logger's): stream sb:{log}:requests, entries with fields
    request_id, ts_us, data (JSON metadata), request_body, response_body,
    chunks; sb:{log}:req:<request_id> holds a record's entry id.  */

#ifndef SB_ADMIN_LOGS_H_INCLUDED
#define SB_ADMIN_LOGS_H_INCLUDED

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SB_ADMIN_LOGS_STREAM        "sb:{log}:requests"
#define SB_ADMIN_LOGS_DEFAULT_LIMIT 50
#define SB_ADMIN_LOGS_MAX_LIMIT     200
#define SB_ADMIN_LOGS_MAX_SCAN      5000       // entries one listing reads at most
#define SB_ADMIN_LOGS_BATCH         50         // entries per XREVRANGE (bodies come along)
#define SB_ADMIN_LOGS_MAX_BODY      (4u << 20) // each body in a detail answer
#define SB_ADMIN_LOGS_MAX_CHUNKS    20000      // decoded chunks in a detail answer
#define SB_ADMIN_LOGS_TAIL_COUNT    50         // records per tail poll
#define SB_ADMIN_LOGS_MAX_ID        256        // request ids (x-request-id)
#define SB_ADMIN_LOGS_FIELD         256        // filter values

//  A listing's filters. Empty strings and zeros mean "any".
typedef struct {
    unsigned limit;                    // 1 … SB_ADMIN_LOGS_MAX_LIMIT
    char before[48];                   // cursor: entries strictly older than this entry id
    char key[SB_ADMIN_LOGS_FIELD + 1]; // API key name
    char model[SB_ADMIN_LOGS_FIELD + 1];
    char group[SB_ADMIN_LOGS_FIELD + 1];
    char channel[SB_ADMIN_LOGS_FIELD + 1];
    int status_min, status_max;  // inclusive
    uint64_t since_ms, until_ms; // request time (ts_us), unix ms, inclusive
    bool tool_issues;            // only records with fixed / invalid / skipped tool calls
} sb_admin_logs_filter_t;

void sb_admin_logs_filter_init (sb_admin_logs_filter_t *filter);

//  Applies one query argument (name=value, decoded). Unknown names are
//  ignored. Returns -1 and writes a message naming the parameter into err when
//  the value is invalid.
int sb_admin_logs_filter_arg (sb_admin_logs_filter_t *filter, const char *name, const char *value,
                              char *err, size_t err_size);

//  True when `id` may be a request id: 1 … SB_ADMIN_LOGS_MAX_ID printable
//  ASCII characters, no '/'.
bool sb_admin_logs_valid_id (const char *id);

//  Each query returns an HTTP status and fills *body (caller frees) with the
//  JSON answer: 200 with the data, 404 for an unknown id, 503 when Redis
//  failed (the context is then unusable: c->err is set), 500 when memory runs
//  out. deadline_us (monotonic) bounds a listing's scan: past it the listing
//  returns what it has with a cursor.
int sb_admin_logs_list (redisContext *c, const sb_admin_logs_filter_t *filter, uint64_t deadline_us,
                        char **body, size_t *len);
int sb_admin_logs_get (redisContext *c, const char *request_id, char **body, size_t *len);

//  Reads records after *last_id (an entry id; "" the first time: only
//  remembers the newest) and builds the dashboard message
//  {"type":"requests","data":[…],"more":bool} into *msg (NULL when there is
//  nothing new). When more than SB_ADMIN_LOGS_TAIL_COUNT arrived since the last
//  poll it skips to the newest ("more": true). Returns 0, or -1 when Redis
//  failed.
int sb_admin_logs_tail (redisContext *c, char *last_id, size_t last_size, char **msg, size_t *len);

//  Decodes a stream capture ("<offset_ms> <len>\n<bytes>\n" per chunk) into a
//  JSON array of {"offset_ms","data"}; at most SB_ADMIN_LOGS_MAX_CHUNKS (then
//  *truncated). *malformed is set when the capture does not follow the format
//  (what precedes the fault is kept). Caller owns the result; NULL on OOM.
json_t *sb_admin_logs_decode_chunks (const char *data, size_t len, bool *truncated,
                                     bool *malformed);

#endif
