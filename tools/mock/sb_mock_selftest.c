/*  test_sb_mock_core — unit tests of sb-mock's pure modules: knobs, fault sequences,
    the JSON writer, script framing and the replies (shapes, timing, misbehaviour),
    without a socket. The HTTP side is tested black-box by tests/unit/test_sb_mock.js.  */

#include "sb_mock_faults.h"
#include "sb_mock_json.h"
#include "sb_mock_knobs.h"
#include "sb_mock_reply.h"
#include "sb_mock_script.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int s_failures;
static int s_checks;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        s_checks++;                                                                                \
        if (!(cond)) {                                                                             \
            s_failures++;                                                                          \
            fprintf (stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                       \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b) CHECK (s_same ((a), (b)))

static bool
s_same (const char *a, const char *b)
{
    return a && b && strcmp (a, b) == 0;
}

//  ---------------------------------------------------------------------------------

static void
s_test_knobs (void)
{
    printf ("knobs: defaults, names, values, bounds, lists, JSON, model defaults\n");
    sb_mock_knobs_t k;
    char err[160];
    sb_mock_knobs_init (&k);
    CHECK (sb_mock_knobs_get (&k, SB_MOCK_KNOB_CHUNKS) == 5);
    CHECK (!sb_mock_knobs_is_set (&k, SB_MOCK_KNOB_STATUS));

    CHECK (sb_mock_knobs_set (&k, "Latency-MS", 10, "250", 3, err, sizeof (err)) == 0);
    CHECK (sb_mock_knobs_get (&k, SB_MOCK_KNOB_LATENCY_MS) == 250);
    CHECK (sb_mock_knobs_set (&k, "reset", 5, NULL, 0, err, sizeof (err)) == 0);
    CHECK (sb_mock_knobs_get (&k, SB_MOCK_KNOB_RESET) == 1);
    CHECK (sb_mock_knobs_set (&k, "reset", 5, "off", 3, err, sizeof (err)) == 0);
    CHECK (sb_mock_knobs_get (&k, SB_MOCK_KNOB_RESET) == 0);
    CHECK (sb_mock_knobs_set (&k, "fail_rate", 9, "0.25", 4, err, sizeof (err)) == 0);
    CHECK (sb_mock_knobs_get (&k, SB_MOCK_KNOB_FAIL_RATE) == 250000);
    CHECK (sb_mock_knobs_set (&k, "tool", 4, "VALID", 5, err, sizeof (err)) == 0);
    CHECK (sb_mock_knobs_get (&k, SB_MOCK_KNOB_TOOL) == SB_MOCK_TOOL_VALID);

    //  Rejections leave the knobs as they were.
    CHECK (sb_mock_knobs_set (&k, "status", 6, "99", 2, err, sizeof (err)) == -1);
    CHECK (strstr (err, "200..599") != NULL);
    CHECK (!sb_mock_knobs_is_set (&k, SB_MOCK_KNOB_STATUS));
    CHECK (sb_mock_knobs_set (&k, "chunks", 6, "5x", 2, err, sizeof (err)) == -1);
    CHECK (sb_mock_knobs_get (&k, SB_MOCK_KNOB_CHUNKS) == 5);
    CHECK (sb_mock_knobs_set (&k, "chunks", 6, "10001", 5, err, sizeof (err)) == -1);
    CHECK (sb_mock_knobs_set (&k, "fail_rate", 9, "1.5", 3, err, sizeof (err)) == -1);
    CHECK (sb_mock_knobs_set (&k, "fail_rate", 9, "nan", 3, err, sizeof (err)) == -1);
    CHECK (sb_mock_knobs_set (&k, "bogus", 5, "1", 1, err, sizeof (err)) == -1);
    CHECK (strstr (err, "unknown mock knob 'bogus'") != NULL);
    CHECK (sb_mock_knobs_set (&k, "tool", 4, "maybe", 5, err, sizeof (err)) == -1);
    CHECK (sb_mock_knobs_set (&k, "chunks", 6, NULL, 0, err, sizeof (err)) == -1);

    //  Content is copied and owned; the bound is 1 MiB.
    char *big = malloc (SB_MOCK_MAX_CONTENT + 1);
    memset (big, 'a', SB_MOCK_MAX_CONTENT + 1);
    CHECK (sb_mock_knobs_set (&k, "content", 7, big, SB_MOCK_MAX_CONTENT + 1, err, sizeof (err)) ==
           -1);
    CHECK (sb_mock_knobs_set (&k, "content", 7, big, SB_MOCK_MAX_CONTENT, err, sizeof (err)) == 0);
    CHECK (k.content_len == SB_MOCK_MAX_CONTENT);
    free (big);
    CHECK (sb_mock_knobs_set (&k, "content", 7, "hi", 2, err, sizeof (err)) == 0);
    CHECK_STR (k.content, "hi");
    sb_mock_knobs_release (&k);
    CHECK (k.content == NULL && k.set == 0);

    //  Lists, as in /x/status=500,fail_rate=0.5/; a bad item stops the list.
    const char *list = "status=429,retry_after=3,,hang";
    CHECK (sb_mock_knobs_apply_list (&k, list, strlen (list), err, sizeof (err)) == 0);
    CHECK (sb_mock_knobs_get (&k, SB_MOCK_KNOB_STATUS) == 429);
    CHECK (sb_mock_knobs_get (&k, SB_MOCK_KNOB_RETRY_AFTER) == 3);
    CHECK (sb_mock_knobs_get (&k, SB_MOCK_KNOB_HANG) == 1);
    list = "chunks=2,nope=1,gap_ms=5";
    CHECK (sb_mock_knobs_apply_list (&k, list, strlen (list), err, sizeof (err)) == -1);
    CHECK (sb_mock_knobs_get (&k, SB_MOCK_KNOB_CHUNKS) == 2);
    CHECK (!sb_mock_knobs_is_set (&k, SB_MOCK_KNOB_GAP_MS));
    sb_mock_knobs_release (&k);

    //  JSON values: numbers, reals, booleans, strings.
    json_t *mock = json_loads ("{\"chunks\": 3, \"fail_rate\": 0.5, \"reset\": false, "
                               "\"content\": \"h\\u00e9\", \"gap-ms\": \"7\"}",
                               0, NULL);
    CHECK (sb_mock_knobs_apply_json (&k, mock, err, sizeof (err)) == 0);
    CHECK (sb_mock_knobs_get (&k, SB_MOCK_KNOB_CHUNKS) == 3);
    CHECK (sb_mock_knobs_get (&k, SB_MOCK_KNOB_FAIL_RATE) == 500000);
    CHECK (sb_mock_knobs_is_set (&k, SB_MOCK_KNOB_RESET) &&
           sb_mock_knobs_get (&k, SB_MOCK_KNOB_RESET) == 0);
    CHECK_STR (k.content, "h\xc3\xa9");
    CHECK (sb_mock_knobs_get (&k, SB_MOCK_KNOB_GAP_MS) == 7);
    json_decref (mock);
    mock = json_loads ("{\"chunks\": [1]}", 0, NULL);
    CHECK (sb_mock_knobs_apply_json (&k, mock, err, sizeof (err)) == -1);
    json_decref (mock);
    mock = json_string ("x");
    CHECK (sb_mock_knobs_apply_json (&k, mock, err, sizeof (err)) == -1);
    json_decref (mock);
    sb_mock_knobs_release (&k);

    sb_mock_knobs_apply_model (&k, "demo-tools");
    CHECK (sb_mock_knobs_get (&k, SB_MOCK_KNOB_TOOL) == SB_MOCK_TOOL_BROKEN);
    sb_mock_knobs_release (&k);
    sb_mock_knobs_apply_model (&k, "mock-tools-valid");
    CHECK (sb_mock_knobs_get (&k, SB_MOCK_KNOB_TOOL) == SB_MOCK_TOOL_VALID);
    sb_mock_knobs_release (&k);
    sb_mock_knobs_apply_model (&k, "mock-slow");
    CHECK (sb_mock_knobs_get (&k, SB_MOCK_KNOB_TTFT_MS) == 2000);
    sb_mock_knobs_release (&k);
    sb_mock_knobs_apply_model (&k, "gpt-4o");
    CHECK (k.set == 0);
}

//  ---------------------------------------------------------------------------------

static void
s_test_faults (void)
{
    printf ("faults: evenly spread, first fails, per channel, seeded, reset\n");
    sb_mock_faults_t *f = sb_mock_faults_new ();
    bool seq[8];
    for (int i = 0; i < 8; i++)
        seq[i] = sb_mock_faults_next (f, "a", 1, 500000, false, 0);
    CHECK (seq[0] && !seq[1] && seq[2] && !seq[3] && seq[4] && !seq[5]);
    int fails = 0;
    for (int i = 0; i < 8; i++)
        fails += sb_mock_faults_next (f, "quarter", 7, 250000, false, 0);
    CHECK (fails == 2);
    //  Another channel has its own sequence: starts with a failure again.
    CHECK (sb_mock_faults_next (f, "b", 1, 500000, false, 0));
    CHECK (!sb_mock_faults_next (f, "a", 1, 0, false, 0));
    CHECK (sb_mock_faults_next (f, "a", 1, 1000000, false, 0));

    bool first[64];
    int seeded_fails = 0;
    for (int i = 0; i < 64; i++)
        seeded_fails += first[i] = sb_mock_faults_next (f, "s", 1, 300000, true, 42);
    sb_mock_faults_reset (f);
    bool same = true;
    for (int i = 0; i < 64; i++)
        same &= first[i] == sb_mock_faults_next (f, "s", 1, 300000, true, 42);
    CHECK (same);
    CHECK (seeded_fails > 8 && seeded_fails < 32);
    CHECK (sb_mock_faults_next (f, "a", 1, 500000, false, 0)); // reset: starts over

    //  More channels than the table holds: it starts over rather than failing.
    char key[16];
    for (int i = 0; i < SB_MOCK_FAULTS_MAX * 3; i++) {
        int n = snprintf (key, sizeof (key), "k%d", i);
        CHECK (sb_mock_faults_next (f, key, (size_t)n, 500000, false, 0));
    }
    sb_mock_faults_destroy (&f);
    CHECK (f == NULL);
}

//  ---------------------------------------------------------------------------------

static void
s_test_json (void)
{
    printf ("json writer: formats, separators across calls, escaping, bounds\n");
    sb_mock_json_t j;
    sb_mock_json_init (&j, 4096);
    CHECK (sb_mock_json_pack (&j, "{s:s, s:i, s:I, s:b, s:n, s:s?, s:[", "a", "x", "b", -7, "c",
                              (int64_t)INT64_MIN, "d", 1, "e", "f", (const char *)NULL, "g") == 0);
    CHECK (sb_mock_json_pack (&j, "i, s%, r", 1, "two!", (size_t)3, "{\"k\":[]}") == 0);
    CHECK (sb_mock_json_pack (&j, "], s:", "h") == 0);
    CHECK (sb_mock_json_pack (&j, "{}}") == 0);
    CHECK_STR (j.data, "{\"a\":\"x\",\"b\":-7,\"c\":-9223372036854775808,\"d\":true,\"e\":null,"
                       "\"f\":null,\"g\":[1,\"two\",{\"k\":[]}],\"h\":{}}");
    CHECK (j.depth == 0);

    sb_mock_json_clear (&j);
    const char weird[] = "q\"b\\n\n\t\x01\xc3\xa9\xff\xed\xa0\x80z";
    CHECK (sb_mock_json_pack (&j, "s%", weird, sizeof (weird) - 1) == 0);
    CHECK_STR (j.data, "\"q\\\"b\\\\n\\n\\t\\u0001\xc3\xa9\\ufffd\\ufffd\\ufffd\\ufffdz\"");
    json_t *parsed = json_loads (j.data, JSON_DECODE_ANY, NULL);
    CHECK (json_is_string (parsed));
    json_decref (parsed);

    //  Malformed formats and misuse fail, and stay failed until cleared.
    sb_mock_json_clear (&j);
    CHECK (sb_mock_json_pack (&j, "{i}", 1) == -1);
    CHECK (sb_mock_json_pack (&j, "n") == -1);
    sb_mock_json_clear (&j);
    CHECK (sb_mock_json_pack (&j, "[}") == -1);
    sb_mock_json_clear (&j);
    CHECK (sb_mock_json_pack (&j, "[x]") == -1);
    sb_mock_json_clear (&j);
    CHECK (sb_mock_json_pack (&j, "nn") == -1); // two documents
    sb_mock_json_release (&j);

    //  The bound: 10 bytes hold "[1,2,3,4]" (9) but not one more item.
    sb_mock_json_init (&j, 10);
    CHECK (sb_mock_json_pack (&j, "[i,i,i,i]", 1, 2, 3, 4) == 0);
    sb_mock_json_clear (&j);
    CHECK (sb_mock_json_pack (&j, "[i,i,i,i,i]", 1, 2, 3, 4, 5) == -1);
    CHECK (j.failed && j.len <= 10);
    sb_mock_json_release (&j);
}

//  ---------------------------------------------------------------------------------

static void
s_test_script (void)
{
    printf ("script: head, SSE chunk framing, steps, bound on steps\n");
    sb_mock_script_t *s = sb_mock_script_new (16);
    CHECK (sb_mock_script_head (s, 429, "application/json", 2, "Retry-After: 3\r\n", false) == 0);
    CHECK (sb_mock_script_append (s, "{}", 2) == 0);
    CHECK (sb_mock_script_step (s, 1500) == 0);
    CHECK (sb_mock_script_sse (s, "ping", "{}", 2) == 0);
    CHECK (sb_mock_script_chunked_end (s) == 0);
    CHECK (sb_mock_script_count (s) == 2);
    CHECK (sb_mock_script_status (s) == 429);
    size_t len = 0;
    uint64_t delay = 0;
    uint8_t *d = sb_mock_script_get (s, 0, &delay, &len);
    const char head[] = "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\n"
                        "Content-Length: 2\r\nConnection: close\r\nRetry-After: 3\r\n\r\n{}";
    CHECK (delay == 0 && len == sizeof (head) - 1 && memcmp (d, head, len) == 0);
    d = sb_mock_script_get (s, 1, &delay, &len);
    const char event[] = "16\r\nevent: ping\ndata: {}\n\n\r\n0\r\n\r\n";
    CHECK (delay == 1500 && len == sizeof (event) - 1 && memcmp (d, event, len) == 0);
    sb_mock_script_destroy (&s);
    CHECK (s == NULL);

    s = sb_mock_script_new (0);
    int rc = 0;
    for (int i = 0; i < SB_MOCK_SCRIPT_MAX_STEPS && !rc; i++)
        rc = sb_mock_script_step (s, 0);
    CHECK (rc == 0);
    CHECK (sb_mock_script_step (s, 0) == -1);
    sb_mock_script_destroy (&s);
}

//  ---------------------------------------------------------------------------------
//  Replies: the script's bytes are parsed back (head, body or SSE events).

typedef struct {
    int status;
    char head[1024];
    char *body; // de-chunked
    size_t body_len;
    json_t *events;     // SSE: [{"event": name|null, "data": parsed|string}]
    uint64_t delay[64]; // per step
    size_t steps;
    sb_mock_end_t end;
} s_parsed_t;

static void
s_parse (sb_mock_script_t *script, s_parsed_t *out)
{
    memset (out, 0, sizeof (*out));
    size_t total = 0;
    out->steps = sb_mock_script_count (script);
    for (size_t i = 0; i < out->steps; i++) {
        size_t len = 0;
        sb_mock_script_get (script, i, i < 64 ? &out->delay[i] : NULL, &len);
        total += len;
    }
    char *all = calloc (1, total + 1), *p = all;
    for (size_t i = 0; i < out->steps; i++) {
        size_t len = 0;
        uint8_t *data = sb_mock_script_get (script, i, NULL, &len);
        if (len) memcpy (p, data, len);
        p += len;
    }
    out->end = sb_mock_script_end (script);
    out->status = sb_mock_script_status (script);
    char *sep = strstr (all, "\r\n\r\n");
    if (!sep) {
        free (all);
        return;
    }
    size_t head_len = (size_t)(sep - all) + 4;
    snprintf (out->head, sizeof (out->head), "%.*s", (int)head_len, all);
    char *rest = sep + 4;
    size_t rest_len = total - head_len;
    out->body = calloc (1, rest_len + 1);
    if (strstr (out->head, "Transfer-Encoding: chunked")) {
        //  De-chunk (whatever complete chunks there are).
        char *q = rest;
        while (q < rest + rest_len) {
            char *end = NULL;
            unsigned long n = strtoul (q, &end, 16);
            if (end == q || end + 2 > rest + rest_len || n == 0) break;
            q = end + 2;
            memcpy (out->body + out->body_len, q, n);
            out->body_len += n;
            q += n + 2;
        }
        out->events = json_array ();
        char *ev = out->body;
        char *next;
        while ((next = strstr (ev, "\n\n"))) {
            *next = '\0';
            const char *name = NULL;
            char *data = strstr (ev, "data: ");
            if (strncmp (ev, "event: ", 7) == 0) {
                name = ev + 7;
                char *nl = strchr (ev, '\n');
                if (nl) *nl = '\0';
            }
            json_t *parsed = data ? json_loads (data + 6, JSON_DECODE_ANY, NULL) : NULL;
            json_array_append_new (
                out->events, json_pack ("{s:s?, s:o}", "event", name, "data",
                                        parsed ? parsed : json_string (data ? data + 6 : "")));
            ev = next + 2;
        }
    } else {
        memcpy (out->body, rest, rest_len);
        out->body_len = rest_len;
    }
    free (all);
}

static void
s_parsed_release (s_parsed_t *parsed)
{
    free (parsed->body);
    json_decref (parsed->events);
}

//  Builds the reply to `body` with the knob list `knobs` and parses it back.
static void
s_reply (sb_mock_api_t api, const char *body, const char *knobs, bool hit, s_parsed_t *out)
{
    sb_mock_knobs_t k;
    char err[160];
    sb_mock_knobs_init (&k);
    json_t *json = body ? json_loads (body, 0, NULL) : NULL;
    sb_mock_knobs_apply_model (&k, json_string_value (json_object_get (json, "model")));
    if (knobs && sb_mock_knobs_apply_list (&k, knobs, strlen (knobs), err, sizeof (err)))
        fprintf (stderr, "bad knobs in test: %s\n", err);
    sb_mock_request_t req = {
        .api = api,
        .body_len = body ? strlen (body) : 0,
        .json = json,
        .knobs = &k,
        .faults_apply = !sb_mock_knobs_is_set (&k, SB_MOCK_KNOB_FAIL_RATE) || hit,
        .fail_rate_hit = hit,
        .keep_alive = true,
        .seq = 7,
        .now = 1700000000,
    };
    sb_mock_script_t *script = sb_mock_reply_build (&req, 16);
    CHECK (script != NULL);
    s_parse (script, out);
    sb_mock_script_destroy (&script);
    sb_mock_knobs_release (&k);
    json_decref (json);
}

static json_t *
s_event_data (const s_parsed_t *p, size_t i)
{
    return json_object_get (json_array_get (p->events, i), "data");
}

static const char *
s_event_name (const s_parsed_t *p, size_t i)
{
    return json_string_value (json_object_get (json_array_get (p->events, i), "event"));
}

static void
s_test_openai (void)
{
    printf ("openai: JSON shape and usage, stream chunks and timing, include_usage, tools\n");
    s_parsed_t p;
    const char *req =
        "{\"model\":\"demo-chat\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    s_reply (SB_MOCK_API_CHAT, req, "latency_ms=10,ttft_ms=20,gap_ms=5", false, &p);
    CHECK (p.status == 200 && p.end == SB_MOCK_END_KEEP_ALIVE);
    CHECK (p.steps == 1 && p.delay[0] == (10 + 20 + 4 * 5) * 1000);
    json_t *body = json_loads (p.body, 0, NULL);
    CHECK (strncmp (json_string_value (json_object_get (body, "id")), "chatcmpl-", 9) == 0);
    CHECK_STR (json_string_value (json_object_get (body, "object")), "chat.completion");
    CHECK_STR (json_string_value (json_object_get (body, "model")), "demo-chat");
    CHECK (json_integer_value (json_object_get (body, "created")) == 1700000000);
    json_t *choice = json_array_get (json_object_get (body, "choices"), 0);
    CHECK (json_is_null (json_object_get (choice, "logprobs")));
    CHECK_STR (json_string_value (json_object_get (choice, "finish_reason")), "stop");
    CHECK_STR (json_string_value (json_object_get (json_object_get (choice, "message"), "content")),
               "Lorem ipsum dolor sit amet");
    json_t *usage = json_object_get (body, "usage");
    CHECK (json_integer_value (json_object_get (usage, "prompt_tokens")) ==
           (json_int_t)(strlen (req) + 3) / 4);
    CHECK (json_integer_value (json_object_get (usage, "completion_tokens")) == 5);
    CHECK (json_integer_value (json_object_get (usage, "total_tokens")) ==
           (json_int_t)(strlen (req) + 3) / 4 + 5);
    json_decref (body);
    s_parsed_release (&p);

    //  Stream: head, role chunk at ttft, pieces gap apart, finish, usage, [DONE].
    req = "{\"model\":\"mock-chat\",\"messages\":[],\"stream\":true,"
          "\"stream_options\":{\"include_usage\":true}}";
    s_reply (SB_MOCK_API_CHAT, req, "chunks=3,ttft_ms=40,gap_ms=7,latency_ms=2", false, &p);
    CHECK (strstr (p.head, "Content-Type: text/event-stream") != NULL);
    CHECK (strstr (p.head, "Transfer-Encoding: chunked") != NULL);
    CHECK (json_array_size (p.events) == 7);
    CHECK (p.steps == 8);
    CHECK (p.delay[0] == 2000 && p.delay[1] == 40000 && p.delay[2] == 0 && p.delay[3] == 7000 &&
           p.delay[4] == 7000 && p.delay[5] == 0 && p.delay[6] == 0 && p.delay[7] == 0);
    json_t *first = json_array_get (json_object_get (s_event_data (&p, 0), "choices"), 0);
    CHECK_STR (json_string_value (json_object_get (json_object_get (first, "delta"), "role")),
               "assistant");
    CHECK (json_is_null (json_object_get (s_event_data (&p, 0), "usage")));
    CHECK_STR (json_string_value (json_object_get (s_event_data (&p, 0), "object")),
               "chat.completion.chunk");
    char text[64] = "";
    for (size_t i = 1; i <= 3; i++) {
        json_t *c = json_array_get (json_object_get (s_event_data (&p, i), "choices"), 0);
        strncat (text,
                 json_string_value (json_object_get (json_object_get (c, "delta"), "content")),
                 sizeof (text) - strlen (text) - 1);
    }
    CHECK_STR (text, "Lorem ipsum dolor");
    json_t *fin = json_array_get (json_object_get (s_event_data (&p, 4), "choices"), 0);
    CHECK_STR (json_string_value (json_object_get (fin, "finish_reason")), "stop");
    json_t *last = s_event_data (&p, 5);
    CHECK (json_array_size (json_object_get (last, "choices")) == 0);
    CHECK (json_integer_value (
               json_object_get (json_object_get (last, "usage"), "completion_tokens")) == 3);
    CHECK_STR (json_string_value (s_event_data (&p, 6)), "[DONE]");
    s_parsed_release (&p);

    //  Tool calls: broken and valid, JSON and streamed; the first tool's name.
    const char *tools = "{\"model\":\"demo-tools\",\"messages\":[],%s\"tools\":[{\"type\":"
                        "\"function\",\"function\":{\"name\":\"lookup\"}}]}";
    char buf[512];
    snprintf (buf, sizeof (buf), tools, "");
    s_reply (SB_MOCK_API_CHAT, buf, NULL, false, &p);
    body = json_loads (p.body, 0, NULL);
    choice = json_array_get (json_object_get (body, "choices"), 0);
    CHECK_STR (json_string_value (json_object_get (choice, "finish_reason")), "tool_calls");
    json_t *call =
        json_array_get (json_object_get (json_object_get (choice, "message"), "tool_calls"), 0);
    CHECK (strncmp (json_string_value (json_object_get (call, "id")), "call_", 5) == 0);
    CHECK_STR (json_string_value (json_object_get (json_object_get (call, "function"), "name")),
               "lookup");
    CHECK_STR (
        json_string_value (json_object_get (json_object_get (call, "function"), "arguments")),
        SB_MOCK_ARGS_BROKEN);
    json_decref (body);
    s_parsed_release (&p);

    snprintf (buf, sizeof (buf), tools, "\"stream\":true,");
    s_reply (SB_MOCK_API_CHAT, buf, "tool=valid,chunks=4", false, &p);
    CHECK (json_array_size (p.events) == 7); // first, 4 pieces, finish, [DONE]
    char args[128] = "";
    for (size_t i = 0; i < json_array_size (p.events); i++) {
        json_t *c = json_array_get (json_object_get (s_event_data (&p, i), "choices"), 0);
        json_t *tc =
            json_array_get (json_object_get (json_object_get (c, "delta"), "tool_calls"), 0);
        if (i == 0) {
            CHECK (json_integer_value (json_object_get (tc, "index")) == 0);
            CHECK_STR (json_string_value (json_object_get (tc, "type")), "function");
            CHECK_STR (
                json_string_value (json_object_get (json_object_get (tc, "function"), "name")),
                "lookup");
        }
        const char *a =
            json_string_value (json_object_get (json_object_get (tc, "function"), "arguments"));
        if (a) strncat (args, a, sizeof (args) - strlen (args) - 1);
    }
    CHECK_STR (args, SB_MOCK_ARGS_VALID);
    fin = json_array_get (json_object_get (s_event_data (&p, 5), "choices"), 0);
    CHECK_STR (json_string_value (json_object_get (fin, "finish_reason")), "tool_calls");
    s_parsed_release (&p);

    //  Content knob split over chunks without cutting UTF-8 characters.
    s_reply (SB_MOCK_API_CHAT, "{\"model\":\"m\",\"messages\":[],\"stream\":true}",
             "content=h\xc3\xa9llo w\xc3\xb6rld,chunks=4", false, &p);
    text[0] = '\0';
    for (size_t i = 1; i <= 4; i++) {
        json_t *c = json_array_get (json_object_get (s_event_data (&p, i), "choices"), 0);
        const char *piece =
            json_string_value (json_object_get (json_object_get (c, "delta"), "content"));
        CHECK (piece != NULL);
        if (piece) strncat (text, piece, sizeof (text) - strlen (text) - 1);
    }
    CHECK_STR (text, "h\xc3\xa9llo w\xc3\xb6rld");
    s_parsed_release (&p);
}

static void
s_test_failures (void)
{
    printf ("failures: status + retry-after, fail_rate, reset, hang, drop_after, error_after, "
            "validation\n");
    s_parsed_t p;
    const char *req = "{\"model\":\"m\",\"messages\":[]}";
    s_reply (SB_MOCK_API_CHAT, req, "status=429,retry_after=3,latency_ms=5", false, &p);
    CHECK (p.status == 429 && p.delay[0] == 5000);
    CHECK (strstr (p.head, "Retry-After: 3\r\n") != NULL);
    json_t *body = json_loads (p.body, 0, NULL);
    json_t *error = json_object_get (body, "error");
    CHECK_STR (json_string_value (json_object_get (error, "type")), "requests");
    CHECK_STR (json_string_value (json_object_get (error, "code")), "rate_limit_exceeded");
    CHECK (json_is_string (json_object_get (error, "message")));
    json_decref (body);
    s_parsed_release (&p);

    //  fail_rate: a miss answers normally, a hit with no other failure knob is a 500.
    s_reply (SB_MOCK_API_CHAT, req, "fail_rate=0.5", false, &p);
    CHECK (p.status == 200);
    s_parsed_release (&p);
    s_reply (SB_MOCK_API_CHAT, req, "fail_rate=0.5", true, &p);
    CHECK (p.status == 500);
    s_parsed_release (&p);
    s_reply (SB_MOCK_API_CHAT, req, "fail_rate=0.5,status=503", false, &p);
    CHECK (p.status == 200);
    s_parsed_release (&p);
    s_reply (SB_MOCK_API_CHAT, req, "fail_rate=0.5,reset", true, &p);
    CHECK (p.end == SB_MOCK_END_RESET && p.status == 0);
    s_parsed_release (&p);

    s_reply (SB_MOCK_API_CHAT, req, "reset=1,latency_ms=3", false, &p);
    CHECK (p.end == SB_MOCK_END_RESET && p.steps == 1 && p.delay[0] == 3000 && !p.body);
    s_parsed_release (&p);
    s_reply (SB_MOCK_API_CHAT, req, "hang", false, &p);
    CHECK (p.end == SB_MOCK_END_HANG && p.steps == 0);
    s_parsed_release (&p);

    //  drop_after, JSON: the head announces the full length, half the body follows.
    s_reply (SB_MOCK_API_CHAT, req, "drop_after=1", false, &p);
    CHECK (p.end == SB_MOCK_END_DROP);
    const char *cl = strstr (p.head, "Content-Length: ");
    CHECK (cl && (size_t)atol (cl + 16) / 2 == p.body_len);
    s_parsed_release (&p);
    //  drop_after, stream: the opening event and N pieces, then nothing.
    s_reply (SB_MOCK_API_CHAT, "{\"model\":\"m\",\"messages\":[],\"stream\":true}", "drop_after=2",
             false, &p);
    CHECK (p.end == SB_MOCK_END_DROP && json_array_size (p.events) == 3);
    s_parsed_release (&p);
    //  error_after: N pieces, then an error event, and the stream ends cleanly.
    s_reply (SB_MOCK_API_CHAT, "{\"model\":\"m\",\"messages\":[],\"stream\":true}", "error_after=1",
             false, &p);
    CHECK (p.end == SB_MOCK_END_KEEP_ALIVE && json_array_size (p.events) == 3);
    CHECK (json_is_object (json_object_get (s_event_data (&p, 2), "error")));
    s_parsed_release (&p);

    //  The provider's own 400s.
    s_reply (SB_MOCK_API_CHAT, "{\"messages\":[]}", NULL, false, &p);
    CHECK (p.status == 400 && strstr (p.body, "model parameter") != NULL);
    s_parsed_release (&p);
    s_reply (SB_MOCK_API_CHAT, NULL, NULL, false, &p);
    CHECK (p.status == 400 && strstr (p.body, "not valid JSON") != NULL);
    s_parsed_release (&p);
    s_reply (SB_MOCK_API_MESSAGES, "{\"model\":\"c\",\"messages\":[]}", NULL, false, &p);
    CHECK (p.status == 400);
    body = json_loads (p.body, 0, NULL);
    CHECK_STR (json_string_value (json_object_get (body, "type")), "error");
    CHECK_STR (json_string_value (json_object_get (json_object_get (body, "error"), "type")),
               "invalid_request_error");
    json_decref (body);
    s_parsed_release (&p);

    s_reply (SB_MOCK_API_MODELS, NULL, NULL, false, &p);
    body = json_loads (p.body, 0, NULL);
    CHECK_STR (json_string_value (json_object_get (body, "object")), "list");
    CHECK (json_array_size (json_object_get (body, "data")) == 6);
    json_decref (body);
    s_parsed_release (&p);
}

static void
s_test_anthropic (void)
{
    printf ("anthropic: JSON text and tool_use, stream events in order, tool input deltas\n");
    s_parsed_t p;
    const char *req = "{\"model\":\"claude-x\",\"max_tokens\":64,\"messages\":[],"
                      "\"tools\":[{\"name\":\"get_stock\",\"input_schema\":{}}]%s}";
    char buf[512];
    snprintf (buf, sizeof (buf), req, "");
    s_reply (SB_MOCK_API_MESSAGES, buf, NULL, false, &p);
    json_t *body = json_loads (p.body, 0, NULL);
    CHECK (strncmp (json_string_value (json_object_get (body, "id")), "msg_01", 6) == 0);
    CHECK_STR (json_string_value (json_object_get (body, "type")), "message");
    CHECK_STR (json_string_value (json_object_get (body, "stop_reason")), "end_turn");
    CHECK (json_is_null (json_object_get (body, "stop_sequence")));
    json_t *block = json_array_get (json_object_get (body, "content"), 0);
    CHECK_STR (json_string_value (json_object_get (block, "text")), "Lorem ipsum dolor sit amet");
    CHECK (json_integer_value (
               json_object_get (json_object_get (body, "usage"), "output_tokens")) == 5);
    json_decref (body);
    s_parsed_release (&p);

    s_reply (SB_MOCK_API_MESSAGES, buf, "tool=valid", false, &p);
    body = json_loads (p.body, 0, NULL);
    block = json_array_get (json_object_get (body, "content"), 0);
    CHECK_STR (json_string_value (json_object_get (body, "stop_reason")), "tool_use");
    CHECK_STR (json_string_value (json_object_get (block, "type")), "tool_use");
    CHECK_STR (json_string_value (json_object_get (block, "name")), "get_stock");
    CHECK (strncmp (json_string_value (json_object_get (block, "id")), "toolu_01", 8) == 0);
    CHECK (json_integer_value (json_object_get (json_object_get (block, "input"), "max_items")) ==
           10);
    json_decref (body);
    s_parsed_release (&p);

    snprintf (buf, sizeof (buf), req, ",\"stream\":true");
    s_reply (SB_MOCK_API_MESSAGES, buf, "tool=broken,chunks=3", false, &p);
    static const char *const names[] = {
        "message_start",       "content_block_start", "ping",
        "content_block_delta", "content_block_delta", "content_block_delta",
        "content_block_stop",  "message_delta",       "message_stop"};
    CHECK (json_array_size (p.events) == 9);
    char args[128] = "";
    for (size_t i = 0; i < 9 && i < json_array_size (p.events); i++) {
        CHECK_STR (s_event_name (&p, i), names[i]);
        CHECK_STR (json_string_value (json_object_get (s_event_data (&p, i), "type")), names[i]);
        json_t *delta = json_object_get (s_event_data (&p, i), "delta");
        const char *partial = json_string_value (json_object_get (delta, "partial_json"));
        if (partial) strncat (args, partial, sizeof (args) - strlen (args) - 1);
    }
    CHECK_STR (args, SB_MOCK_ARGS_BROKEN);
    block = json_object_get (s_event_data (&p, 1), "content_block");
    CHECK_STR (json_string_value (json_object_get (block, "type")), "tool_use");
    CHECK (json_object_size (json_object_get (block, "input")) == 0);
    json_t *md = s_event_data (&p, 7);
    CHECK_STR (json_string_value (json_object_get (json_object_get (md, "delta"), "stop_reason")),
               "tool_use");
    CHECK (json_integer_value (json_object_get (json_object_get (md, "usage"), "output_tokens")) ==
           3);
    s_parsed_release (&p);
}

int
main (void)
{
    s_test_knobs ();
    s_test_faults ();
    s_test_json ();
    s_test_script ();
    s_test_openai ();
    s_test_failures ();
    s_test_anthropic ();
    printf ("%d checks, %d failed\n", s_checks, s_failures);
    return s_failures ? 1 : 0;
}
