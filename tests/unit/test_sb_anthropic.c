/*  test_sb_anthropic — black-box cases for sb_anthropic and sb_anthropic_stream.
    Every file in tests/data/anthropic is one case: req_*.json (OpenAI request ->
    Anthropic request or error), resp_*.json (Anthropic response -> OpenAI response
    + usage), err_*.json (upstream error -> OpenAI error + status), stream_*.sse with
    stream_*.out (event stream -> exact OpenAI SSE bytes, for every way of splitting
    the input). Then the bounds, abort and garbage-input behaviour.  */

#include "sb_anthropic.h"
#include "sb_anthropic_stream.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef SB_ANTHROPIC_DATA
#define SB_ANTHROPIC_DATA "tests/data/anthropic"
#endif

#define S_MAX_FILE  ((size_t)4 * 1024 * 1024)
#define S_MAX_CASES 512

static int s_checks;
static int s_failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        s_checks++;                                                                                \
        if (!(cond)) {                                                                             \
            s_failures++;                                                                          \
            fprintf (stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                  \
            fprintf (stderr, __VA_ARGS__);                                                         \
            fputc ('\n', stderr);                                                                  \
        }                                                                                          \
    } while (0)

//  ---------------------------------------------------------------------------------
//  Helpers

static char *
s_read_file (const char *path, size_t *len_p)
{
    FILE *file = fopen (path, "rb");
    if (!file) return NULL;
    char *data = malloc (S_MAX_FILE + 1);
    size_t len = data ? fread (data, 1, S_MAX_FILE + 1, file) : 0;
    fclose (file);
    if (!data || len > S_MAX_FILE) {
        free (data);
        return NULL;
    }
    data[len] = '\0';
    *len_p = len;
    return data;
}

static uint64_t s_rng = 0x2545f4914f6cdd1dULL;

static uint64_t
s_random (void)
{
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return s_rng;
}

static void
s_print_json_diff (const char *what, const json_t *got, const json_t *want)
{
    char *g = got ? json_dumps (got, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    char *w = want ? json_dumps (want, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    fprintf (stderr, "  %s\n  got:  %s\n  want: %s\n", what, g ? g : "(null)", w ? w : "(null)");
    free (g);
    free (w);
}

static int64_t
s_int_member (const json_t *object, const char *key)
{
    return (int64_t)json_integer_value (json_object_get (object, key));
}

//  ---------------------------------------------------------------------------------
//  Requests

static void
s_case_request (const char *name, const json_t *c)
{
    const json_t *openai = json_object_get (c, "openai");
    const char *text = json_string_value (json_object_get (c, "openai_text"));
    char *body = text ? strdup (text) : json_dumps (openai, JSON_COMPACT);
    const char *model = json_string_value (json_object_get (c, "model"));
    const char *want_error = json_string_value (json_object_get (c, "error"));
    const json_t *want = json_object_get (c, "anthropic");
    const json_t *want_info = json_object_get (c, "info");
    CHECK (body && model && (want_error || want), "%s: malformed case", name);
    if (!body || !model || (!want_error && !want)) {
        free (body);
        return;
    }
    char *out = NULL;
    size_t out_len = 0;
    char err[SB_ANTHROPIC_ERR_SIZE];
    sb_anthropic_request_info_t info;
    int rc = sb_anthropic_request_from_openai (body, strlen (body), model,
                                               s_int_member (c, "default_max_tokens"), &info, &out,
                                               &out_len, err, sizeof err);
    if (want_error) {
        CHECK (rc == -1 && out == NULL, "%s: expected an error, got rc %d", name, rc);
        CHECK (rc == -1 && strstr (err, want_error), "%s: error '%s' lacks '%s'", name,
               rc == -1 ? err : "", want_error);
    } else {
        CHECK (rc == 0 && out, "%s: translation failed: %s", name, err);
        json_t *got = out ? json_loadb (out, out_len, 0, NULL) : NULL;
        CHECK (got && strlen (out) == out_len, "%s: output is not one JSON text", name);
        bool equal = got && json_equal (got, (json_t *)want);
        CHECK (equal, "%s: Anthropic request differs", name);
        if (!equal) s_print_json_diff (name, got, want);
        json_decref (got);
    }
    if (want_info) {
        CHECK (info.stream == json_is_true (json_object_get (want_info, "stream")),
               "%s: info.stream", name);
        CHECK (info.include_usage == json_is_true (json_object_get (want_info, "include_usage")),
               "%s: info.include_usage", name);
    }
    free (out);
    free (body);
}

//  ---------------------------------------------------------------------------------
//  Responses

static void
s_case_response (const char *name, const json_t *c)
{
    const char *text = json_string_value (json_object_get (c, "anthropic_text"));
    char *body = text ? strdup (text) : json_dumps (json_object_get (c, "anthropic"), JSON_COMPACT);
    const char *want_error = json_string_value (json_object_get (c, "error"));
    const json_t *want = json_object_get (c, "openai");
    const json_t *want_usage = json_object_get (c, "usage");
    CHECK (body && (want_error || (want && want_usage)), "%s: malformed case", name);
    if (!body || (!want_error && !(want && want_usage))) {
        free (body);
        return;
    }
    char *out = NULL;
    size_t out_len = 0;
    char err[SB_ANTHROPIC_ERR_SIZE];
    sb_anthropic_usage_t usage;
    int rc = sb_anthropic_response_to_openai (body, strlen (body), s_int_member (c, "created"),
                                              &out, &out_len, &usage, err, sizeof err);
    if (want_error) {
        CHECK (rc == -1 && out == NULL, "%s: expected an error, got rc %d", name, rc);
        CHECK (rc == -1 && strstr (err, want_error), "%s: error '%s' lacks '%s'", name,
               rc == -1 ? err : "", want_error);
    } else {
        CHECK (rc == 0 && out, "%s: translation failed: %s", name, err);
        json_t *got = out ? json_loadb (out, out_len, 0, NULL) : NULL;
        bool equal = got && json_equal (got, (json_t *)want);
        CHECK (equal, "%s: OpenAI response differs", name);
        if (!equal) s_print_json_diff (name, got, want);
        json_decref (got);
        CHECK (
            usage.input_tokens == s_int_member (want_usage, "input_tokens") &&
                usage.cache_creation_tokens == s_int_member (want_usage, "cache_creation_tokens") &&
                usage.cache_read_tokens == s_int_member (want_usage, "cache_read_tokens") &&
                usage.output_tokens == s_int_member (want_usage, "output_tokens") &&
                usage.prompt_tokens == s_int_member (want_usage, "prompt_tokens") &&
                usage.completion_tokens == s_int_member (want_usage, "completion_tokens") &&
                usage.total_tokens == s_int_member (want_usage, "total_tokens"),
            "%s: usage %lld/%lld/%lld/%lld -> %lld/%lld/%lld", name, (long long)usage.input_tokens,
            (long long)usage.cache_creation_tokens, (long long)usage.cache_read_tokens,
            (long long)usage.output_tokens, (long long)usage.prompt_tokens,
            (long long)usage.completion_tokens, (long long)usage.total_tokens);
    }
    free (out);
    free (body);
}

//  ---------------------------------------------------------------------------------
//  Errors

static void
s_case_error (const char *name, const json_t *c)
{
    const json_t *body_json = json_object_get (c, "body");
    const char *text = json_string_value (json_object_get (c, "body_text"));
    char *body = text ? strdup (text) : json_dumps (body_json, JSON_COMPACT);
    const json_t *want = json_object_get (c, "openai");
    CHECK (body && want, "%s: malformed case", name);
    if (!body || !want) {
        free (body);
        return;
    }
    char *out = NULL;
    size_t out_len = 0;
    sb_anthropic_error_map_t map;
    int rc = sb_anthropic_error_to_openai ((int)s_int_member (c, "http_status"), body,
                                           strlen (body), &out, &out_len, &map);
    CHECK (rc == 0 && out, "%s: error translation failed", name);
    json_t *got = out ? json_loadb (out, out_len, 0, NULL) : NULL;
    bool equal = got && json_equal (got, (json_t *)want);
    CHECK (equal, "%s: OpenAI error differs", name);
    if (!equal) s_print_json_diff (name, got, want);
    CHECK (map.status == s_int_member (c, "status"), "%s: status %d, want %lld", name, map.status,
           (long long)s_int_member (c, "status"));
    CHECK (map.failover == json_is_true (json_object_get (c, "failover")), "%s: failover %d", name,
           map.failover);
    json_decref (got);
    free (out);
    free (body);
}

//  ---------------------------------------------------------------------------------
//  Streams

typedef struct {
    char *data;
    size_t len;
    size_t cap;
    int calls;
    int fail_at; //  emit call number that returns -1 (0: never)
} s_sink_t;

static int
s_sink_emit (const char *bytes, size_t len, void *arg)
{
    s_sink_t *sink = arg;
    sink->calls++;
    if (sink->fail_at && sink->calls == sink->fail_at) return -1;
    if (sink->len + len + 1 > sink->cap) {
        size_t cap = sink->cap ? sink->cap * 2 : 4096;
        while (cap < sink->len + len + 1)
            cap *= 2;
        char *data = realloc (sink->data, cap);
        if (!data) return -1;
        sink->data = data;
        sink->cap = cap;
    }
    memcpy (sink->data + sink->len, bytes, len);
    sink->len += len;
    sink->data[sink->len] = '\0';
    return 0;
}

typedef struct {
    bool include_usage;
    int64_t created;
    const char *state;
    char finish_reason[32];
    int64_t prompt_tokens;
    int64_t completion_tokens;
    int64_t total_tokens;
} s_stream_case_t;

//  Reads the "key=value ..." options on the ": sb-test" comment line that starts a
//  .sse fixture (a comment, so the translator itself skips it).
static int
s_stream_options (const char *sse, s_stream_case_t *opts)
{
    const char *prefix = ": sb-test ";
    if (strncmp (sse, prefix, strlen (prefix)) != 0) return -1;
    const char *at = sse + strlen (prefix);
    const char *end = strchr (at, '\n');
    if (!end) return -1;
    *opts = (s_stream_case_t){0};
    while (at < end) {
        const char *eq = memchr (at, '=', (size_t)(end - at));
        if (!eq) return -1;
        const char *stop = eq + 1;
        while (stop < end && *stop != ' ')
            stop++;
        size_t key_len = (size_t)(eq - at);
        size_t value_len = (size_t)(stop - eq - 1);
        char value[32];
        if (value_len >= sizeof value) return -1;
        memcpy (value, eq + 1, value_len);
        value[value_len] = '\0';
        long long number = strtoll (value, NULL, 10);
        if (key_len == 13 && strncmp (at, "include_usage", 13) == 0)
            opts->include_usage = number != 0;
        else if (key_len == 7 && strncmp (at, "created", 7) == 0)
            opts->created = number;
        else if (key_len == 5 && strncmp (at, "state", 5) == 0)
            opts->state = strcmp (value, "done") == 0      ? "done"
                          : strcmp (value, "errored") == 0 ? "errored"
                                                           : "?";
        else if (key_len == 13 && strncmp (at, "finish_reason", 13) == 0)
            snprintf (opts->finish_reason, sizeof opts->finish_reason, "%s", value);
        else if (key_len == 13 && strncmp (at, "prompt_tokens", 13) == 0)
            opts->prompt_tokens = number;
        else if (key_len == 17 && strncmp (at, "completion_tokens", 17) == 0)
            opts->completion_tokens = number;
        else if (key_len == 12 && strncmp (at, "total_tokens", 12) == 0)
            opts->total_tokens = number;
        else
            return -1;
        at = stop < end ? stop + 1 : end;
    }
    return opts->state ? 0 : -1;
}

static sb_anthropic_stream_state_t
s_state_named (const char *name)
{
    return strcmp (name, "done") == 0 ? SB_ANTHROPIC_STREAM_DONE : SB_ANTHROPIC_STREAM_ERRORED;
}

//  Feeds `input` in pieces chosen by `mode` (0: whole, 1: 1-byte, 2: random 1..max)
//  and checks output, state, finish reason and usage against the case.
static void
s_run_stream (const char *name, const char *how, const char *input, size_t len,
              const s_stream_case_t *opts, const char *want, size_t want_len, int mode,
              size_t max_piece)
{
    s_sink_t sink = {0};
    sb_anthropic_stream_opts_t sopts = {opts->include_usage, opts->created, 0, s_sink_emit, &sink};
    sb_anthropic_stream_t *stream = sb_anthropic_stream_new (&sopts);
    CHECK (stream, "%s: new", name);
    if (!stream) return;
    size_t at = 0;
    int rc = 0;
    while (at < len && rc == 0) {
        size_t piece = mode == 0 ? len : mode == 1 ? 1 : 1 + (size_t)(s_random () % max_piece);
        if (piece > len - at) piece = len - at;
        rc = sb_anthropic_stream_feed (stream, input + at, piece);
        at += piece;
    }
    CHECK (rc == 0, "%s (%s): feed failed: %s", name, how, sb_anthropic_stream_error (stream));
    bool same = sink.len == want_len && (want_len == 0 || memcmp (sink.data, want, want_len) == 0);
    CHECK (same, "%s (%s): output differs (%zu bytes, want %zu)", name, how, sink.len, want_len);
    if (!same && mode == 0)
        fprintf (stderr, "  got:\n%s\n  want:\n%s\n", sink.data ? sink.data : "", want);
    CHECK (sb_anthropic_stream_state (stream) == s_state_named (opts->state), "%s (%s): state %d",
           name, how, (int)sb_anthropic_stream_state (stream));
    const char *finish = sb_anthropic_stream_finish_reason (stream);
    CHECK (strcmp (finish ? finish : "", opts->finish_reason) == 0,
           "%s (%s): finish_reason '%s', want '%s'", name, how, finish ? finish : "",
           opts->finish_reason);
    sb_anthropic_usage_t usage;
    sb_anthropic_stream_usage (stream, &usage);
    CHECK (usage.prompt_tokens == opts->prompt_tokens &&
               usage.completion_tokens == opts->completion_tokens &&
               usage.total_tokens == opts->total_tokens,
           "%s (%s): usage %lld/%lld/%lld", name, how, (long long)usage.prompt_tokens,
           (long long)usage.completion_tokens, (long long)usage.total_tokens);
    //  Whatever arrives after the end is ignored.
    size_t before = sink.len;
    CHECK (sb_anthropic_stream_feed (stream, "data: {\"type\":\"message_stop\"}\n\n", 31) == 0 &&
               sink.len == before,
           "%s (%s): bytes after the end were not ignored", name, how);
    sb_anthropic_stream_destroy (&stream);
    CHECK (stream == NULL, "%s: destroy nulls the pointer", name);
    free (sink.data);
}

//  The same stream with every line ending rewritten to `eol` ("\r\n" or "\r").
static char *
s_with_line_endings (const char *input, size_t len, const char *eol, size_t *out_len)
{
    size_t eol_len = strlen (eol);
    char *out = malloc (len * eol_len + 1);
    size_t n = 0;
    if (!out) return NULL;
    for (size_t i = 0; i < len; i++) {
        if (input[i] == '\n') {
            memcpy (out + n, eol, eol_len);
            n += eol_len;
        } else
            out[n++] = input[i];
    }
    out[n] = '\0';
    *out_len = n;
    return out;
}

static void
s_case_stream (const char *dir, const char *name)
{
    char path[1024];
    snprintf (path, sizeof path, "%s/%s", dir, name);
    size_t len = 0, want_len = 0;
    char *input = s_read_file (path, &len);
    size_t stem = strlen (path) - 4; //  ".sse"
    snprintf (path + stem, sizeof path - stem, ".out");
    char *want = s_read_file (path, &want_len);
    s_stream_case_t opts;
    CHECK (input && want && s_stream_options (input, &opts) == 0, "%s: unreadable case or its .out",
           name);
    if (input && want && s_stream_options (input, &opts) == 0) {
        s_run_stream (name, "whole", input, len, &opts, want, want_len, 0, 0);
        s_run_stream (name, "1-byte splits", input, len, &opts, want, want_len, 1, 0);
        for (int round = 0; round < 200; round++) {
            size_t max_piece = round < 100 ? 7 : 257;
            s_run_stream (name, "random splits", input, len, &opts, want, want_len, 2, max_piece);
        }
        const char *endings[] = {"\r\n", "\r"};
        for (size_t e = 0; e < 2; e++) {
            size_t alt_len = 0;
            char *alt = s_with_line_endings (input, len, endings[e], &alt_len);
            if (!alt) continue;
            s_run_stream (name, e == 0 ? "CRLF whole" : "CR whole", alt, alt_len, &opts, want,
                          want_len, 0, 0);
            s_run_stream (name, e == 0 ? "CRLF 1-byte" : "CR 1-byte", alt, alt_len, &opts, want,
                          want_len, 1, 0);
            for (int round = 0; round < 50; round++)
                s_run_stream (name, e == 0 ? "CRLF random" : "CR random", alt, alt_len, &opts, want,
                              want_len, 2, 5);
            free (alt);
        }
    }
    free (input);
    free (want);
}

//  ---------------------------------------------------------------------------------
//  Fixtures

static int
s_compare_names (const void *a, const void *b)
{
    return strcmp (*(char *const *)a, *(char *const *)b);
}

static bool
s_has_suffix (const char *name, const char *suffix)
{
    size_t n = strlen (name), s = strlen (suffix);
    return n >= s && strcmp (name + n - s, suffix) == 0;
}

static void
s_run_fixtures (const char *dir, int *counts)
{
    DIR *handle = opendir (dir);
    CHECK (handle, "cannot open fixture directory %s", dir);
    if (!handle) return;
    char *names[S_MAX_CASES];
    size_t count = 0;
    struct dirent *entry;
    while ((entry = readdir (handle)) && count < S_MAX_CASES)
        if (entry->d_name[0] != '.') names[count++] = strdup (entry->d_name);
    closedir (handle);
    qsort (names, count, sizeof names[0], s_compare_names);
    for (size_t i = 0; i < count; i++) {
        const char *name = names[i];
        if (s_has_suffix (name, ".sse") && strncmp (name, "stream_", 7) == 0) {
            s_case_stream (dir, name);
            counts[3]++;
            continue;
        }
        if (!s_has_suffix (name, ".json")) continue;
        char path[1024];
        snprintf (path, sizeof path, "%s/%s", dir, name);
        json_error_t jerr;
        json_t *c = json_load_file (path, 0, &jerr);
        CHECK (c, "%s: %s", name, jerr.text);
        if (!c) continue;
        if (strncmp (name, "req_", 4) == 0) {
            s_case_request (name, c);
            counts[0]++;
        } else if (strncmp (name, "resp_", 5) == 0) {
            s_case_response (name, c);
            counts[1]++;
        } else if (strncmp (name, "err_", 4) == 0) {
            s_case_error (name, c);
            counts[2]++;
        } else
            CHECK (false, "%s: unknown fixture kind", name);
        json_decref (c);
    }
    for (size_t i = 0; i < count; i++)
        free (names[i]);
}

//  ---------------------------------------------------------------------------------
//  Behaviour not expressed as fixtures

static void
s_test_headers (void)
{
    sb_anthropic_header_t hdrs[SB_ANTHROPIC_HEADER_COUNT];
    size_t n = sb_anthropic_headers ("sk-ant-test", hdrs);
    CHECK (n == 3, "three headers");
    CHECK (strcmp (hdrs[0].name, "x-api-key") == 0 && strcmp (hdrs[0].value, "sk-ant-test") == 0,
           "x-api-key");
    CHECK (strcmp (hdrs[1].name, "anthropic-version") == 0 &&
               strcmp (hdrs[1].value, "2023-06-01") == 0,
           "anthropic-version");
    CHECK (strcmp (hdrs[2].name, "content-type") == 0 &&
               strcmp (hdrs[2].value, "application/json") == 0,
           "content-type");
    CHECK (strcmp (sb_anthropic_path (), "/v1/messages") == 0, "path");
}

static void
s_test_dumps (void)
{
    struct {
        double value;
        const char *text;
    } reals[] = {{0.7, "[0.7]"},
                 {0.1 + 0.2, "[0.30000000000000004]"},
                 {47.3769, "[47.3769]"},
                 {1.0, "[1.0]"},
                 {1e300, "[1e300]"}};
    for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++) {
        json_t *array = json_pack ("[f]", reals[i].value);
        size_t len = 0;
        char *text = sb_anthropic_dumps (array, &len);
        CHECK (text && strcmp (text, reals[i].text) == 0 && len == strlen (reals[i].text),
               "dumps %s gave %s", reals[i].text, text ? text : "(null)");
        free (text);
        json_decref (array);
    }
    //  The request carries temperature as the client wrote it.
    const char *body = "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":0.7}";
    char *out = NULL;
    int rc =
        sb_anthropic_request_from_openai (body, strlen (body), "m", 0, NULL, &out, NULL, NULL, 0);
    CHECK (rc == 0 && out && strstr (out, "\"temperature\":0.7}"), "temperature text: %s",
           out ? out : "(null)");
    free (out);
}

static void
s_test_small_err_buffer (void)
{
    const char *body =
        "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_audio\"}]}]}";
    char err[12];
    memset (err, 'x', sizeof err);
    char *out = (char *)1;
    int rc =
        sb_anthropic_request_from_openai (body, strlen (body), "m", 0, NULL, &out, NULL, err, 8);
    CHECK (rc == -1 && out == NULL, "error with small buffer");
    CHECK (strlen (err) == 7 && err[8] == 'x', "error message truncated within its buffer");
}

static int
s_feed_all (sb_anthropic_stream_t *stream, const char *text)
{
    return sb_anthropic_stream_feed (stream, text, strlen (text));
}

static void
s_test_stream_bounds (void)
{
    //  A line longer than max_event fails, split or not, and abort then answers.
    s_sink_t sink = {0};
    sb_anthropic_stream_opts_t opts = {false, 1, 64, s_sink_emit, &sink};
    sb_anthropic_stream_t *stream = sb_anthropic_stream_new (&opts);
    char line[200];
    memset (line, 'a', sizeof line);
    memcpy (line, "data: ", 6);
    int rc = 0;
    for (size_t i = 0; i < sizeof line && rc == 0; i += 10)
        rc = sb_anthropic_stream_feed (stream, line + i, 10);
    CHECK (rc == -1, "over-long line fails");
    CHECK (sb_anthropic_stream_state (stream) == SB_ANTHROPIC_STREAM_FAILED, "state FAILED");
    const char *error = sb_anthropic_stream_error (stream);
    CHECK (error && strcmp (error, "SSE line longer than 64 bytes") == 0, "bound message: %s",
           error ? error : "(null)");
    CHECK (sb_anthropic_stream_feed (stream, "\n\n", 2) == -1, "FAILED stays failed");
    CHECK (sink.len == 0, "nothing emitted before abort");
    CHECK (sb_anthropic_stream_abort (stream, NULL) == 0, "abort");
    const char *want =
        "data: {\"error\":{\"message\":\"SSE line longer than 64 bytes\",\"type\":"
        "\"upstream_error\",\"code\":\"upstream_stream_error\"}}\n\ndata: [DONE]\n\n";
    CHECK (sink.data && strcmp (sink.data, want) == 0, "abort output: %s",
           sink.data ? sink.data : "");
    CHECK (sb_anthropic_stream_state (stream) == SB_ANTHROPIC_STREAM_ERRORED, "state ERRORED");
    CHECK (sb_anthropic_stream_abort (stream, "again") == 0 && sink.calls == 2,
           "second abort is a no-op");
    sb_anthropic_stream_destroy (&stream);
    sb_anthropic_stream_destroy (&stream);
    free (sink.data);

    //  Data lines that each fit but add up past the bound fail too.
    sink = (s_sink_t){0};
    stream = sb_anthropic_stream_new (&opts);
    rc = 0;
    for (int i = 0; i < 5 && rc == 0; i++)
        rc = s_feed_all (stream, "data: 0123456789012345678901234567890\n");
    error = sb_anthropic_stream_error (stream);
    CHECK (rc == -1 && error && strcmp (error, "SSE event data longer than 64 bytes") == 0,
           "event bound: %s", error ? error : "(null)");
    sb_anthropic_stream_destroy (&stream);
    free (sink.data);
}

static const char s_start[] =
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\","
    "\"model\":\"claude-x\",\"usage\":{\"input_tokens\":4,\"output_tokens\":1}}}\n\n";

static void
s_test_stream_broken (void)
{
    struct {
        const char *what;
        const char *input;
        const char *error;
    } cases[] = {
        {"data is not JSON", "data: {not json\n\n", "event '': data is not a JSON object"},
        {"delta before message_start",
         "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
         "\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}\n\n",
         "content_block_delta before message_start"},
        {"input_json_delta outside a tool block",
         "data: {\"type\":\"content_block_delta\",\"index\":3,\"delta\":{\"type\":"
         "\"input_json_delta\",\"partial_json\":\"{\"}}\n\n",
         "input_json_delta outside a tool_use block"},
        {"second message_start", "data: {\"type\":\"message_start\",\"message\":{}}\n\n",
         "message_start after the message started"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s_sink_t sink = {0};
        sb_anthropic_stream_opts_t opts = {false, 1, 0, s_sink_emit, &sink};
        sb_anthropic_stream_t *stream = sb_anthropic_stream_new (&opts);
        int rc = 0;
        if (i >= 2) rc = s_feed_all (stream, s_start);
        CHECK (rc == 0, "%s: start", cases[i].what);
        rc = s_feed_all (stream, cases[i].input);
        const char *error = sb_anthropic_stream_error (stream);
        CHECK (rc == -1 && sb_anthropic_stream_state (stream) == SB_ANTHROPIC_STREAM_FAILED,
               "%s: fails", cases[i].what);
        CHECK (error && strcmp (error, cases[i].error) == 0, "%s: error '%s'", cases[i].what,
               error ? error : "(null)");
        sb_anthropic_stream_destroy (&stream);
        free (sink.data);
    }

    //  Upstream closes early: the caller aborts and the client gets an error + [DONE].
    s_sink_t sink = {0};
    sb_anthropic_stream_opts_t opts = {true, 1, 0, s_sink_emit, &sink};
    sb_anthropic_stream_t *stream = sb_anthropic_stream_new (&opts);
    CHECK (s_feed_all (stream, s_start) == 0 &&
               sb_anthropic_stream_state (stream) == SB_ANTHROPIC_STREAM_STREAMING,
           "truncated: streaming");
    size_t before = sink.len;
    CHECK (sb_anthropic_stream_abort (stream, "upstream closed") == 0, "truncated: abort");
    const char *tail =
        "data: {\"error\":{\"message\":\"upstream closed\",\"type\":\"upstream_error\","
        "\"code\":\"upstream_stream_error\"}}\n\ndata: [DONE]\n\n";
    CHECK (sink.data && strcmp (sink.data + before, tail) == 0, "truncated: abort output %s",
           sink.data ? sink.data + before : "");
    CHECK (strcmp (sb_anthropic_stream_error (stream), "upstream closed") == 0,
           "truncated: error kept");
    sb_anthropic_stream_destroy (&stream);
    free (sink.data);

    //  The client goes away: emit refuses, the feed fails, nothing more is emitted.
    sink = (s_sink_t){.fail_at = 1};
    stream = sb_anthropic_stream_new (&opts);
    CHECK (s_feed_all (stream, s_start) == -1, "emit failure fails the feed");
    CHECK (strcmp (sb_anthropic_stream_error (stream), "client write failed") == 0,
           "emit failure message");
    sb_anthropic_stream_destroy (&stream);
    free (sink.data);
}

//  Feeds garbage through every entry point: random bytes, then mutations of every
//  fixture. Passing means no crash and no sanitizer report, and results that keep
//  the documented contracts.
static void
s_mutate_through_all (const char *input, size_t len, int rounds)
{
    char *buf = malloc (len + 64);
    if (!buf) return;
    for (int round = 0; round < rounds; round++) {
        size_t n = len;
        memcpy (buf, input, n);
        int edits = 1 + (int)(s_random () % 4);
        for (int e = 0; e < edits; e++) {
            uint64_t r = s_random ();
            size_t at = n ? (size_t)(r >> 8) % n : 0;
            switch (r % 4) {
                case 0:
                    if (n) buf[at] = (char)(buf[at] ^ (1 << (r >> 40) % 8));
                    break;
                case 1:
                    n = at;
                    break;
                case 2:
                    if (n < len + 60) {
                        memmove (buf + at + 1, buf + at, n - at);
                        buf[at] = "{}[]\":,\n\r\\"[(r >> 32) % 11];
                        n++;
                    }
                    break;
                default:
                    if (n) buf[at] = (char)(r >> 24);
                    break;
            }
        }
        char *out = NULL;
        char err[SB_ANTHROPIC_ERR_SIZE];
        int rc =
            sb_anthropic_request_from_openai (buf, n, "m", 0, NULL, &out, NULL, err, sizeof err);
        CHECK ((rc == 0 && out) || (rc == -1 && !out && err[0]), "garbage request contract");
        free (out);
        out = NULL;
        rc = sb_anthropic_response_to_openai (buf, n, 0, &out, NULL, NULL, err, sizeof err);
        CHECK ((rc == 0 && out) || (rc == -1 && !out && err[0]), "garbage response contract");
        free (out);
        out = NULL;
        sb_anthropic_error_map_t map;
        rc = sb_anthropic_error_to_openai ((int)(s_random () % 700), buf, n, &out, NULL, &map);
        CHECK (rc == 0 && out && map.status >= 400 && map.status <= 504, "garbage error contract");
        free (out);
        s_sink_t sink = {0};
        sb_anthropic_stream_opts_t opts = {true, 1, 4096, s_sink_emit, &sink};
        sb_anthropic_stream_t *stream = sb_anthropic_stream_new (&opts);
        size_t at = 0;
        while (at < n) {
            size_t piece = 1 + (size_t)(s_random () % 97);
            if (piece > n - at) piece = n - at;
            sb_anthropic_stream_feed (stream, buf + at, piece);
            at += piece;
        }
        sb_anthropic_stream_abort (stream, NULL);
        sb_anthropic_stream_state_t state = sb_anthropic_stream_state (stream);
        CHECK (state == SB_ANTHROPIC_STREAM_DONE || state == SB_ANTHROPIC_STREAM_ERRORED,
               "garbage stream ends DONE or ERRORED after abort");
        CHECK (sink.len >= 14 && memcmp (sink.data + sink.len - 14, "data: [DONE]\n\n", 14) == 0,
               "garbage stream output ends with [DONE]");
        sb_anthropic_stream_destroy (&stream);
        free (sink.data);
    }
    free (buf);
}

static void
s_test_garbage (const char *dir)
{
    char noise[512];
    for (size_t i = 0; i < sizeof noise; i++)
        noise[i] = (char)s_random ();
    s_mutate_through_all (noise, sizeof noise, 50);
    s_mutate_through_all ("", 0, 1);
    DIR *handle = opendir (dir);
    if (!handle) return;
    struct dirent *entry;
    while ((entry = readdir (handle))) {
        if (entry->d_name[0] == '.' || s_has_suffix (entry->d_name, ".out")) continue;
        char path[1024];
        snprintf (path, sizeof path, "%s/%s", dir, entry->d_name);
        size_t len = 0;
        char *text = s_read_file (path, &len);
        if (!text) continue;
        //  Feed the case's payload (the inner JSON), not only the fixture wrapper.
        json_t *c = json_loadb (text, len, 0, NULL);
        const char *keys[] = {"openai", "anthropic", "body"};
        for (size_t k = 0; k < 3; k++) {
            char *inner = json_object_get (c, keys[k])
                              ? json_dumps (json_object_get (c, keys[k]), JSON_COMPACT)
                              : NULL;
            if (inner) s_mutate_through_all (inner, strlen (inner), 40);
            free (inner);
        }
        s_mutate_through_all (text, len, 40);
        json_decref (c);
        free (text);
    }
    closedir (handle);
}

int
main (int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : SB_ANTHROPIC_DATA;
    int counts[4] = {0};
    s_test_headers ();
    s_test_dumps ();
    s_test_small_err_buffer ();
    s_test_stream_bounds ();
    s_test_stream_broken ();
    s_run_fixtures (dir, counts);
    //  A missing or emptied fixture directory must fail, not pass vacuously.
    CHECK (counts[0] >= 30 && counts[1] >= 10 && counts[2] >= 10 && counts[3] >= 4,
           "fixture counts: %d requests, %d responses, %d errors, %d streams", counts[0], counts[1],
           counts[2], counts[3]);
    s_test_garbage (dir);
    printf ("test_sb_anthropic: %d requests, %d responses, %d errors, %d streams from %s\n",
            counts[0], counts[1], counts[2], counts[3], dir);
    printf ("test_sb_anthropic: %d checks, %d failed\n", s_checks, s_failures);
    return s_failures ? 1 : 0;
}
