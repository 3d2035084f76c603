/*  sb_mock_knobs — parsing and merging of sb-mock's behaviour knobs (see sb_mock_knobs.h).
    Everything is driven by the one SB_MOCK_KNOB_LIST table, so a new knob is one line
    there plus the code that acts on it in sb_mock_reply.  */

#include "sb_mock_knobs.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    const char *name;
    sb_mock_knob_kind_t kind;
    int64_t min;
    int64_t max;
} s_knob_info_t;

static const s_knob_info_t s_knobs[SB_MOCK_KNOB_COUNT] = {
#define S_KNOB_INFO(id, name, kind, min, max) {name, kind, min, max},
    SB_MOCK_KNOB_LIST (S_KNOB_INFO)
#undef S_KNOB_INFO
};

//  Per-model defaults. Any model not listed gets plain text.
typedef struct {
    const char *model;
    sb_mock_knob_t knob;
    int64_t value;
} s_model_default_t;

static const s_model_default_t s_model_defaults[] = {
    {"demo-tools", SB_MOCK_KNOB_TOOL, SB_MOCK_TOOL_BROKEN},
    {"mock-tools", SB_MOCK_KNOB_TOOL, SB_MOCK_TOOL_BROKEN},
    {"mock-tools-valid", SB_MOCK_KNOB_TOOL, SB_MOCK_TOOL_VALID},
    {"mock-slow", SB_MOCK_KNOB_TTFT_MS, 2000},
};

static int s_fail (char *err, size_t err_size, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

static int
s_fail (char *err, size_t err_size, const char *fmt, ...)
{
    if (err && err_size > 0) {
        va_list args;
        va_start (args, fmt);
        vsnprintf (err, err_size, fmt, args);
        va_end (args);
    }
    return -1;
}

void
sb_mock_knobs_init (sb_mock_knobs_t *knobs)
{
    assert (knobs);
    memset (knobs, 0, sizeof (*knobs));
    knobs->value[SB_MOCK_KNOB_CHUNKS] = 5;
}

void
sb_mock_knobs_release (sb_mock_knobs_t *knobs)
{
    if (!knobs) return;
    free (knobs->content);
    sb_mock_knobs_init (knobs);
}

const char *
sb_mock_knob_name (sb_mock_knob_t knob)
{
    assert ((int)knob >= 0 && knob < SB_MOCK_KNOB_COUNT);
    return s_knobs[knob].name;
}

bool
sb_mock_knobs_is_set (const sb_mock_knobs_t *knobs, sb_mock_knob_t knob)
{
    assert (knobs);
    assert ((int)knob >= 0 && knob < SB_MOCK_KNOB_COUNT);
    return (knobs->set >> knob) & 1u;
}

int64_t
sb_mock_knobs_get (const sb_mock_knobs_t *knobs, sb_mock_knob_t knob)
{
    assert (knobs);
    assert ((int)knob >= 0 && knob < SB_MOCK_KNOB_COUNT);
    return knobs->value[knob];
}

void
sb_mock_knobs_apply_model (sb_mock_knobs_t *knobs, const char *model)
{
    assert (knobs);
    if (!model) return;
    for (size_t i = 0; i < sizeof (s_model_defaults) / sizeof (s_model_defaults[0]); i++)
        if (strcmp (model, s_model_defaults[i].model) == 0) {
            knobs->value[s_model_defaults[i].knob] = s_model_defaults[i].value;
            knobs->set |= 1u << s_model_defaults[i].knob;
        }
}

//  Finds a knob by name, accepting '-' for '_' and any case ("x-mock-Latency-Ms" style).
static int
s_find (const char *name, size_t len)
{
    for (int k = 0; k < SB_MOCK_KNOB_COUNT; k++) {
        const char *n = s_knobs[k].name;
        if (strlen (n) != len) continue;
        size_t i = 0;
        for (; i < len; i++) {
            char c = name[i];
            if (c == '-') c = '_';
            if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
            if (c != n[i]) break;
        }
        if (i == len) return k;
    }
    return -1;
}

static bool
s_word (const char *value, size_t len, const char *word)
{
    return strlen (word) == len && strncasecmp (value, word, len) == 0;
}

//  Parses value[0..len) into *out for knob k. Returns 0 or -1 (err filled).
static int
s_parse (int k, const char *value, size_t len, int64_t *out, char *err, size_t err_size)
{
    const s_knob_info_t *info = &s_knobs[k];
    char text[64];

    switch (info->kind) {
        case SB_MOCK_KIND_BOOL:
            if (!value || len == 0 || s_word (value, len, "1") || s_word (value, len, "true") ||
                s_word (value, len, "yes") || s_word (value, len, "on"))
                *out = 1;
            else if (s_word (value, len, "0") || s_word (value, len, "false") ||
                     s_word (value, len, "no") || s_word (value, len, "off"))
                *out = 0;
            else
                return s_fail (err, err_size, "knob %s: expected true or false", info->name);
            return 0;
        case SB_MOCK_KIND_TOOL:
            if (value && s_word (value, len, "none"))
                *out = SB_MOCK_TOOL_NONE;
            else if (value && s_word (value, len, "broken"))
                *out = SB_MOCK_TOOL_BROKEN;
            else if (value && s_word (value, len, "valid"))
                *out = SB_MOCK_TOOL_VALID;
            else
                return s_fail (err, err_size, "knob %s: expected none, broken or valid",
                               info->name);
            return 0;
        case SB_MOCK_KIND_STRING:
            return 0; // handled by the caller, which keeps the text
        case SB_MOCK_KIND_INT:
        case SB_MOCK_KIND_RATE:
            break;
    }
    if (!value || len == 0 || len >= sizeof (text))
        return s_fail (err, err_size, "knob %s: missing or overlong number", info->name);
    memcpy (text, value, len);
    text[len] = '\0';
    char *end = NULL;
    errno = 0;
    if (info->kind == SB_MOCK_KIND_RATE) {
        double rate = strtod (text, &end);
        //  Written so that NaN fails too.
        if (errno || end == text || *end || !(rate >= 0.0 && rate <= 1.0))
            return s_fail (err, err_size, "knob %s: expected a number within 0..1", info->name);
        *out = (int64_t)llround (rate * 1e6);
        return 0;
    }
    long long n = strtoll (text, &end, 10);
    if (errno || end == text || *end || n < info->min || n > info->max)
        return s_fail (err, err_size, "knob %s: expected an integer within %lld..%lld", info->name,
                       (long long)info->min, (long long)info->max);
    *out = n;
    return 0;
}

int
sb_mock_knobs_set (sb_mock_knobs_t *knobs, const char *name, size_t name_len, const char *value,
                   size_t value_len, char *err, size_t err_size)
{
    assert (knobs);
    assert (name);
    int k = s_find (name, name_len);
    if (k < 0)
        return s_fail (err, err_size, "unknown mock knob '%.*s'",
                       (int)(name_len > 64 ? 64 : name_len), name);

    if (s_knobs[k].kind == SB_MOCK_KIND_STRING) {
        if (!value) return s_fail (err, err_size, "knob %s needs a value", s_knobs[k].name);
        if (value_len > (size_t)s_knobs[k].max)
            return s_fail (err, err_size, "knob %s: text longer than 1 MiB", s_knobs[k].name);
        char *copy = malloc (value_len + 1);
        if (!copy) return s_fail (err, err_size, "out of memory for knob %s", s_knobs[k].name);
        memcpy (copy, value, value_len);
        copy[value_len] = '\0';
        free (knobs->content);
        knobs->content = copy;
        knobs->content_len = value_len;
        knobs->value[k] = (int64_t)value_len;
        knobs->set |= 1u << k;
        return 0;
    }

    int64_t parsed = 0;
    if (s_parse (k, value, value_len, &parsed, err, err_size)) return -1;
    knobs->value[k] = parsed;
    knobs->set |= 1u << k;
    return 0;
}

int
sb_mock_knobs_apply_list (sb_mock_knobs_t *knobs, const char *list, size_t len, char *err,
                          size_t err_size)
{
    assert (knobs);
    size_t pos = 0;
    while (pos < len) {
        const char *item = list + pos;
        const char *comma = memchr (item, ',', len - pos);
        size_t item_len = comma ? (size_t)(comma - item) : len - pos;
        pos += item_len + 1;
        if (item_len == 0) continue; // tolerate "a=1,,b=2" and a trailing comma
        const char *eq = memchr (item, '=', item_len);
        int rc;
        if (eq)
            rc = sb_mock_knobs_set (knobs, item, (size_t)(eq - item), eq + 1,
                                    item_len - (size_t)(eq - item) - 1, err, err_size);
        else
            rc = sb_mock_knobs_set (knobs, item, item_len, NULL, 0, err, err_size);
        if (rc) return -1;
    }
    return 0;
}

int
sb_mock_knobs_apply_json (sb_mock_knobs_t *knobs, const json_t *object, char *err, size_t err_size)
{
    assert (knobs);
    if (!json_is_object (object)) return s_fail (err, err_size, "\"mock\" must be an object");

    const char *key;
    json_t *value;
    json_object_foreach ((json_t *)object, key, value)
    {
        char text[64];
        const char *v = text;
        size_t v_len;
        if (json_is_string (value)) {
            v = json_string_value (value);
            v_len = json_string_length (value);
        } else if (json_is_integer (value))
            v_len = (size_t)snprintf (text, sizeof (text), "%lld",
                                      (long long)json_integer_value (value));
        else if (json_is_real (value))
            v_len = (size_t)snprintf (text, sizeof (text), "%.17g", json_real_value (value));
        else if (json_is_boolean (value))
            v_len = (size_t)snprintf (text, sizeof (text), "%s",
                                      json_is_true (value) ? "true" : "false");
        else
            return s_fail (err, err_size, "mock knob '%s': unsupported value type", key);
        if (sb_mock_knobs_set (knobs, key, strlen (key), v, v_len, err, err_size)) return -1;
    }
    return 0;
}
