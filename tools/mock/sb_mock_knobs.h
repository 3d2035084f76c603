/*  sb_mock_knobs — the behaviour knobs of sb-mock (latency, chunking, failures, tool
    calls) and the rules that merge them from their four sources: defaults per model
    name, a /x/<knobs>/ path prefix, x-mock-<knob> request headers and a top-level
    "mock" object in the request body, later sources winning. Pure logic, no I/O.  */

#ifndef SB_MOCK_KNOBS_H_INCLUDED
#define SB_MOCK_KNOBS_H_INCLUDED

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Every knob, defined once: X (ID, "name", kind, min, max). Integer bounds are
//  inclusive; fail_rate is stored in parts per million (0..1000000).
#define SB_MOCK_KNOB_LIST(X)                                                                       \
    X (LATENCY_MS, "latency_ms", SB_MOCK_KIND_INT, 0, 3600000)                                     \
    X (TTFT_MS, "ttft_ms", SB_MOCK_KIND_INT, 0, 3600000)                                           \
    X (CHUNKS, "chunks", SB_MOCK_KIND_INT, 0, SB_MOCK_MAX_CHUNKS)                                  \
    X (GAP_MS, "gap_ms", SB_MOCK_KIND_INT, 0, 3600000)                                             \
    X (STATUS, "status", SB_MOCK_KIND_INT, 200, 599)                                               \
    X (RETRY_AFTER, "retry_after", SB_MOCK_KIND_INT, 0, 86400)                                     \
    X (FAIL_RATE, "fail_rate", SB_MOCK_KIND_RATE, 0, 1000000)                                      \
    X (SEED, "seed", SB_MOCK_KIND_INT, 0, INT64_MAX)                                               \
    X (RESET, "reset", SB_MOCK_KIND_BOOL, 0, 1)                                                    \
    X (DROP_AFTER, "drop_after", SB_MOCK_KIND_INT, 0, SB_MOCK_MAX_CHUNKS)                          \
    X (ERROR_AFTER, "error_after", SB_MOCK_KIND_INT, 0, SB_MOCK_MAX_CHUNKS)                        \
    X (TOOL, "tool", SB_MOCK_KIND_TOOL, 0, 2)                                                      \
    X (CONTENT, "content", SB_MOCK_KIND_STRING, 0, SB_MOCK_MAX_CONTENT)                            \
    X (HANG, "hang", SB_MOCK_KIND_BOOL, 0, 1)

//  Bounds chosen so that one reply stays a few MB at most: 10000 pieces of a 1 MiB text.
#define SB_MOCK_MAX_CHUNKS  10000
#define SB_MOCK_MAX_CONTENT (1024 * 1024)

typedef enum {
    SB_MOCK_KIND_INT,    // decimal integer within [min, max]
    SB_MOCK_KIND_RATE,   // real number within [0, 1], stored as ppm
    SB_MOCK_KIND_BOOL,   // 1/0, true/false, yes/no, on/off; a bare name means true
    SB_MOCK_KIND_TOOL,   // none | broken | valid
    SB_MOCK_KIND_STRING, // any text up to max bytes
} sb_mock_knob_kind_t;

typedef enum {
#define SB_MOCK_KNOB_ENUM(id, name, kind, min, max) SB_MOCK_KNOB_##id,
    SB_MOCK_KNOB_LIST (SB_MOCK_KNOB_ENUM)
#undef SB_MOCK_KNOB_ENUM
        SB_MOCK_KNOB_COUNT
} sb_mock_knob_t;

typedef enum {
    SB_MOCK_TOOL_NONE = 0,   // answer with text
    SB_MOCK_TOOL_BROKEN = 1, // a tool call whose arguments are not valid JSON
    SB_MOCK_TOOL_VALID = 2,  // a tool call with valid JSON arguments
} sb_mock_tool_t;

//  The merged knobs of one request. Invariants: value[k] is within the bounds of knob k;
//  bit k of `set` is 1 when some source gave knob k (value[k] holds a default otherwise);
//  content is NULL unless CONTENT is set, and then owned, NUL-terminated, content_len
//  bytes long.
typedef struct {
    int64_t value[SB_MOCK_KNOB_COUNT];
    uint32_t set;
    char *content;
    size_t content_len;
} sb_mock_knobs_t;

//  The knobs every request starts from: chunks = 5, everything else 0 / off.
void sb_mock_knobs_init (sb_mock_knobs_t *knobs);
//  Frees the content string; the knobs are back to sb_mock_knobs_init's state.
void sb_mock_knobs_release (sb_mock_knobs_t *knobs);

//  Knob metadata for the header lookup and the docs: canonical name ("latency_ms").
const char *sb_mock_knob_name (sb_mock_knob_t knob);
bool sb_mock_knobs_is_set (const sb_mock_knobs_t *knobs, sb_mock_knob_t knob);
int64_t sb_mock_knobs_get (const sb_mock_knobs_t *knobs, sb_mock_knob_t knob);

//  Applies the defaults of a model name (NULL or unknown: nothing): demo-tools and
//  mock-tools → tool=broken, mock-tools-valid → tool=valid, mock-slow → ttft_ms=2000.
void sb_mock_knobs_apply_model (sb_mock_knobs_t *knobs, const char *model);

//  Sets one knob from text. The name may use '-' or '_' and any case. Returns 0, or -1
//  with a reason in err (unknown knob, malformed or out-of-range value); on -1 the knobs
//  are unchanged. `value` NULL means the name came alone ("reset"), which only
//  boolean knobs accept.
int sb_mock_knobs_set (sb_mock_knobs_t *knobs, const char *name, size_t name_len, const char *value,
                       size_t value_len, char *err, size_t err_size);

//  Applies "k=v,k=v" (the /x/<knobs>/ path segment). Stops at the first bad item and
//  returns -1 with a reason in err; items before it stay applied.
int sb_mock_knobs_apply_list (sb_mock_knobs_t *knobs, const char *list, size_t len, char *err,
                              size_t err_size);

//  Applies a JSON object {"knob": value}; values may be numbers, booleans or strings.
//  Returns 0, or -1 with a reason in err (not an object, bad knob or value).
int sb_mock_knobs_apply_json (sb_mock_knobs_t *knobs, const json_t *object, char *err,
                              size_t err_size);

#endif
