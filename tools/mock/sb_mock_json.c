/*  sb_mock_json — JSON text writer with json_pack's format language (see
    sb_mock_json.h). Separators come from the nesting state, never from the format.  */

#include "sb_mock_json.h"

#include <assert.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void
sb_mock_json_init (sb_mock_json_t *self, size_t max)
{
    assert (self);
    memset (self, 0, sizeof (*self));
    self->max = max;
}

void
sb_mock_json_release (sb_mock_json_t *self)
{
    if (!self) return;
    size_t max = self->max;
    free (self->data);
    sb_mock_json_init (self, max);
}

void
sb_mock_json_clear (sb_mock_json_t *self)
{
    assert (self);
    self->len = 0;
    if (self->data) self->data[0] = '\0';
    self->failed = false;
    self->depth = 0;
}

static int
s_fail (sb_mock_json_t *self)
{
    self->failed = true;
    return -1;
}

static int
s_reserve (sb_mock_json_t *self, size_t more)
{
    if (self->failed) return -1;
    if (more > self->max - self->len) return s_fail (self);
    if (self->data && more < self->cap - self->len) return 0;
    size_t cap = self->cap ? self->cap : 512;
    while (cap - self->len <= more)
        cap *= 2; // cap stays below 2 * (max + 1): no overflow for sane max
    char *data = realloc (self->data, cap);
    if (!data) return s_fail (self);
    self->data = data;
    self->cap = cap;
    return 0;
}

static int
s_append (sb_mock_json_t *self, const char *text, size_t len)
{
    if (s_reserve (self, len)) return -1;
    memcpy (self->data + self->len, text, len);
    self->len += len;
    self->data[self->len] = '\0';
    return 0;
}

static int
s_char (sb_mock_json_t *self, char c)
{
    return s_append (self, &c, 1);
}

//  Length of the valid UTF-8 sequence at s[0..len), or 0 when it is not one.
static size_t
s_utf8_len (const unsigned char *s, size_t len)
{
    unsigned char c = s[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F; // no UTF-16 surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else
        return 0;
    if (n > len || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return n;
}

int
sb_mock_json_escape (sb_mock_json_t *self, const char *text, size_t len)
{
    assert (self);
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < len) {
        //  Copy the longest run that needs no escaping in one go.
        size_t run = i;
        while (run < len && s[run] >= 0x20 && s[run] < 0x80 && s[run] != '"' && s[run] != '\\')
            run++;
        if (run > i && s_append (self, text + i, run - i)) return -1;
        i = run;
        if (i == len) break;
        unsigned char c = s[i];
        if (c >= 0x80) {
            size_t n = s_utf8_len (s + i, len - i);
            if (n ? s_append (self, text + i, n) : s_append (self, "\\ufffd", 6)) return -1;
            i += n ? n : 1;
            continue;
        }
        char esc[7] = {'\\', 0, 0, 0, 0, 0, 0};
        size_t esc_len = 2;
        switch (c) {
            case '"':
                esc[1] = '"';
                break;
            case '\\':
                esc[1] = '\\';
                break;
            case '\n':
                esc[1] = 'n';
                break;
            case '\r':
                esc[1] = 'r';
                break;
            case '\t':
                esc[1] = 't';
                break;
            case '\b':
                esc[1] = 'b';
                break;
            case '\f':
                esc[1] = 'f';
                break;
            default:
                memcpy (esc + 1, "u00", 3);
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                esc_len = 6;
        }
        if (s_append (self, esc, esc_len)) return -1;
        i++;
    }
    return 0;
}

static int
s_string (sb_mock_json_t *self, const char *text, size_t len)
{
    return s_char (self, '"') || sb_mock_json_escape (self, text, len) || s_char (self, '"');
}

static int
s_int (sb_mock_json_t *self, int64_t value)
{
    char digits[24];
    size_t n = 0;
    //  Negate as unsigned so INT64_MIN works.
    uint64_t u = value < 0 ? 0 - (uint64_t)value : (uint64_t)value;
    do {
        digits[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (value < 0) digits[n++] = '-';
    char text[24];
    for (size_t i = 0; i < n; i++)
        text[i] = digits[n - 1 - i];
    return s_append (self, text, n);
}

static bool
s_at_key (const sb_mock_json_t *self)
{
    return self->depth > 0 && self->kind[self->depth - 1] == '{' &&
           !self->want_value[self->depth - 1];
}

//  Writes what goes before a value: the separator in an array; in an object, the
//  value answers the key just written.
static int
s_value_begin (sb_mock_json_t *self)
{
    if (self->depth == 0) return self->len == 0 ? 0 : s_fail (self); // one document per writer
    int top = self->depth - 1;
    if (self->kind[top] == '[') return self->count[top]++ ? s_char (self, ',') : 0;
    if (!self->want_value[top]) return s_fail (self); // a non-string where a key belongs
    self->want_value[top] = false;
    return 0;
}

static int
s_key (sb_mock_json_t *self, const char *key, size_t len)
{
    int top = self->depth - 1;
    if (self->count[top]++ && s_char (self, ',')) return -1;
    self->want_value[top] = true;
    return s_string (self, key, len) || s_char (self, ':');
}

int
sb_mock_json_pack (sb_mock_json_t *self, const char *fmt, ...)
{
    assert (self);
    assert (fmt);
    va_list args;
    va_start (args, fmt);
    for (const char *p = fmt; *p && !self->failed; p++) {
        switch (*p) {
            case ' ':
            case ':':
            case ',':
                break;
            case '{':
            case '[':
                if (self->depth == SB_MOCK_JSON_DEPTH || s_value_begin (self) || s_char (self, *p))
                    s_fail (self);
                else {
                    self->kind[self->depth] = *p;
                    self->count[self->depth] = 0;
                    self->want_value[self->depth] = false;
                    self->depth++;
                }
                break;
            case '}':
            case ']': {
                char open = *p == '}' ? '{' : '[';
                if (self->depth == 0 || self->kind[self->depth - 1] != open ||
                    self->want_value[self->depth - 1])
                    s_fail (self);
                else if (!s_char (self, *p))
                    self->depth--;
                break;
            }
            case 's': {
                const char *text = va_arg (args, const char *);
                size_t len;
                bool nullable = p[1] == '?';
                if (p[1] == '%') {
                    len = va_arg (args, size_t);
                    p++;
                } else {
                    if (nullable) p++;
                    len = text ? strlen (text) : 0;
                }
                if (s_at_key (self)) {
                    if (!text)
                        s_fail (self);
                    else
                        s_key (self, text, len);
                } else if (!s_value_begin (self)) {
                    if (text)
                        s_string (self, text, len);
                    else if (nullable)
                        s_append (self, "null", 4);
                    else
                        s_fail (self);
                }
                break;
            }
            case 'i': {
                int value = va_arg (args, int);
                if (!s_value_begin (self)) s_int (self, value);
                break;
            }
            case 'I': {
                int64_t value = va_arg (args, int64_t);
                if (!s_value_begin (self)) s_int (self, value);
                break;
            }
            case 'b': {
                int value = va_arg (args, int);
                if (!s_value_begin (self)) s_append (self, value ? "true" : "false", value ? 4 : 5);
                break;
            }
            case 'n':
                if (!s_value_begin (self)) s_append (self, "null", 4);
                break;
            case 'r': {
                const char *raw = va_arg (args, const char *);
                size_t len;
                if (p[1] == '%') {
                    len = va_arg (args, size_t);
                    p++;
                } else
                    len = raw ? strlen (raw) : 0;
                if (!raw)
                    s_fail (self);
                else if (!s_value_begin (self))
                    s_append (self, raw, len);
                break;
            }
            default:
                s_fail (self);
        }
    }
    va_end (args);
    return self->failed ? -1 : 0;
}
