/*  sb_msg — every message the Switchboard services exchange over ZeroMQ, defined
    once (the X-macro lists below) and carried by one msgpack codec. On the wire a
    message is one frame: a msgpack array [version, type, field1, field2, ...].
    HTTP bodies travel as msgpack `bin`, byte for byte, never re-encoded.

    Decoding is zero-copy: STR/BIN fields of a decoded message point into the frame
    that was decoded, which must outlive the message. Decoding never trusts input:
    unknown version or type, wrong field types, missing fields and oversize fields
    are errors (sb_msg_decode returns -1 and says why), never a crash.  */

#ifndef SB_MSG_H_INCLUDED
#define SB_MSG_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  2: CHAT carries where the body's `tools` array is (the router needs no rescan).
#define SB_PROTO_VERSION 2

#define SB_MAX_NAME  256         // names: keys, groups, models, channels
#define SB_MAX_TEXT  4096        // short texts: errors, trace ids, headers
#define SB_MAX_BODY  (64u << 20) // HTTP bodies and JSON documents
#define SB_MAX_CHUNK (16u << 20) // one streamed piece

typedef struct {
    const char *data; // not NUL-terminated; NULL when size == 0
    size_t size;
} sb_bytes_t;

//  Field kinds: U64, I64, DBL, BOOL, STR (utf-8 text, msgpack str), BIN (raw bytes).
//  F (kind, name, max_size) — max_size applies to STR/BIN and is 0 for scalars.

//  ingress → router: a chat completion to serve.
#define SB_CHAT_FIELDS(F)                                                                          \
    F (U64, id, 0)                 /* ingress request id: slot + generation */                     \
    F (STR, key_name, SB_MAX_NAME) /* the API key's name, never its secret */                      \
    F (STR, group, SB_MAX_NAME)    /* model group chosen by ingress */                             \
    F (STR, model, SB_MAX_NAME)    /* model as the client named it */                              \
    F (BOOL, stream, 0)            /* client asked for SSE */                                      \
    F (BOOL, include_usage, 0)     /* client asked stream_options.include_usage */                 \
    F (BIN, body, SB_MAX_BODY)     /* the client's JSON body, as received */                       \
    F (U64, deadline_ms, 0)        /* wall-clock ms after which the answer is useless */           \
    F (STR, trace_id, SB_MAX_TEXT) /* x-request-id */                                              \
    F (U64, received_us, 0)        /* when ingress had the whole request (realtime µs) */         \
    F (U64, tools_at, 0)           /* offset of the body's top-level `tools` array */              \
    F (U64, tools_len, 0)          /* its length in bytes (0: the body has none) */

//  router → ingress: one piece of a streamed response, in order (seq from 0).
//  The first CHUNK of a request means "200, text/event-stream".
#define SB_CHUNK_FIELDS(F)                                                                         \
    F (U64, id, 0)                                                                                 \
    F (U64, seq, 0)                                                                                \
    F (BIN, data, SB_MAX_CHUNK)

//  router → ingress: the end of a request. For a JSON response (no CHUNK sent) it
//  carries the status and the whole body; after CHUNKs, body is the final bytes
//  to write (may be empty) and status is informational.
#define SB_END_FIELDS(F)                                                                           \
    F (U64, id, 0)                                                                                 \
    F (U64, status, 0) /* HTTP status for the client */                                            \
    F (BIN, body, SB_MAX_BODY)                                                                     \
    F (STR, headers, SB_MAX_TEXT) /* extra response headers, "Name: value\r\n" lines */            \
    F (STR, channel, SB_MAX_NAME) /* channel that answered (or last tried) */                      \
    F (U64, attempts, 0)                                                                           \
    F (U64, prompt_tokens, 0)                                                                      \
    F (U64, completion_tokens, 0)                                                                  \
    F (U64, upstream_us, 0)     /* request sent → last byte received */                          \
    F (U64, ttfb_us, 0)         /* request sent → first byte received */                         \
    F (STR, error, SB_MAX_TEXT) /* what went wrong, empty on success */

//  either way: the client went away (ingress → router) or the request is dropped.
#define SB_CANCEL_FIELDS(F) F (U64, id, 0)

//  router broker ↔ validator workers (Paranoid Pirate: READY, HEARTBEAT both ways).
#define SB_READY_FIELDS(F)                                                                         \
    F (STR, instance, SB_MAX_NAME)                                                                 \
    F (U64, capacity, 0)

#define SB_HEARTBEAT_FIELDS(F) F (STR, instance, SB_MAX_NAME)

//  router → validator: check (and maybe repair) the tool calls of one response.
//  tools: the request's `tools` array (JSON); calls: [{"index","id","name","arguments"}].
#define SB_VALIDATE_JOB_FIELDS(F)                                                                  \
    F (U64, job_id, 0)                                                                             \
    F (U64, deadline_ms, 0)                                                                        \
    F (U64, mode, 0) /* 1 validate_only, 2 auto_fix */                                             \
    F (BIN, tools, SB_MAX_BODY)                                                                    \
    F (BIN, calls, SB_MAX_BODY)

//  validator → router: calls as they should be released, and the report (JSON).
#define SB_VALIDATE_RESULT_FIELDS(F)                                                               \
    F (U64, job_id, 0)                                                                             \
    F (U64, status, 0) /* 0 ok, 1 engine unavailable (pass-through) */                             \
    F (BIN, calls, SB_MAX_BODY)                                                                    \
    F (BIN, report, SB_MAX_BODY)

//  router → validator: TOON-compress the messages of a request body.
#define SB_TOON_JOB_FIELDS(F)                                                                      \
    F (U64, job_id, 0)                                                                             \
    F (U64, deadline_ms, 0)                                                                        \
    F (U64, mode, 0) /* 1 tool_results, 2 full */                                                  \
    F (BIN, body, SB_MAX_BODY)

#define SB_TOON_RESULT_FIELDS(F)                                                                   \
    F (U64, job_id, 0)                                                                             \
    F (U64, status, 0) /* 0 rewritten, 1 unchanged, 2 error */                                     \
    F (BIN, body, SB_MAX_BODY)                                                                     \
    F (U64, bytes_saved, 0)

//  any service → logger: one record (JSON document) for a stream in Redis.
#define SB_LOG_EVENT_FIELDS(F)                                                                     \
    F (STR, kind, SB_MAX_NAME) /* "request", "chunk", "autofix", ... */                            \
    F (STR, request_id, SB_MAX_TEXT)                                                               \
    F (U64, ts_us, 0)                                                                              \
    F (BIN, data, SB_MAX_BODY)          /* the record's JSON (metadata) */                         \
    F (BIN, request_body, SB_MAX_BODY)  /* raw, as the client sent it (capped) */                  \
    F (BIN, response_body, SB_MAX_BODY) /* raw JSON response (capped) */                           \
    F (BIN, chunks, SB_MAX_BODY)        /* stream: "<offset_ms> <len>\n<bytes>\n" per chunk */

//  any service → admin: one metrics snapshot a second (JSON document).
#define SB_METRICS_FIELDS(F)                                                                       \
    F (STR, service, SB_MAX_NAME)                                                                  \
    F (STR, instance, SB_MAX_NAME)                                                                 \
    F (U64, ts_ms, 0)                                                                              \
    F (BIN, data, SB_MAX_BODY)

//  admin → services (Clone pattern): a full snapshot, or one numbered update.
#define SB_CONFIG_FIELDS(F)                                                                        \
    F (U64, seq, 0)                                                                                \
    F (BOOL, snapshot, 0)                                                                          \
    F (BIN, data, SB_MAX_BODY)

//  M (TYPE, name, number)
#define SB_MSG_LIST(M)                                                                             \
    M (CHAT, chat, 1)                                                                              \
    M (CHUNK, chunk, 2)                                                                            \
    M (END, end, 3)                                                                                \
    M (CANCEL, cancel, 4)                                                                          \
    M (READY, ready, 5)                                                                            \
    M (HEARTBEAT, heartbeat, 6)                                                                    \
    M (VALIDATE_JOB, validate_job, 7)                                                              \
    M (VALIDATE_RESULT, validate_result, 8)                                                        \
    M (TOON_JOB, toon_job, 9)                                                                      \
    M (TOON_RESULT, toon_result, 10)                                                               \
    M (LOG_EVENT, log_event, 11)                                                                   \
    M (METRICS, metrics_report, 12)                                                                \
    M (CONFIG, config_update, 13)

typedef enum {
    SB_MSG_NONE = 0,
#define S_ENUM(T, n, num) SB_MSG_##T = num,
    SB_MSG_LIST (S_ENUM)
#undef S_ENUM
        SB_MSG_MAX
} sb_msg_type_t;

#define SB_CTYPE_U64                   uint64_t
#define SB_CTYPE_I64                   int64_t
#define SB_CTYPE_DBL                   double
#define SB_CTYPE_BOOL                  bool
#define SB_CTYPE_STR                   sb_bytes_t
#define SB_CTYPE_BIN                   sb_bytes_t
#define SB_FIELD_DECL(kind, name, max) SB_CTYPE_##kind name;

#define SB_FIELDS_OF_chat            SB_CHAT_FIELDS
#define SB_FIELDS_OF_chunk           SB_CHUNK_FIELDS
#define SB_FIELDS_OF_end             SB_END_FIELDS
#define SB_FIELDS_OF_cancel          SB_CANCEL_FIELDS
#define SB_FIELDS_OF_ready           SB_READY_FIELDS
#define SB_FIELDS_OF_heartbeat       SB_HEARTBEAT_FIELDS
#define SB_FIELDS_OF_validate_job    SB_VALIDATE_JOB_FIELDS
#define SB_FIELDS_OF_validate_result SB_VALIDATE_RESULT_FIELDS
#define SB_FIELDS_OF_toon_job        SB_TOON_JOB_FIELDS
#define SB_FIELDS_OF_toon_result     SB_TOON_RESULT_FIELDS
#define SB_FIELDS_OF_log_event       SB_LOG_EVENT_FIELDS
#define SB_FIELDS_OF_metrics_report  SB_METRICS_FIELDS
#define SB_FIELDS_OF_config_update   SB_CONFIG_FIELDS

#define S_STRUCT(T, n, num)                                                                        \
    typedef struct {                                                                               \
        SB_FIELDS_OF_##n (SB_FIELD_DECL)                                                           \
    } sb_##n##_t;
SB_MSG_LIST (S_STRUCT)
#undef S_STRUCT

//  A decoded message: the type says which member of the union is set.
typedef struct {
    sb_msg_type_t type;
    union {
#define S_MEMBER(T, n, num) sb_##n##_t n;
        SB_MSG_LIST (S_MEMBER)
#undef S_MEMBER
    };
} sb_msg_t;

//  An encoder with a reusable growing buffer (bounded by SB_MAX_BODY + headroom).
typedef struct _sb_msg_writer_t sb_msg_writer_t;

sb_msg_writer_t *sb_msg_writer_new (void);
void sb_msg_writer_destroy (sb_msg_writer_t **self_p);

//  Encodes `msg` (its type selects the fields). On success returns 0 and points
//  *data/*size at the writer's buffer, valid until the next encode. Returns -1 when
//  a field is over its maximum or memory runs out.
int sb_msg_encode (sb_msg_writer_t *self, const sb_msg_t *msg, const void **data, size_t *size);

//  Decodes one frame into `msg` (STR/BIN point into `data`). Returns 0, or -1 with
//  a static reason in *why (if why is not NULL). Never reads past data + size.
int sb_msg_decode (const void *data, size_t size, sb_msg_t *msg, const char **why);

//  "chat", "chunk", ... or "unknown".
const char *sb_msg_type_name (sb_msg_type_t type);

//  Helpers to fill STR/BIN fields.
sb_bytes_t sb_bytes (const void *data, size_t size);
sb_bytes_t sb_bytes_str (const char *text);

//  Counters of decode failures since start (for metrics), by reason class.
uint64_t sb_msg_decode_errors (void);

#endif
