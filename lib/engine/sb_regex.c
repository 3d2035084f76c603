/*  sb_regex — ECMA-262 patterns translated to PCRE2 and compiled once (with JIT
    when available). The translation is a single left-to-right pass that rewrites
    only the constructs whose meaning differs between the two dialects and copies
    everything else, so that PCRE2 reports genuine syntax errors itself.  */

#define PCRE2_CODE_UNIT_WIDTH 8
#include "sb_regex.h"

#include <pcre2.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  A translated pattern can grow (\s becomes a class of 14 items); a pattern is a
//  schema keyword, so anything near these sizes is hostile rather than useful.
#define S_MAX_PATTERN    (64 * 1024)
#define S_MAX_TRANSLATED (1024 * 1024)
//  Backtracking budget per match: a catastrophic pattern fails the match with -1
//  instead of holding the thread for seconds.
#define S_MATCH_LIMIT 1000000
#define S_HEAP_LIMIT  (16 * 1024) // KiB

//  ECMA-262 WhiteSpace + LineTerminator, as PCRE2 class items.
#define S_ECMA_SPACE                                                                               \
    "\\t\\n\\x{B}\\f\\r \\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}"   \
    "\\x{3000}\\x{FEFF}"
//  ECMA `.` matches anything but a LineTerminator.
#define S_ECMA_DOT "[^\\n\\r\\x{2028}\\x{2029}]"

struct _sb_regex_t {
    pcre2_code *code;
    pcre2_match_context *match_context; // limits; read-only after construction
    char *translated;                   // NUL-terminated PCRE2 pattern
};

struct _sb_regex_scratch_t {
    pcre2_match_data *match_data; // one ovector pair: only "matched or not" is needed
};

//  Output buffer of the translation; `failed` latches an overflow or OOM.
typedef struct {
    char *data;
    size_t size;
    size_t capacity;
    int failed;
} s_out_t;

static void
s_put (s_out_t *out, const char *bytes, size_t n)
{
    if (out->failed) return;
    if (out->size + n + 1 > out->capacity) {
        size_t cap = out->capacity ? out->capacity : 64;
        while (cap < out->size + n + 1)
            cap *= 2;
        char *grown = cap > S_MAX_TRANSLATED ? NULL : realloc (out->data, cap);
        if (!grown) {
            out->failed = 1;
            return;
        }
        out->data = grown;
        out->capacity = cap;
    }
    memcpy (out->data + out->size, bytes, n);
    out->size += n;
    out->data[out->size] = 0;
}

static void
s_puts (s_out_t *out, const char *text)
{
    s_put (out, text, strlen (text));
}

static void
s_put_codepoint (s_out_t *out, uint32_t cp)
{
    char buf[16];
    int n = snprintf (buf, sizeof buf, "\\x{%X}", (unsigned)cp);
    s_put (out, buf, (size_t)n);
}

static int
s_hex_value (char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

//  Reads exactly `digits` hex digits at p[at..]; returns the value or -1.
static long
s_read_hex (const char *p, size_t len, size_t at, size_t digits)
{
    if (at + digits > len) return -1;
    long value = 0;
    for (size_t i = 0; i < digits; i++) {
        int h = s_hex_value (p[at + i]);
        if (h < 0) return -1;
        value = value * 16 + h;
    }
    return value;
}

//  Long General_Category names (ECMA accepts them, PCRE2 10.42 only the short).
static const char *s_gc_names[][2] = {
    {"Letter", "L"},
    {"Cased_Letter", "L&"},
    {"LC", "L&"},
    {"Uppercase_Letter", "Lu"},
    {"Lowercase_Letter", "Ll"},
    {"Titlecase_Letter", "Lt"},
    {"Modifier_Letter", "Lm"},
    {"Other_Letter", "Lo"},
    {"Mark", "M"},
    {"Combining_Mark", "M"},
    {"Nonspacing_Mark", "Mn"},
    {"Spacing_Mark", "Mc"},
    {"Enclosing_Mark", "Me"},
    {"Number", "N"},
    {"Decimal_Number", "Nd"},
    {"digit", "Nd"},
    {"Letter_Number", "Nl"},
    {"Other_Number", "No"},
    {"Punctuation", "P"},
    {"punct", "P"},
    {"Connector_Punctuation", "Pc"},
    {"Dash_Punctuation", "Pd"},
    {"Open_Punctuation", "Ps"},
    {"Close_Punctuation", "Pe"},
    {"Initial_Punctuation", "Pi"},
    {"Final_Punctuation", "Pf"},
    {"Other_Punctuation", "Po"},
    {"Symbol", "S"},
    {"Math_Symbol", "Sm"},
    {"Currency_Symbol", "Sc"},
    {"Modifier_Symbol", "Sk"},
    {"Other_Symbol", "So"},
    {"Separator", "Z"},
    {"Space_Separator", "Zs"},
    {"Line_Separator", "Zl"},
    {"Paragraph_Separator", "Zp"},
    {"Other", "C"},
    {"Control", "Cc"},
    {"cntrl", "Cc"},
    {"Format", "Cf"},
    {"Surrogate", "Cs"},
    {"Private_Use", "Co"},
    {"Unassigned", "Cn"},
};

static const char *
s_gc_short (const char *name, size_t n)
{
    for (size_t i = 0; i < sizeof s_gc_names / sizeof s_gc_names[0]; i++)
        if (strlen (s_gc_names[i][0]) == n && memcmp (s_gc_names[i][0], name, n) == 0)
            return s_gc_names[i][1];
    return NULL;
}

//  \p{...} / \P{...} at p[at] == 'p' or 'P'. Returns the index after it, or 0
//  when there is no brace (then ECMA without the u flag means a literal letter).
static size_t
s_translate_property (s_out_t *out, const char *p, size_t len, size_t at)
{
    if (at + 1 >= len || p[at + 1] != '{') return 0;
    const char *close = memchr (p + at + 2, '}', len - at - 2);
    if (!close) return 0;
    const char *body = p + at + 2;
    size_t n = (size_t)(close - body);
    const char *eq = memchr (body, '=', n);
    s_put (out, p[at] == 'P' ? "\\P{" : "\\p{", 3);
    if (eq) {
        size_t key_len = (size_t)(eq - body);
        const char *value = eq + 1;
        size_t value_len = n - key_len - 1;
        if ((key_len == 2 && memcmp (body, "gc", 2) == 0) ||
            (key_len == 16 && memcmp (body, "General_Category", 16) == 0)) {
            const char *short_name = s_gc_short (value, value_len);
            if (short_name)
                s_puts (out, short_name);
            else
                s_put (out, value, value_len);
        } else
            s_put (out, body, n); // Script=, sc=, scx=: PCRE2 spells them the same
    } else {
        const char *short_name = s_gc_short (body, n);
        if (short_name)
            s_puts (out, short_name);
        else
            s_put (out, body, n);
    }
    s_put (out, "}", 1);
    return (size_t)(close - p) + 1;
}

//  \u escapes: \uXXXX (a surrogate pair of them makes one code point) and \u{X...}.
//  `at` indexes the 'u'. Returns the index after the escape, 0 when it is not a
//  \u escape (a literal 'u' then), or (size_t) -1 for a lone surrogate.
static size_t
s_translate_unicode (s_out_t *out, const char *p, size_t len, size_t at)
{
    long cp;
    size_t next;
    if (at + 1 < len && p[at + 1] == '{') {
        cp = 0;
        size_t i = at + 2;
        while (i < len && s_hex_value (p[i]) >= 0 && cp <= 0x10FFFF)
            cp = cp * 16 + s_hex_value (p[i++]);
        if (i == at + 2 || i >= len || p[i] != '}' || cp > 0x10FFFF) return 0;
        next = i + 1;
    } else {
        cp = s_read_hex (p, len, at + 1, 4);
        if (cp < 0) return 0;
        next = at + 5;
        if (cp >= 0xD800 && cp <= 0xDBFF && next + 1 < len && p[next] == '\\' &&
            p[next + 1] == 'u') {
            long low = s_read_hex (p, len, next + 2, 4);
            if (low >= 0xDC00 && low <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                next += 6;
            }
        }
    }
    if (cp >= 0xD800 && cp <= 0xDFFF)
        return (size_t)-1; // UTF-8 text cannot contain it; PCRE2 rejects it too
    s_put_codepoint (out, (uint32_t)cp);
    return next;
}

//  Translates the escape at p[at] == '\\'. Returns the index after it, or
//  (size_t) -1 on an error written into err.
static size_t
s_translate_escape (s_out_t *out, const char *p, size_t len, size_t at, int in_class, char *err,
                    size_t err_size)
{
    if (at + 1 >= len) {
        snprintf (err, err_size, "pattern ends with a backslash");
        return (size_t)-1;
    }
    char e = p[at + 1];
    size_t next = at + 2;
    switch (e) {
        case 'd':
        case 'D':
        case 'w':
        case 'W':
            //  Without PCRE2_UCP these are ASCII, as in ECMA.
            s_put (out, p + at, 2);
            return next;
        case 'b':
            s_puts (out, in_class ? "\\x{8}" : "\\b");
            return next;
        case 'B':
            s_put (out, p + at, 2);
            return next;
        case 's':
            s_puts (out, in_class ? S_ECMA_SPACE : "[" S_ECMA_SPACE "]");
            if (in_class && next + 1 < len && p[next] == '-' && p[next + 1] != ']') {
                s_puts (out, "\\-"); // [\s-x] is \s, '-' and 'x', not a range
                next++;
            }
            return next;
        case 'S':
            //  Inside a class PCRE2's ASCII \S is the closest it can say; it differs
            //  from ECMA only for non-ASCII white space (U+00A0 and friends).
            s_puts (out, in_class ? "\\S" : "[^" S_ECMA_SPACE "]");
            return next;
        case 'v':
            s_puts (out, "\\x{B}"); // PCRE2 \v is a class of vertical space
            return next;
        case 'n':
        case 'r':
        case 't':
        case 'f':
            s_put (out, p + at, 2);
            return next;
        case '0':
            if (next < len && p[next] >= '0' && p[next] <= '9') {
                s_put (out, p + at, 2); // legacy octal, same in PCRE2
                return next;
            }
            s_puts (out, "\\x{0}");
            return next;
        case 'x': {
            long value = s_read_hex (p, len, next, 2);
            if (value < 0) {
                s_put (out, "x", 1);
                return next;
            }
            s_put_codepoint (out, (uint32_t)value);
            return next + 2;
        }
        case 'u': {
            size_t after = s_translate_unicode (out, p, len, at + 1);
            if (after == (size_t)-1) {
                snprintf (err, err_size, "lone surrogate escape in pattern");
                return (size_t)-1;
            }
            if (after == 0) {
                s_put (out, "u", 1);
                return next;
            }
            return after;
        }
        case 'p':
        case 'P': {
            size_t after = s_translate_property (out, p, len, at + 1);
            if (after == 0) {
                s_put (out, &e, 1);
                return next;
            }
            return after;
        }
        case 'c':
            if (next < len &&
                ((p[next] >= 'a' && p[next] <= 'z') || (p[next] >= 'A' && p[next] <= 'Z'))) {
                s_put (out, p + at, 3);
                return next + 1;
            }
            s_puts (out, "\\\\c"); // ECMA: a backslash and a 'c'
            return next;
        case 'k':
            s_put (out, p + at, 2); // \k<name>: same syntax in PCRE2
            return next;
        case '/':
            s_put (out, "/", 1);
            return next;
        default:
            if (e >= '1' && e <= '9') {
                s_put (out, p + at, 2); // back reference
                return next;
            }
            if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (unsigned char)e >= 0x80) {
                //  An identity escape of a letter means the letter in ECMA; PCRE2
                //  gives most letters a meaning of its own (\A \z \h \R \Q ...).
                s_put (out, &e, 1);
                return next;
            }
            s_put (out, p + at, 2); // escaped punctuation: same in both
            return next;
    }
}

//  Translates an ECMA pattern into out. Returns 0 or -1 (err filled in).
static int
s_translate (s_out_t *out, const char *p, size_t len, char *err, size_t err_size)
{
    int in_class = 0;
    size_t i = 0;
    while (i < len) {
        char c = p[i];
        if (c == '\\') {
            size_t next = s_translate_escape (out, p, len, i, in_class, err, err_size);
            if (next == (size_t)-1) return -1;
            i = next;
            continue;
        }
        if (in_class) {
            if (c == ']') in_class = 0;
            if (c == '[')
                s_puts (out, "\\["); // PCRE2 would read "[:" as a POSIX class
            else
                s_put (out, &c, 1);
            i++;
            continue;
        }
        if (c == '[') {
            in_class = 1;
            s_put (out, "[", 1);
            i++;
            if (i < len && p[i] == '^') s_put (out, p + i++, 1);
            //  With PCRE2_ALLOW_EMPTY_CLASS a ']' here closes the class, as in ECMA.
            if (i < len && p[i] == ']') {
                s_put (out, "]", 1);
                in_class = 0;
                i++;
            }
            continue;
        }
        if (c == '.')
            s_puts (out, S_ECMA_DOT);
        else
            s_put (out, &c, 1);
        i++;
    }
    if (out->failed) {
        snprintf (err, err_size, "pattern too long");
        return -1;
    }
    return 0;
}

sb_regex_t *
sb_regex_new (const char *pattern, size_t len, char *err, size_t err_size)
{
    char scratch_err[8];
    if (!err || err_size == 0) {
        err = scratch_err;
        err_size = sizeof scratch_err;
    }
    err[0] = 0;
    if (len > S_MAX_PATTERN) {
        snprintf (err, err_size, "pattern longer than %d bytes", S_MAX_PATTERN);
        return NULL;
    }
    sb_regex_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, err_size, "out of memory");
        return NULL;
    }
    s_out_t out = {0};
    s_put (&out, "", 0); // an empty pattern still needs a buffer
    if (s_translate (&out, pattern, len, err, err_size) != 0) goto failed;
    self->translated = out.data;
    out.data = NULL;

    int code;
    PCRE2_SIZE offset;
    self->code = pcre2_compile ((PCRE2_SPTR)self->translated, strlen (self->translated),
                                PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY |
                                    PCRE2_ALLOW_EMPTY_CLASS | PCRE2_NEVER_BACKSLASH_C,
                                &code, &offset, NULL);
    if (!self->code) {
        PCRE2_UCHAR message[160];
        pcre2_get_error_message (code, message, sizeof message);
        snprintf (err, err_size, "invalid pattern: %s", (const char *)message);
        goto failed;
    }
    //  JIT failure (no JIT support, out of executable memory) leaves the
    //  interpreter in charge, which is correct, only slower.
    (void)pcre2_jit_compile (self->code, PCRE2_JIT_COMPLETE);
    self->match_context = pcre2_match_context_create (NULL);
    if (!self->match_context) {
        snprintf (err, err_size, "out of memory");
        goto failed;
    }
    pcre2_set_match_limit (self->match_context, S_MATCH_LIMIT);
    pcre2_set_heap_limit (self->match_context, S_HEAP_LIMIT);
    return self;

failed:
    free (out.data);
    sb_regex_destroy (&self);
    return NULL;
}

void
sb_regex_destroy (sb_regex_t **self_p)
{
    if (!self_p || !*self_p) return;
    sb_regex_t *self = *self_p;
    pcre2_code_free (self->code);
    pcre2_match_context_free (self->match_context);
    free (self->translated);
    free (self);
    *self_p = NULL;
}

sb_regex_scratch_t *
sb_regex_scratch_new (void)
{
    sb_regex_scratch_t *self = calloc (1, sizeof *self);
    if (!self) return NULL;
    self->match_data = pcre2_match_data_create (1, NULL);
    if (!self->match_data) {
        free (self);
        return NULL;
    }
    return self;
}

void
sb_regex_scratch_destroy (sb_regex_scratch_t **self_p)
{
    if (!self_p || !*self_p) return;
    pcre2_match_data_free ((*self_p)->match_data);
    free (*self_p);
    *self_p = NULL;
}

int
sb_regex_search (const sb_regex_t *self, const char *subject, size_t len,
                 sb_regex_scratch_t *scratch)
{
    sb_regex_scratch_t *own = NULL;
    if (!scratch) {
        own = sb_regex_scratch_new ();
        if (!own) return -1;
        scratch = own;
    }
    int rc = pcre2_match (self->code, (PCRE2_SPTR)subject, len, 0, 0, scratch->match_data,
                          self->match_context);
    sb_regex_scratch_destroy (&own);
    //  0 means "matched, ovector too small for the groups": still a match.
    if (rc >= 0) return 1;
    return rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
}

const char *
sb_regex_translated (const sb_regex_t *self)
{
    return self->translated;
}
