/*  sb_json_scan — a validating single-pass JSON scanner with an explicit depth
    stack (no recursion, so hostile nesting costs a bounded amount).  */

#include "sb_json_scan.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    const char *p, *end, *start;
    const char *why;
} s_scan_t;

static int
s_fail (s_scan_t *s, const char *why)
{
    if (!s->why) s->why = why;
    return -1;
}

static void
s_ws (s_scan_t *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int
s_hex (char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

//  True when none of the 8 bytes in `v` needs a closer look inside a string: no
//  quote, backslash, control character or non-ASCII byte (the classic
//  "has a byte less than n" and "has a zero byte" word tricks).
static inline int
s_plain8 (uint64_t v)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t quote = v ^ (ones * '"'), backslash = v ^ (ones * '\\');
    uint64_t special = ((v - ones * 0x20) & ~v) | ((quote - ones) & ~quote) |
                       ((backslash - ones) & ~backslash) | v;
    return (special & highs) == 0;
}

//  Strings: escapes checked, control characters rejected, UTF-8 checked for shape
//  (lead/continuation bytes, no overlongs of 2-byte form, no bytes F5..FF).
static int
s_string (s_scan_t *s)
{
    const char *p = s->p + 1, *end = s->end; // past the opening quote
    for (;;) {
        //  Runs of plain ASCII go 8 bytes at a time, then byte by byte up to the
        //  byte that needs a look (within the next 8).
        while (end - p >= 8) {
            uint64_t v;
            memcpy (&v, p, 8);
            if (!s_plain8 (v)) break;
            p += 8;
        }
        unsigned char c = 0;
        while (p < end && (c = (unsigned char)*p) >= 0x20 && c < 0x80 && c != '"' && c != '\\')
            p++;
        s->p = p;
        if (p >= end) return s_fail (s, "unterminated string");
        if (c == '"') {
            s->p = p + 1;
            return 0;
        }
        if (c == '\\') {
            if (p + 1 >= end) return s_fail (s, "unterminated string");
            char e = p[1];
            if (e == 'u') {
                if (end - p < 6 || !s_hex (p[2]) || !s_hex (p[3]) || !s_hex (p[4]) || !s_hex (p[5]))
                    return s_fail (s, "bad \\u escape");
                p += 6;
            } else if (e && strchr ("\"\\/bfnrt", e))
                p += 2;
            else
                return s_fail (s, "bad escape in string");
            continue;
        }
        if (c < 0x20) return s_fail (s, "control character in string");
        int extra = (c >= 0xc2 && c <= 0xdf)   ? 1
                    : (c >= 0xe0 && c <= 0xef) ? 2
                    : (c >= 0xf0 && c <= 0xf4) ? 3
                                               : -1;
        if (extra < 0 || end - p <= extra) return s_fail (s, "invalid UTF-8 in string");
        for (int k = 1; k <= extra; k++)
            if (((unsigned char)p[k] & 0xc0) != 0x80) return s_fail (s, "invalid UTF-8 in string");
        p += extra + 1;
    }
}

static int
s_number (s_scan_t *s)
{
    const char *p = s->p;
    if (p < s->end && *p == '-') p++;
    if (p >= s->end) return s_fail (s, "bad number");
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (p < s->end && *p >= '0' && *p <= '9')
            p++;
    else
        return s_fail (s, "bad number");
    if (p < s->end && *p == '.') {
        p++;
        if (p >= s->end || *p < '0' || *p > '9') return s_fail (s, "bad number");
        while (p < s->end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < s->end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < s->end && (*p == '+' || *p == '-')) p++;
        if (p >= s->end || *p < '0' || *p > '9') return s_fail (s, "bad number");
        while (p < s->end && *p >= '0' && *p <= '9')
            p++;
    }
    s->p = p;
    return 0;
}

static int
s_literal (s_scan_t *s, const char *word, size_t n)
{
    if ((size_t)(s->end - s->p) < n || memcmp (s->p, word, n) != 0)
        return s_fail (s, "unexpected character");
    s->p += n;
    return 0;
}

//  Scans one value at s->p. When `members` is set and the value is the top-level
//  object, records its members. Containers are walked with an explicit stack.
static int
s_value (s_scan_t *s, sb_json_member_t *members, size_t max, size_t *count, sb_json_type_t *type)
{
    char stack[SB_JSON_MAX_DEPTH]; // 'o' or 'a' per open container
    int depth = 0;
    sb_json_member_t *current = NULL; // top-level member being scanned

    for (;;) {
        s_ws (s);
        if (s->p >= s->end) return s_fail (s, "unexpected end of input");
        const char *value_start = s->p;
        char c = *s->p;
        int rc;
        sb_json_type_t t;
        if (c == '{' || c == '[') {
            if (depth == SB_JSON_MAX_DEPTH) return s_fail (s, "nesting too deep");
            stack[depth++] = c == '{' ? 'o' : 'a';
            if (depth == 1 && type) *type = c == '{' ? SB_JSON_OBJECT : SB_JSON_ARRAY;
            if (depth == 2 && current) {
                current->value = value_start;
                current->type = c == '{' ? SB_JSON_OBJECT : SB_JSON_ARRAY;
            }
            s->p++;
            s_ws (s);
            if (s->p < s->end && *s->p == (c == '{' ? '}' : ']')) {
                s->p++;
                depth--;
                goto closed;
            }
            if (c == '{') goto expect_key;
            continue;
        }
        if (c == '"')
            rc = s_string (s), t = SB_JSON_STRING;
        else if (c == '-' || (c >= '0' && c <= '9'))
            rc = s_number (s), t = SB_JSON_NUMBER;
        else if (c == 't')
            rc = s_literal (s, "true", 4), t = SB_JSON_TRUE;
        else if (c == 'f')
            rc = s_literal (s, "false", 5), t = SB_JSON_FALSE;
        else if (c == 'n')
            rc = s_literal (s, "null", 4), t = SB_JSON_NULL;
        else
            return s_fail (s, "unexpected character");
        if (rc) return -1;
        if (depth == 0) {
            if (type) *type = t;
            return 0;
        }
        if (depth == 1 && current) {
            current->value = value_start;
            current->value_len = (size_t)(s->p - value_start);
            current->type = t;
            current = NULL;
        }
    closed:
        if (depth == 1 && current && current->value) {
            //  a container member of the top-level object just closed
            current->value_len = (size_t)(s->p - current->value);
            current = NULL;
        }
        if (depth == 0) return 0;
        //  After a value inside a container: ',' or the closer.
        s_ws (s);
        if (s->p >= s->end) return s_fail (s, "unexpected end of input");
        if (*s->p == ',') {
            s->p++;
            if (stack[depth - 1] == 'o') goto expect_key;
            continue;
        }
        if (*s->p == (stack[depth - 1] == 'o' ? '}' : ']')) {
            s->p++;
            depth--;
            goto closed;
        }
        return s_fail (s, stack[depth - 1] == 'o' ? "expected ',' or '}'" : "expected ',' or ']'");

    expect_key:
        s_ws (s);
        if (s->p >= s->end || *s->p != '"') return s_fail (s, "expected a member name");
        {
            const char *key = s->p + 1;
            if (s_string (s)) return -1;
            if (depth == 1 && members && count) {
                if (*count < max) {
                    current = &members[*count];
                    current->key = key;
                    current->key_len = (size_t)(s->p - 1 - key);
                    current->value = NULL;
                    current->value_len = 0;
                }
                (*count)++;
            }
        }
        s_ws (s);
        if (s->p >= s->end || *s->p != ':') return s_fail (s, "expected ':'");
        s->p++;
    }
}

int
sb_json_scan_object (const char *text, size_t len, sb_json_member_t *members, size_t max,
                     size_t *count, const char **why, size_t *where)
{
    s_scan_t s = {text, text + len, text, NULL};
    size_t seen = 0;
    sb_json_type_t type = SB_JSON_NULL;
    int rc = s_value (&s, members, max, &seen, &type);
    if (rc == 0 && type != SB_JSON_OBJECT) rc = s_fail (&s, "not a JSON object");
    if (rc == 0) {
        s_ws (&s);
        if (s.p != s.end) rc = s_fail (&s, "trailing characters after the JSON value");
    }
    if (count) *count = seen;
    if (why) *why = rc ? s.why : NULL;
    if (where) *where = (size_t)(s.p - text);
    return rc;
}

int
sb_json_validate (const char *text, size_t len, const char **why, size_t *where)
{
    s_scan_t s = {text, text + len, text, NULL};
    int rc = s_value (&s, NULL, 0, NULL, NULL);
    if (rc == 0) {
        s_ws (&s);
        if (s.p != s.end) rc = s_fail (&s, "trailing characters after the JSON value");
    }
    if (why) *why = rc ? s.why : NULL;
    if (where) *where = (size_t)(s.p - text);
    return rc;
}

static const char *
s_skip_ws (const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

//  p at an opening quote: just past the closing one, or NULL.
static const char *
s_skip_string (const char *p, const char *end)
{
    for (p++; p < end;) {
        const char *q = memchr (p, '"', (size_t)(end - p));
        if (!q) return NULL;
        size_t bs = 0; // an odd run of backslashes escapes the quote
        while (q - bs > p && q[-1 - (ptrdiff_t)bs] == '\\')
            bs++;
        if (bs % 2 == 0) return q + 1;
        p = q + 1;
    }
    return NULL;
}

//  p at a value: just past it, or NULL.
static const char *
s_skip_value (const char *p, const char *end)
{
    if (p >= end) return NULL;
    if (*p == '"') return s_skip_string (p, end);
    if (*p == '{' || *p == '[') {
        size_t depth = 0;
        while (p < end) {
            char c = *p;
            if (c == '"') {
                p = s_skip_string (p, end);
                if (!p) return NULL;
                continue;
            }
            if (c == '{' || c == '[')
                depth++;
            else if ((c == '}' || c == ']') && --depth == 0)
                return p + 1;
            p++;
        }
        return NULL;
    }
    while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\t' &&
           *p != '\n' && *p != '\r')
        p++;
    return p;
}

int
sb_json_lookup (const char *text, size_t len, const char *key, sb_json_member_t *out)
{
    const char *p = text, *end = text + len;
    size_t key_len = strlen (key);
    p = s_skip_ws (p, end);
    if (p >= end || *p != '{') return -1;
    for (p++;;) {
        p = s_skip_ws (p, end);
        if (p >= end || *p != '"') return -1;
        const char *k = p + 1;
        p = s_skip_string (p, end);
        if (!p) return -1;
        size_t kl = (size_t)(p - 1 - k);
        p = s_skip_ws (p, end);
        if (p >= end || *p != ':') return -1;
        p = s_skip_ws (p + 1, end);
        const char *v = p;
        p = s_skip_value (p, end);
        if (!p || p == v) return -1;
        if (kl == key_len && memcmp (k, key, kl) == 0) {
            char c = *v;
            out->key = k;
            out->key_len = kl;
            out->value = v;
            out->value_len = (size_t)(p - v);
            out->type = c == '{'   ? SB_JSON_OBJECT
                        : c == '[' ? SB_JSON_ARRAY
                        : c == '"' ? SB_JSON_STRING
                        : c == 't' ? SB_JSON_TRUE
                        : c == 'f' ? SB_JSON_FALSE
                        : c == 'n' ? SB_JSON_NULL
                                   : SB_JSON_NUMBER;
            return 0;
        }
        p = s_skip_ws (p, end);
        if (p >= end || *p != ',') return -1;
        p++;
    }
}

const sb_json_member_t *
sb_json_find (const sb_json_member_t *members, size_t count, const char *key)
{
    size_t n = strlen (key);
    for (size_t i = 0; i < count; i++)
        if (members[i].key_len == n && memcmp (members[i].key, key, n) == 0) return &members[i];
    return NULL;
}

static unsigned
s_hexval (const char *p)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v = v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
}

int
sb_json_unescape (const char *value, size_t len, char *out, size_t out_size)
{
    if (len < 2 || value[0] != '"' || value[len - 1] != '"' || out_size == 0) return -1;
    const char *p = value + 1, *end = value + len - 1;
    size_t n = 0;
    while (p < end) {
        unsigned cp;
        if (*p != '\\') {
            if (n + 1 >= out_size) return -1;
            out[n++] = *p++;
            continue;
        }
        char e = p[1];
        p += 2;
        switch (e) {
            case 'b':
                cp = '\b';
                break;
            case 'f':
                cp = '\f';
                break;
            case 'n':
                cp = '\n';
                break;
            case 'r':
                cp = '\r';
                break;
            case 't':
                cp = '\t';
                break;
            case 'u':
                if (end - p < 4) return -1;
                cp = s_hexval (p);
                p += 4;
                if (cp >= 0xd800 && cp < 0xdc00 && end - p >= 6 && p[0] == '\\' && p[1] == 'u') {
                    unsigned lo = s_hexval (p + 2);
                    if (lo >= 0xdc00 && lo < 0xe000) {
                        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                        p += 6;
                    }
                }
                break;
            default:
                cp = (unsigned char)e;
                break;
        }
        char buf[4];
        size_t k;
        if (cp < 0x80)
            buf[0] = (char)cp, k = 1;
        else if (cp < 0x800)
            buf[0] = (char)(0xc0 | (cp >> 6)), buf[1] = (char)(0x80 | (cp & 0x3f)), k = 2;
        else if (cp < 0x10000)
            buf[0] = (char)(0xe0 | (cp >> 12)), buf[1] = (char)(0x80 | ((cp >> 6) & 0x3f)),
            buf[2] = (char)(0x80 | (cp & 0x3f)), k = 3;
        else
            buf[0] = (char)(0xf0 | (cp >> 18)), buf[1] = (char)(0x80 | ((cp >> 12) & 0x3f)),
            buf[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), buf[3] = (char)(0x80 | (cp & 0x3f)), k = 4;
        if (n + k >= out_size) return -1;
        memcpy (out + n, buf, k);
        n += k;
    }
    out[n] = '\0';
    return (int)n;
}

int
sb_json_uint (const sb_json_member_t *member, uint64_t *out)
{
    if (!member || member->type != SB_JSON_NUMBER) return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < member->value_len; i++) {
        char c = member->value[i];
        if (c < '0' || c > '9') return -1;
        if (v > (UINT64_MAX - 9) / 10) return -1;
        v = v * 10 + (uint64_t)(c - '0');
    }
    *out = v;
    return member->value_len ? 0 : -1;
}
