/*  sb_toon — JSON (jansson) → TOON v4.0 encoder.
    Walks the value once, writing straight into a bounded output buffer; arrays of
    objects and objects of objects get one extra classification pass before their
    header (uniform rows, nested field groups, keyed form), decided exactly as the
    reference encoder @toon-format/toon decides it, so that the output is the same
    bytes (the conformance fixtures check this).  */

#include "sb_toon.h"

#include <assert.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Character classes for quoting decisions (§7.2, §7.3). A const table, so no
//  initialisation and nothing shared that could change between threads.
#define C_QUOTE 0x01 // forces quotes: controls, : " \ [ ] { }
#define C_COMMA 0x02 // forces quotes when ',' is the delimiter
#define C_PIPE  0x04 // forces quotes when '|' is the delimiter
#define C_KEY   0x08 // may appear in an unquoted key after its first character
#define C_KEY0  0x10 // may start an unquoted key

#define Q  C_QUOTE
#define K  C_KEY
#define K0 (C_KEY | C_KEY0)
static const uint8_t s_class[256] = {
    Q,  Q,  Q,  Q,  Q,  Q,  Q,  Q,  Q,  Q,  Q,  Q,  Q,       Q,  Q,  Q,  // 0x00
    Q,  Q,  Q,  Q,  Q,  Q,  Q,  Q,  Q,  Q,  Q,  Q,  Q,       Q,  Q,  Q,  // 0x10
    0,  0,  Q,  0,  0,  0,  0,  0,  0,  0,  0,  0,  C_COMMA, 0,  K,  0,  // 0x20  " , .
    K,  K,  K,  K,  K,  K,  K,  K,  K,  K,  Q,  0,  0,       0,  0,  0,  // 0x30  0-9 :
    0,  K0, K0, K0, K0, K0, K0, K0, K0, K0, K0, K0, K0,      K0, K0, K0, // 0x40  A-O
    K0, K0, K0, K0, K0, K0, K0, K0, K0, K0, K0, Q,  Q,       Q,  0,  K0, // 0x50  P-Z [ \ ] _
    0,  K0, K0, K0, K0, K0, K0, K0, K0, K0, K0, K0, K0,      K0, K0, K0, // 0x60  a-o
    K0, K0, K0, K0, K0, K0, K0, K0, K0, K0, K0, Q,  C_PIPE,  Q,  0,  0,  // 0x70  p-z { | }
};
#undef Q
#undef K
#undef K0

static const char s_spaces[] = "                                                                ";
#define S_SPACES (sizeof s_spaces - 1)

//  The output of one encode. Invariants: len <= cap and len <= max; when data
//  is not NULL it holds cap + 1 bytes, so a NUL always fits after the content.
typedef struct {
    char *data;
    size_t len;
    size_t cap;
    size_t max; // content may never grow past this (the caller's bound)
    bool fixed; // data is the caller's buffer: never reallocated or freed
} s_buf_t;

//  State of one encode call; lives on the caller's stack.
typedef struct {
    s_buf_t out;
    char delim;    // the one delimiter used for every array and all quoting
    size_t indent; // spaces per depth level
    int max_depth;
    int depth;    // containers currently open (recursion guard)
    int status;   // first failure; once set, every writer is a no-op
    bool started; // a line has been written, so the next one needs an LF first
} s_enc_t;

//  One entry of a tabular field list (§9.3): a leaf column, or a nested field
//  group when children is not NULL. name points into the first row's keys.
typedef struct s_field_s {
    const char *name;
    size_t name_len;
    struct s_field_s *children;
    size_t nchildren;
    const json_t **column; // scratch while classifying: the column's values, kept
                           // while they are all objects (NULL otherwise)
    bool all_prim;         // scratch while classifying: every value is a primitive
    bool all_obj;          // scratch while classifying: every value is a non-empty object
} s_field_t;

typedef enum {
    S_ARRAY_ROOT, // the document itself: "[]" when empty, tabular allowed
    S_ARRAY_KEY,  // under a key: "key: []" when empty, tabular allowed
    S_ARRAY_ITEM, // a keyless list item: "[0]:" when empty, never tabular (§9.4)
} s_array_mode_t;

static void s_list_item (s_enc_t *e, const json_t *v, int depth);
static void s_object_fields (s_enc_t *e, const json_t *obj, void *iter, int depth);

// ---------------------------------------------------------------------------
// Output

//  Makes room for extra more bytes, or records why not. The buffer grows by
//  doubling but never past max, so a refused result costs at most max bytes.
static bool
s_reserve (s_enc_t *e, size_t extra)
{
    if (e->status != SB_TOON_OK) return false;
    s_buf_t *b = &e->out;
    if (extra > b->max - b->len) {
        e->status = SB_TOON_ETOOBIG;
        return false;
    }
    size_t need = b->len + extra;
    if (need <= b->cap) return true;
    if (b->fixed) {
        e->status = SB_TOON_ETOOBIG;
        return false;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > b->max / 2 ? b->max : cap * 2;
    if (cap > b->max) cap = b->max;
    char *data = realloc (b->data, cap + 1);
    if (!data) {
        e->status = SB_TOON_ENOMEM;
        return false;
    }
    b->data = data;
    b->cap = cap;
    return true;
}

static void
s_put (s_enc_t *e, const char *s, size_t n)
{
    if (!s_reserve (e, n)) return;
    memcpy (e->out.data + e->out.len, s, n);
    e->out.len += n;
}

static void
s_putc (s_enc_t *e, char c)
{
    if (!s_reserve (e, 1)) return;
    e->out.data[e->out.len++] = c;
}

//  Starts a line at depth: an LF unless it is the first line, then the indent.
static void
s_line (s_enc_t *e, int depth)
{
    size_t spaces = (size_t)depth * e->indent;
    if (!s_reserve (e, spaces + (e->started ? 1 : 0))) return;
    if (e->started) e->out.data[e->out.len++] = '\n';
    e->started = true;
    while (spaces > 0) {
        size_t n = spaces < S_SPACES ? spaces : S_SPACES;
        memcpy (e->out.data + e->out.len, s_spaces, n);
        e->out.len += n;
        spaces -= n;
    }
}

static void
s_item_line (s_enc_t *e, int depth)
{
    s_line (e, depth);
    s_put (e, "- ", 2);
}

//  Counts a container being entered; false (status set) past max_depth.
static bool
s_enter (s_enc_t *e)
{
    if (e->status != SB_TOON_OK) return false;
    if (e->depth >= e->max_depth) {
        e->status = SB_TOON_EDEPTH;
        return false;
    }
    e->depth++;
    return true;
}

static void
s_leave (s_enc_t *e)
{
    assert (e->depth > 0);
    e->depth--;
}

// ---------------------------------------------------------------------------
// Strings and keys (§7)

//  Writes s between quotes with the §7.1 escapes; extra is the exact number of
//  bytes the escapes add, so one reservation covers the whole token.
static void
s_put_quoted (s_enc_t *e, const char *s, size_t n, size_t extra)
{
    if (!s_reserve (e, n + extra + 2)) return;
    char *p = e->out.data + e->out.len;
    *p++ = '"';
    if (extra == 0) {
        memcpy (p, s, n);
        p += n;
    } else {
        static const char hex[] = "0123456789abcdef";
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)s[i];
            if (c >= 0x20 && c != '"' && c != '\\') {
                *p++ = (char)c;
                continue;
            }
            *p++ = '\\';
            switch (c) {
                case '"':
                    *p++ = '"';
                    break;
                case '\\':
                    *p++ = '\\';
                    break;
                case '\n':
                    *p++ = 'n';
                    break;
                case '\r':
                    *p++ = 'r';
                    break;
                case '\t':
                    *p++ = 't';
                    break;
                default:
                    *p++ = 'u';
                    *p++ = '0';
                    *p++ = '0';
                    *p++ = hex[c >> 4];
                    *p++ = hex[c & 0xf];
                    break;
            }
        }
    }
    *p++ = '"';
    e->out.len = (size_t)(p - e->out.data);
}

//  Bytes that escaping c adds to a quoted token (0 for characters kept as is).
static size_t
s_escape_extra (unsigned char c)
{
    if (c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t') return 1;
    return c < 0x20 ? 5 : 0;
}

//  §7.2 numeric-like: /^[+-]?[0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?$/i
static bool
s_numeric_like (const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    size_t start = i;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++;
    if (i == start) return false;
    if (i < n && s[i] == '.') {
        start = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == start) return false;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        start = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == start) return false;
    }
    return i == n;
}

//  Writes a string value, quoted only when §7.2 requires it for this delimiter.
//  force_quotes is for a root string starting with a BOM, which a decoder would
//  otherwise strip (the reference encoder quotes it too).
static void
s_put_string (s_enc_t *e, const char *s, size_t n, bool force_quotes)
{
    uint8_t mask = C_QUOTE | (e->delim == ',' ? C_COMMA : e->delim == '|' ? C_PIPE : 0);
    bool quote = force_quotes || n == 0;
    size_t extra = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (s_class[c] & mask) {
            quote = true;
            extra += s_escape_extra (c);
        }
    }
    if (!quote) {
        char first = s[0], last = s[n - 1];
        if (first == ' ' || last == ' ' || first == '-' || first == '#')
            quote = true;
        else if ((first >= '0' && first <= '9') || first == '+')
            quote = s_numeric_like (s, n);
        else if ((n == 4 && (memcmp (s, "true", 4) == 0 || memcmp (s, "null", 4) == 0)) ||
                 (n == 5 && memcmp (s, "false", 5) == 0))
            quote = true;
    }
    if (quote)
        s_put_quoted (e, s, n, extra);
    else
        s_put (e, s, n);
}

//  Writes a key or field name: bare when it matches ^[A-Za-z_][A-Za-z0-9_.]*$.
static void
s_put_key (s_enc_t *e, const char *s, size_t n)
{
    bool bare = n > 0 && (s_class[(unsigned char)s[0]] & C_KEY0);
    size_t extra = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(s_class[c] & C_KEY)) bare = false;
        extra += s_escape_extra (c);
    }
    if (bare)
        s_put (e, s, n);
    else
        s_put_quoted (e, s, n, extra);
}

// ---------------------------------------------------------------------------
// Numbers (§2)

static size_t
s_format_int (json_int_t v, char *buf)
{
    char tmp[24];
    size_t n = 0;
    //  Work in unsigned so that the most negative value does not overflow.
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        tmp[n++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u > 0);
    size_t len = 0;
    if (v < 0) buf[len++] = '-';
    while (n > 0)
        buf[len++] = tmp[--n];
    return len;
}

//  Decimal digits of |d| rounded to prec significant digits, without trailing
//  zeros, and the decimal exponent of the first digit. Reads snprintf's %e
//  output digit by digit so that the locale's decimal point cannot matter.
static size_t
s_round_digits (double d, int prec, char *digits, int *exp10)
{
    char tmp[48];
    snprintf (tmp, sizeof tmp, "%.*e", prec - 1, fabs (d));
    size_t n = 0;
    const char *p = tmp;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9') digits[n++] = *p;
    *exp10 = *p == 'e' ? (int)strtol (p + 1, NULL, 10) : 0;
    while (n > 1 && digits[n - 1] == '0')
        n--;
    return n;
}

//  True when the decimal digits × 10^(exp10 - n + 1) read back as exactly |d|.
//  Built without a decimal point, so strtod's locale cannot interfere.
static bool
s_round_trips (double d, const char *digits, size_t n, int exp10)
{
    char tmp[48];
    snprintf (tmp, sizeof tmp, "%.*se%d", (int)n, digits, exp10 - (int)n + 1);
    return strtod (tmp, NULL) == fabs (d);
}

//  Fast path for the usual few decimals (prices, scores, coordinates): the
//  smallest k for which m = round(|d| * 10^k) gives m / 10^k == |d|. Both
//  operands are exact (m < 10^15, k <= 15) and IEEE division rounds correctly,
//  so equality means the k-decimal string reads back as d; below 10^15 no other
//  string of that length does, so it is also the shortest, as JavaScript
//  prints it. Returns 0 when this does not apply.
static size_t
s_few_decimals (double d, char *digits, int *exp10)
{
    static const double pow10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    double a = fabs (d);
    if (a < 1e-6 || a >= 1e15) return 0;
    for (int k = 1; k <= 15; k++) {
        double scaled = a * pow10[k];
        if (scaled >= 1e15) return 0;
        double m = floor (scaled + 0.5);
        if (m / pow10[k] != a) continue;
        char tmp[24];
        size_t n = 0;
        unsigned long long u = (unsigned long long)m;
        do {
            tmp[n++] = (char)('0' + (int)(u % 10));
            u /= 10;
        } while (u > 0);
        for (size_t i = 0; i < n; i++)
            digits[i] = tmp[n - 1 - i];
        *exp10 = (int)n - 1 - k;
        while (n > 1 && digits[n - 1] == '0')
            n--;
        return n;
    }
    return 0;
}

//  Shortest digits that read back as d, choosing the closest when several do:
//  the digits JavaScript's Number.prototype.toString picks.
static size_t
s_shortest_digits (double d, char *digits, int *exp10)
{
    size_t n = s_few_decimals (d, digits, exp10);
    if (n > 0) return n;
    if (fabs (d) < DBL_MIN) {
        //  Subnormals carry fewer significant bits, so the shortcut below does
        //  not hold for them: search upwards from one digit.
        for (int prec = 1; prec < 17; prec++) {
            n = s_round_digits (d, prec, digits, exp10);
            if (s_round_trips (d, digits, n, *exp10)) return n;
        }
        return s_round_digits (d, 17, digits, exp10);
    }
    //  Up to 15 significant digits, rounding to 15 and dropping trailing zeros
    //  already gives the shortest form (15 digits are finer than a normal
    //  double's half-ulp), so only 16 and 17 need a second look.
    n = s_round_digits (d, 15, digits, exp10);
    if (s_round_trips (d, digits, n, *exp10)) return n;
    n = s_round_digits (d, 16, digits, exp10);
    if (s_round_trips (d, digits, n, *exp10)) return n;
    //  At a power of two the round-trip interval is lopsided: the nearest
    //  16-digit decimal can miss while its neighbour above or below hits.
    char alt[24];
    int alt_exp = *exp10;
    unsigned long long m = 0;
    for (size_t i = 0; i < 16; i++)
        m = m * 10 + (unsigned long long)(i < n ? digits[i] - '0' : 0);
    for (int delta = -1; delta <= 1; delta += 2) {
        unsigned long long c = delta < 0 ? m - 1 : m + 1;
        if (c < 1000000000000000ULL || c > 9999999999999999ULL)
            continue; // would change the digit count; leave it to 17 digits
        size_t k = (size_t)snprintf (alt, sizeof alt, "%llu", c);
        while (k > 1 && alt[k - 1] == '0')
            k--;
        if (s_round_trips (d, alt, k, alt_exp)) {
            memcpy (digits, alt, k);
            return k;
        }
    }
    return s_round_digits (d, 17, digits, exp10);
}

//  Formats a double per §2 the way JavaScript's String(n) does: plain decimal
//  for 1e-6 <= |n| < 1e21, exponent form with an explicit sign outside that
//  range, -0 as 0, and null for NaN/Infinity (§3).
static size_t
s_format_real (double d, char *buf)
{
    if (!isfinite (d)) {
        memcpy (buf, "null", 4);
        return 4;
    }
    if (d == 0) {
        buf[0] = '0'; // also -0 (§2)
        return 1;
    }
    if (d == floor (d) && fabs (d) < 9007199254740992.0) return s_format_int ((json_int_t)d, buf);

    char digits[24];
    int e10;
    size_t k = s_shortest_digits (d, digits, &e10);
    int n = e10 + 1; // position of the decimal point relative to the digits
    size_t len = 0;
    if (d < 0) buf[len++] = '-';
    if ((int)k <= n && n <= 21) {
        memcpy (buf + len, digits, k);
        len += k;
        for (int i = (int)k; i < n; i++)
            buf[len++] = '0';
    } else if (0 < n && n <= 21) {
        memcpy (buf + len, digits, (size_t)n);
        len += (size_t)n;
        buf[len++] = '.';
        memcpy (buf + len, digits + n, k - (size_t)n);
        len += k - (size_t)n;
    } else if (-6 < n && n <= 0) {
        buf[len++] = '0';
        buf[len++] = '.';
        for (int i = 0; i < -n; i++)
            buf[len++] = '0';
        memcpy (buf + len, digits, k);
        len += k;
    } else {
        buf[len++] = digits[0];
        if (k > 1) {
            buf[len++] = '.';
            memcpy (buf + len, digits + 1, k - 1);
            len += k - 1;
        }
        len += (size_t)snprintf (buf + len, 8, "e%c%d", n - 1 < 0 ? '-' : '+', abs (n - 1));
    }
    return len;
}

// ---------------------------------------------------------------------------
// Values

static bool
s_is_primitive (const json_t *v)
{
    return !json_is_object (v) && !json_is_array (v);
}

static void
s_put_primitive (s_enc_t *e, const json_t *v)
{
    char num[48];
    switch (json_typeof (v)) {
        case JSON_STRING:
            s_put_string (e, json_string_value (v), json_string_length (v), false);
            break;
        case JSON_INTEGER:
            s_put (e, num, s_format_int (json_integer_value (v), num));
            break;
        case JSON_REAL:
            s_put (e, num, s_format_real (json_real_value (v), num));
            break;
        case JSON_TRUE:
            s_put (e, "true", 4);
            break;
        case JSON_FALSE:
            s_put (e, "false", 5);
            break;
        default:
            s_put (e, "null", 4);
            break;
    }
}

//  jansson's iteration API takes non-const objects although it changes nothing;
//  these wrappers keep the casts in one place.
static void *
s_iter (const json_t *obj)
{
    return json_object_iter ((json_t *)obj);
}

static void *
s_iter_next (const json_t *obj, void *iter)
{
    return json_object_iter_next ((json_t *)obj, iter);
}

//  Keys are short: a plain loop beats a call to memcmp for them.
static bool
s_same_bytes (const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i]) return false;
    return true;
}

//  Looks key up in obj, trying the entry at *iter first and advancing it on a
//  hit. Rows almost always repeat the first row's key order, so this walks them
//  without hashing; rows in another order fall back to the hash lookup.
static json_t *
s_lookup (const json_t *obj, void **iter, const char *key, size_t key_len)
{
    if (*iter) {
        if (json_object_iter_key_len (*iter) == key_len &&
            s_same_bytes (json_object_iter_key (*iter), key, key_len)) {
            json_t *v = json_object_iter_value (*iter);
            *iter = s_iter_next (obj, *iter);
            return v;
        }
    }
    return json_object_getn (obj, key, key_len);
}

// ---------------------------------------------------------------------------
// Tabular detection (§9.3, §9.5)

static void
s_fields_free (s_field_t *fields, size_t n)
{
    if (!fields) return;
    for (size_t i = 0; i < n; i++) {
        s_fields_free (fields[i].children, fields[i].nchildren);
        free (fields[i].column);
    }
    free (fields);
}

//  Decides whether rows (objects, n >= 1) are uniform per §9.3: same key set,
//  every column all primitives or all non-empty objects that are themselves
//  uniform. Returns the number of top-level fields with *out (caller frees with
//  s_fields_free), 0 when the rows are not tabular, or 0 with e->status set on a
//  failure.
static size_t
s_extract_fields (s_enc_t *e, const json_t *const *rows, size_t n, s_field_t **out)
{
    *out = NULL;
    const json_t *first = rows[0];
    size_t nk = json_object_size (first);
    if (nk == 0 || !s_enter (e)) return 0;
    s_field_t *fields = calloc (nk, sizeof *fields);
    if (!fields) {
        e->status = SB_TOON_ENOMEM;
        goto fail;
    }
    size_t j = 0;
    for (void *it = s_iter (first); it; it = s_iter_next (first, it), j++) {
        fields[j].name = json_object_iter_key (it);
        fields[j].name_len = json_object_iter_key_len (it);
        fields[j].all_prim = true;
        fields[j].all_obj = true;
    }
    //  One row-wise pass checks the key sets, classifies every column and keeps
    //  the values of object columns for the recursion below (walking the rows
    //  again would cost as much again: the tree is mostly cache misses).
    for (size_t r = 0; r < n; r++) {
        const json_t *row = rows[r];
        if (json_object_size (row) != nk) goto fail;
        void *it = s_iter (row);
        for (j = 0; j < nk; j++) {
            s_field_t *f = &fields[j];
            const json_t *v = s_lookup (row, &it, f->name, f->name_len);
            if (!v) goto fail;
            if (json_is_object (v) && json_object_size (v) > 0 && f->all_obj) {
                f->all_prim = false;
                if (!f->column) {
                    f->column = malloc (n * sizeof *f->column);
                    if (!f->column) {
                        e->status = SB_TOON_ENOMEM;
                        goto fail;
                    }
                }
                f->column[r] = v;
            } else {
                f->all_obj = false;
                if (!s_is_primitive (v)) f->all_prim = false;
            }
            if (!f->all_prim && !f->all_obj) goto fail;
        }
    }
    //  Object columns become nested field groups when their objects are uniform.
    for (j = 0; j < nk; j++) {
        if (fields[j].all_prim) continue;
        fields[j].nchildren = s_extract_fields (e, fields[j].column, n, &fields[j].children);
        free (fields[j].column);
        fields[j].column = NULL;
        if (fields[j].nchildren == 0) goto fail;
    }
    s_leave (e);
    *out = fields;
    return nk;
fail:
    s_fields_free (fields, nk);
    s_leave (e);
    return 0;
}

//  Keyed tabular detection (§9.5): at least two entries, all non-empty objects,
//  uniform as rows. Returns the field count with *out, or 0.
static size_t
s_extract_keyed (s_enc_t *e, const json_t *obj, s_field_t **out)
{
    *out = NULL;
    size_t n = json_object_size (obj);
    if (n < 2) return 0;
    for (void *it = s_iter (obj); it; it = s_iter_next (obj, it)) {
        json_t *v = json_object_iter_value (it);
        if (!json_is_object (v) || json_object_size (v) == 0) return 0;
    }
    const json_t **rows = malloc (n * sizeof *rows);
    if (!rows) {
        e->status = SB_TOON_ENOMEM;
        return 0;
    }
    size_t i = 0;
    for (void *it = s_iter (obj); it; it = s_iter_next (obj, it))
        rows[i++] = json_object_iter_value (it);
    size_t nf = s_extract_fields (e, rows, n, out);
    free (rows);
    return nf;
}

static void
s_put_fields (s_enc_t *e, const s_field_t *fields, size_t n)
{
    s_putc (e, '{');
    for (size_t i = 0; i < n; i++) {
        if (i > 0) s_putc (e, e->delim);
        s_put_key (e, fields[i].name, fields[i].name_len);
        if (fields[i].children) s_put_fields (e, fields[i].children, fields[i].nchildren);
    }
    s_putc (e, '}');
}

//  key[N<delim?>]{fields}: or, keyed, key[N:<delim?>]{fields}: (§6).
static void
s_put_header (s_enc_t *e, const char *key, size_t key_len, size_t count, bool keyed,
              const s_field_t *fields, size_t nfields)
{
    char num[32];
    if (key) s_put_key (e, key, key_len);
    s_putc (e, '[');
    s_put (e, num, (size_t)snprintf (num, sizeof num, "%zu", count));
    if (keyed) s_putc (e, ':');
    if (e->delim != ',') s_putc (e, e->delim);
    s_putc (e, ']');
    if (fields) s_put_fields (e, fields, nfields);
    s_putc (e, ':');
}

//  Writes one row's leaf cells depth-first; *first tracks the delimiter.
static void
s_put_cells (s_enc_t *e, const json_t *row, const s_field_t *fields, size_t n, bool *first)
{
    void *it = s_iter (row);
    for (size_t i = 0; i < n && e->status == SB_TOON_OK; i++) {
        const json_t *v = s_lookup (row, &it, fields[i].name, fields[i].name_len);
        assert (v); // guaranteed by s_extract_fields
        if (fields[i].children) {
            s_put_cells (e, v, fields[i].children, fields[i].nchildren, first);
            continue;
        }
        if (!*first) s_putc (e, e->delim);
        *first = false;
        s_put_primitive (e, v);
    }
}

static void
s_put_row (s_enc_t *e, const json_t *row, const s_field_t *fields, size_t n, int depth)
{
    bool first = true;
    s_line (e, depth);
    s_put_cells (e, row, fields, n, &first);
}

// ---------------------------------------------------------------------------
// Structure (§8–§10)

//  An array whose line prefix (indent, "- " and so on) is already written;
//  child_depth is where its rows or list items go.
static void
s_array (s_enc_t *e, const char *key, size_t key_len, const json_t *arr, s_array_mode_t mode,
         int child_depth)
{
    size_t n = json_array_size (arr);
    if (n == 0) {
        if (mode == S_ARRAY_ROOT)
            s_put (e, "[]", 2);
        else if (mode == S_ARRAY_KEY) {
            s_put_key (e, key, key_len);
            s_put (e, ": []", 4);
        } else
            s_put_header (e, NULL, 0, 0, false, NULL, 0);
        return;
    }
    if (!s_enter (e)) return;
    bool all_prim = true, all_obj = true;
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get (arr, i);
        if (!json_is_object (v)) all_obj = false;
        if (!s_is_primitive (v)) all_prim = false;
    }
    if (all_prim) {
        s_put_header (e, key, key_len, n, false, NULL, 0);
        s_putc (e, ' ');
        for (size_t i = 0; i < n && e->status == SB_TOON_OK; i++) {
            if (i > 0) s_putc (e, e->delim);
            s_put_primitive (e, json_array_get (arr, i));
        }
        goto done;
    }
    if (all_obj && mode != S_ARRAY_ITEM) {
        const json_t **rows = malloc (n * sizeof *rows);
        if (!rows) {
            e->status = SB_TOON_ENOMEM;
            goto done;
        }
        for (size_t i = 0; i < n; i++)
            rows[i] = json_array_get (arr, i);
        s_field_t *fields;
        size_t nf = s_extract_fields (e, rows, n, &fields);
        if (nf > 0) {
            s_put_header (e, key, key_len, n, false, fields, nf);
            for (size_t i = 0; i < n && e->status == SB_TOON_OK; i++)
                s_put_row (e, rows[i], fields, nf, child_depth);
        }
        s_fields_free (fields, nf);
        free (rows);
        if (nf > 0 || e->status != SB_TOON_OK) goto done;
    }
    s_put_header (e, key, key_len, n, false, NULL, 0);
    for (size_t i = 0; i < n && e->status == SB_TOON_OK; i++)
        s_list_item (e, json_array_get (arr, i), child_depth);
done:
    s_leave (e);
}

//  An object under key, its line prefix already written: keyed tabular when
//  eligible, else "key:" with its fields (if any) at child_depth. With key NULL
//  it is the root object: a keyless keyed header, or bare fields at depth 0.
static void
s_object (s_enc_t *e, const char *key, size_t key_len, const json_t *obj, int child_depth)
{
    if (!s_enter (e)) return;
    s_field_t *fields;
    size_t nf = s_extract_keyed (e, obj, &fields);
    if (nf > 0) {
        if (!key) {
            //  The keyless keyed form exists only at the root (§9.5).
            s_line (e, 0);
            child_depth = 1;
        }
        s_put_header (e, key, key_len, json_object_size (obj), true, fields, nf);
        for (void *it = s_iter (obj); it && e->status == SB_TOON_OK; it = s_iter_next (obj, it)) {
            bool first = true;
            s_line (e, child_depth);
            s_put_key (e, json_object_iter_key (it), json_object_iter_key_len (it));
            s_put (e, ": ", 2);
            s_put_cells (e, json_object_iter_value (it), fields, nf, &first);
        }
        s_fields_free (fields, nf);
    } else if (key) {
        s_put_key (e, key, key_len);
        s_putc (e, ':');
        s_object_fields (e, obj, s_iter (obj), child_depth);
    } else
        s_object_fields (e, obj, s_iter (obj), child_depth);
    s_leave (e);
}

//  key: value at depth.
static void
s_pair (s_enc_t *e, const char *key, size_t key_len, const json_t *v, int depth)
{
    s_line (e, depth);
    if (json_is_array (v))
        s_array (e, key, key_len, v, S_ARRAY_KEY, depth + 1);
    else if (json_is_object (v))
        s_object (e, key, key_len, v, depth + 1);
    else {
        s_put_key (e, key, key_len);
        s_put (e, ": ", 2);
        s_put_primitive (e, v);
    }
}

//  The entries of obj from iter on, one field per line at depth.
static void
s_object_fields (s_enc_t *e, const json_t *obj, void *iter, int depth)
{
    for (; iter && e->status == SB_TOON_OK; iter = s_iter_next (obj, iter))
        s_pair (e, json_object_iter_key (iter), json_object_iter_key_len (iter),
                json_object_iter_value (iter), depth);
}

//  One element of an expanded list (§9.4, §10) at depth.
static void
s_list_item (s_enc_t *e, const json_t *v, int depth)
{
    if (s_is_primitive (v)) {
        s_item_line (e, depth);
        s_put_primitive (e, v);
        return;
    }
    if (json_is_array (v)) {
        s_item_line (e, depth);
        s_array (e, NULL, 0, v, S_ARRAY_ITEM, depth + 1);
        return;
    }
    if (json_object_size (v) == 0) {
        s_line (e, depth);
        s_putc (e, '-');
        return;
    }
    if (!s_enter (e)) return;
    //  The first field rides on the hyphen line; whatever it opens sits at
    //  depth + 2 and the remaining fields at depth + 1 (§10).
    void *it = s_iter (v);
    const char *key = json_object_iter_key (it);
    size_t key_len = json_object_iter_key_len (it);
    const json_t *first = json_object_iter_value (it);
    s_item_line (e, depth);
    if (json_is_array (first))
        s_array (e, key, key_len, first, S_ARRAY_KEY, depth + 2);
    else if (json_is_object (first))
        s_object (e, key, key_len, first, depth + 2);
    else {
        s_put_key (e, key, key_len);
        s_put (e, ": ", 2);
        s_put_primitive (e, first);
    }
    s_object_fields (e, v, s_iter_next (v, it), depth + 1);
    s_leave (e);
}

static void
s_root (s_enc_t *e, const json_t *v)
{
    if (json_is_array (v)) {
        s_line (e, 0);
        s_array (e, NULL, 0, v, S_ARRAY_ROOT, 1);
    } else if (json_is_object (v)) {
        s_object (e, NULL, 0, v, 0);
    } else if (json_is_string (v)) {
        const char *s = json_string_value (v);
        size_t n = json_string_length (v);
        bool bom = n >= 3 && memcmp (s, "\xEF\xBB\xBF", 3) == 0;
        s_put_string (e, s, n, bom);
    } else
        s_put_primitive (e, v);
}

// ---------------------------------------------------------------------------
// API

void
sb_toon_options_init (sb_toon_options_t *opts)
{
    assert (opts);
    opts->delimiter = ',';
    opts->indent = SB_TOON_DEFAULT_INDENT;
    opts->max_output = SB_TOON_DEFAULT_MAX_OUTPUT;
    opts->max_depth = SB_TOON_DEFAULT_MAX_DEPTH;
}

//  Fills an encoder from opts (NULL or zero fields mean defaults); EINVAL for
//  values out of range.
static int
s_enc_init (s_enc_t *e, const sb_toon_options_t *opts)
{
    memset (e, 0, sizeof *e);
    sb_toon_options_t o;
    sb_toon_options_init (&o);
    if (opts) {
        if (opts->delimiter) o.delimiter = opts->delimiter;
        if (opts->indent) o.indent = opts->indent;
        if (opts->max_output) o.max_output = opts->max_output;
        if (opts->max_depth) o.max_depth = opts->max_depth;
    }
    if (o.delimiter != ',' && o.delimiter != '\t' && o.delimiter != '|') return SB_TOON_EINVAL;
    if (o.indent < 1 || o.indent > SB_TOON_MAX_INDENT) return SB_TOON_EINVAL;
    if (o.max_depth < 1 || o.max_depth > SB_TOON_MAX_DEPTH) return SB_TOON_EINVAL;
    e->delim = o.delimiter;
    e->indent = (size_t)o.indent;
    e->max_depth = o.max_depth;
    //  Keep room for the NUL (and for cap + 1 not to wrap).
    e->out.max = o.max_output < SIZE_MAX - 1 ? o.max_output : SIZE_MAX - 1;
    return SB_TOON_OK;
}

static int
s_encode (const json_t *value, s_enc_t *e, char **out, size_t *len)
{
    if (!value) {
        free (e->out.fixed ? NULL : e->out.data);
        return SB_TOON_EINVAL;
    }
    s_root (e, value);
    if (e->status == SB_TOON_OK && !e->out.data) {
        //  Empty document (empty root object): still hand back a string.
        e->out.data = malloc (1);
        if (!e->out.data) e->status = SB_TOON_ENOMEM;
    }
    if (e->status != SB_TOON_OK) {
        if (!e->out.fixed) free (e->out.data);
        if (out) *out = NULL;
        if (len) *len = 0;
        return e->status;
    }
    e->out.data[e->out.len] = '\0';
    if (out) *out = e->out.data;
    if (len) *len = e->out.len;
    return SB_TOON_OK;
}

int
sb_toon_encode_ex (const json_t *value, const sb_toon_options_t *opts, char **out, size_t *len)
{
    s_enc_t e;
    if (out) *out = NULL;
    if (len) *len = 0;
    if (!out) return SB_TOON_EINVAL;
    int rc = s_enc_init (&e, opts);
    if (rc != SB_TOON_OK) return rc;
    return s_encode (value, &e, out, len);
}

char *
sb_toon_encode (const json_t *value, const sb_toon_options_t *opts, size_t *len)
{
    char *out;
    sb_toon_encode_ex (value, opts, &out, len);
    return out;
}

int
sb_toon_encode_into (const json_t *value, const sb_toon_options_t *opts, char *buf, size_t cap,
                     size_t *len)
{
    s_enc_t e;
    if (len) *len = 0;
    if (!buf || cap == 0) return SB_TOON_EINVAL;
    int rc = s_enc_init (&e, opts);
    if (rc != SB_TOON_OK) return rc;
    e.out.data = buf;
    e.out.cap = cap - 1;
    e.out.fixed = true;
    if (e.out.max > e.out.cap) e.out.max = e.out.cap;
    rc = s_encode (value, &e, NULL, len);
    buf[rc == SB_TOON_OK ? e.out.len : 0] = '\0';
    return rc;
}

const char *
sb_toon_strerror (int status)
{
    switch (status) {
        case SB_TOON_OK:
            return "ok";
        case SB_TOON_EINVAL:
            return "invalid argument or option";
        case SB_TOON_ETOOBIG:
            return "TOON output larger than the allowed maximum";
        case SB_TOON_EDEPTH:
            return "value nested deeper than the allowed maximum";
        case SB_TOON_ENOMEM:
            return "out of memory";
        default:
            return "unknown TOON status";
    }
}

json_t *
sb_toon_parse_json (const char *text, size_t len, json_error_t *error)
{
    json_error_t local;
    json_error_t *err = error ? error : &local;
    if (!text) {
        memset (err, 0, sizeof *err);
        snprintf (err->text, sizeof err->text, "no input");
        return NULL;
    }
    json_t *v = json_loadb (text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, err);
    if (!v && json_error_code (err) == json_error_numeric_overflow)
        v = json_loadb (text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, err);
    return v;
}

int
sb_toon_maybe_compress (const char *json, size_t len, const sb_toon_options_t *opts, char **out,
                        size_t *out_len, size_t *saved)
{
    if (out) *out = NULL;
    if (out_len) *out_len = 0;
    if (saved) *saved = 0;
    if (!json || !out) return -1;
    size_t i = 0;
    while (i < len && (json[i] == ' ' || json[i] == '\t' || json[i] == '\n' || json[i] == '\r'))
        i++;
    if (i == len || (json[i] != '{' && json[i] != '[')) return 0;

    s_enc_t e;
    if (s_enc_init (&e, opts) != SB_TOON_OK) return -1;
    //  Only a strictly smaller result is worth it: stop as soon as it is not.
    if (e.out.max > len - 1) e.out.max = len - 1;

    //  Duplicate keys and integers beyond 64 bits would change the content;
    //  such text is passed on untouched rather than silently altered.
    json_error_t error;
    json_t *value = json_loadb (json, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &error);
    if (!value) return 0;
    char *toon = NULL;
    size_t toon_len = 0;
    int rc = s_encode (value, &e, &toon, &toon_len);
    json_decref (value);
    if (rc == SB_TOON_ENOMEM) return -1;
    if (rc != SB_TOON_OK) return 0; // too big (not smaller) or too deep: keep the JSON
    if (toon_len == 0) {
        //  "{}" encodes to an empty document; some providers refuse an empty
        //  message content, so the two bytes of JSON stay.
        free (toon);
        return 0;
    }
    *out = toon;
    if (out_len) *out_len = toon_len;
    if (saved) *saved = len - toon_len;
    return 1;
}
