/*  sb_jrepair — lenient JSON parser with backtracking (see sb_jrepair.h).

    The parser is an explicit state machine whose state is (position, top frame).
    Frames are immutable and appended to a vector: a transition appends a new frame,
    so a snapshot of the whole state is a handful of vector lengths. Output goes to a
    token tape (truncated on rollback) that becomes a tree only once the parse has
    succeeded. Ambiguous spots — a quote that may end a string or be data, a closer
    that may close one container or two — push a choice point; the parser takes the
    first reading and comes back to the other only if the rest of the text fails to
    parse. A step budget proportional to the input bounds the backtracking.  */

#include "sb_jrepair.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  ---------------------------------------------------------------------------
//  Fix names

static const char *const s_fix_names[SB_FIX_KIND_COUNT_] = {
    [SB_FIX_SURROUNDING_TEXT] = "surrounding_text",
    [SB_FIX_MARKDOWN_FENCE] = "markdown_fence",
    [SB_FIX_TOOL_CALL_TAG] = "tool_call_tag",
    [SB_FIX_ACTION_INPUT] = "action_input",
    [SB_FIX_SINGLE_QUOTES] = "single_quotes",
    [SB_FIX_TYPOGRAPHIC_QUOTES] = "typographic_quotes",
    [SB_FIX_UNQUOTED_KEY] = "unquoted_key",
    [SB_FIX_INNER_QUOTE] = "inner_quote",
    [SB_FIX_ESCAPED_APOSTROPHE] = "escaped_apostrophe",
    [SB_FIX_INVALID_ESCAPE] = "invalid_escape",
    [SB_FIX_CONTROL_CHAR] = "control_char",
    [SB_FIX_TRAILING_COMMA] = "trailing_comma",
    [SB_FIX_LEADING_COMMA] = "leading_comma",
    [SB_FIX_DOUBLED_COMMA] = "doubled_comma",
    [SB_FIX_MISSING_COMMA] = "missing_comma",
    [SB_FIX_MISMATCHED_CLOSER] = "mismatched_closer",
    [SB_FIX_MISSING_CLOSER] = "missing_closer",
    [SB_FIX_EXTRA_CLOSER] = "extra_closer",
    [SB_FIX_COMMENT] = "comment",
    [SB_FIX_WHITESPACE] = "whitespace",
    [SB_FIX_PYTHON_LITERAL] = "python_literal",
    [SB_FIX_UNDEFINED] = "undefined",
    [SB_FIX_NON_FINITE] = "non_finite",
    [SB_FIX_NUMBER_FORMAT] = "number_format",
    [SB_FIX_LEADING_ZERO] = "leading_zero",
    [SB_FIX_TRUNCATED] = "truncated",
    [SB_FIX_DROPPED_INCOMPLETE] = "dropped_incomplete",
    [SB_FIX_UNWRAPPED_STRING] = "unwrapped_string",
    [SB_FIX_PARSED_STRING] = "parsed_string",
    [SB_FIX_STRING_TO_NUMBER] = "string_to_number",
    [SB_FIX_STRING_TO_BOOLEAN] = "string_to_boolean",
    [SB_FIX_STRING_TO_NULL] = "string_to_null",
    [SB_FIX_NUMBER_TO_STRING] = "number_to_string",
    [SB_FIX_WRAPPED_IN_ARRAY] = "wrapped_in_array",
};

const char *
sb_fix_kind_name (sb_fix_kind_t kind)
{
    if ((unsigned)kind >= SB_FIX_KIND_COUNT_) return "unknown";
    return s_fix_names[kind];
}

int
sb_fix_kind_from_name (const char *name)
{
    for (int i = 0; i < SB_FIX_KIND_COUNT_; i++)
        if (name && strcmp (name, s_fix_names[i]) == 0) return i;
    return -1;
}

//  ---------------------------------------------------------------------------
//  Document arena and values

#define S_BLOCK_SIZE ((size_t)64 * 1024)

typedef struct s_block {
    struct s_block *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} s_block_t;

//  Invariant: total is the sum of the capacities of the blocks, never above max.
struct _sb_jdoc_t {
    s_block_t *head;
    size_t total;
    size_t max;
};

typedef struct {
    char *bytes;
    size_t len;
} s_key_t;

//  A value. Strings and numbers use text/len; arrays and objects use items/count
//  (and keys, parallel to items, for objects); cap is the room in items/keys.
struct _sb_jval_t {
    sb_jval_type_t type;
    int b;
    char *text;
    size_t len;
    sb_jval_t **items;
    s_key_t *keys;
    size_t count, cap;
};

sb_jdoc_t *
sb_jdoc_new (size_t max_bytes)
{
    sb_jdoc_t *self = calloc (1, sizeof *self);
    if (self) self->max = max_bytes ? max_bytes : (size_t)64 * 1024 * 1024;
    return self;
}

void
sb_jdoc_destroy (sb_jdoc_t **self_p)
{
    if (!self_p || !*self_p) return;
    s_block_t *b = (*self_p)->head;
    while (b) {
        s_block_t *next = b->next;
        free (b);
        b = next;
    }
    free (*self_p);
    *self_p = NULL;
}

static void *
s_alloc (sb_jdoc_t *doc, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    if (size == 0) size = 16;
    s_block_t *b = doc->head;
    if (!b || b->cap - b->used < size) {
        //  Blocks double from 4 KiB to 64 KiB: a small call costs one small block.
        size_t want = b ? b->cap * 2 : 4096;
        if (want > S_BLOCK_SIZE) want = S_BLOCK_SIZE;
        size_t cap = size > want ? size : want;
        if (cap > doc->max || doc->total > doc->max - cap) return NULL;
        b = malloc (sizeof *b + cap);
        if (!b) return NULL;
        b->cap = cap;
        b->used = 0;
        b->next = doc->head;
        doc->head = b;
        doc->total += cap;
    }
    void *p = b->data + b->used;
    b->used += size;
    return p;
}

static char *
s_dup (sb_jdoc_t *doc, const char *bytes, size_t len)
{
    char *p = s_alloc (doc, len + 1);
    if (p) {
        if (len) memcpy (p, bytes, len);
        p[len] = 0;
    }
    return p;
}

static sb_jval_t *
s_new_value (sb_jdoc_t *doc, sb_jval_type_t type)
{
    sb_jval_t *v = s_alloc (doc, sizeof *v);
    if (v) {
        memset (v, 0, sizeof *v);
        v->type = type;
    }
    return v;
}

sb_jval_t *
sb_jval_new_null (sb_jdoc_t *doc)
{
    return s_new_value (doc, SB_JVAL_NULL);
}

sb_jval_t *
sb_jval_new_bool (sb_jdoc_t *doc, int value)
{
    sb_jval_t *v = s_new_value (doc, SB_JVAL_BOOL);
    if (v) v->b = value != 0;
    return v;
}

static sb_jval_t *
s_new_text (sb_jdoc_t *doc, sb_jval_type_t type, const char *bytes, size_t len)
{
    sb_jval_t *v = s_new_value (doc, type);
    if (v) {
        v->text = s_dup (doc, bytes, len);
        v->len = len;
        if (!v->text) return NULL;
    }
    return v;
}

sb_jval_t *
sb_jval_new_number (sb_jdoc_t *doc, const char *lexeme, size_t len)
{
    return s_new_text (doc, SB_JVAL_NUMBER, lexeme, len);
}

sb_jval_t *
sb_jval_new_string (sb_jdoc_t *doc, const char *bytes, size_t len)
{
    return s_new_text (doc, SB_JVAL_STRING, bytes, len);
}

sb_jval_t *
sb_jval_new_array (sb_jdoc_t *doc)
{
    return s_new_value (doc, SB_JVAL_ARRAY);
}

sb_jval_t *
sb_jval_new_object (sb_jdoc_t *doc)
{
    return s_new_value (doc, SB_JVAL_OBJECT);
}

static int
s_grow (sb_jdoc_t *doc, sb_jval_t *c)
{
    if (c->count < c->cap) return 0;
    size_t cap = c->cap ? c->cap * 2 : 4;
    if (cap > SIZE_MAX / sizeof (sb_jval_t *) / 2) return -1;
    sb_jval_t **items = s_alloc (doc, cap * sizeof *items);
    if (!items) return -1;
    if (c->count) memcpy (items, c->items, c->count * sizeof *items);
    if (c->type == SB_JVAL_OBJECT) {
        s_key_t *keys = s_alloc (doc, cap * sizeof *keys);
        if (!keys) return -1;
        if (c->count) memcpy (keys, c->keys, c->count * sizeof *keys);
        c->keys = keys;
    }
    c->items = items;
    c->cap = cap;
    return 0;
}

int
sb_jval_array_append (sb_jdoc_t *doc, sb_jval_t *array, sb_jval_t *item)
{
    assert (array && array->type == SB_JVAL_ARRAY && item);
    if (s_grow (doc, array)) return -1;
    array->items[array->count++] = item;
    return 0;
}

int
sb_jval_object_append (sb_jdoc_t *doc, sb_jval_t *object, const char *key, size_t key_len,
                       sb_jval_t *value)
{
    assert (object && object->type == SB_JVAL_OBJECT && value);
    if (s_grow (doc, object)) return -1;
    char *k = s_dup (doc, key, key_len);
    if (!k) return -1;
    object->keys[object->count].bytes = k;
    object->keys[object->count].len = key_len;
    object->items[object->count++] = value;
    return 0;
}

sb_jval_type_t
sb_jval_type (const sb_jval_t *self)
{
    assert (self);
    return self->type;
}

int
sb_jval_bool (const sb_jval_t *self)
{
    assert (self);
    return self->b;
}

const char *
sb_jval_text (const sb_jval_t *self, size_t *len)
{
    assert (self);
    if (len) *len = self->len;
    return self->text;
}

size_t
sb_jval_size (const sb_jval_t *self)
{
    assert (self);
    return self->count;
}

sb_jval_t *
sb_jval_at (const sb_jval_t *self, size_t index)
{
    assert (self);
    return index < self->count ? self->items[index] : NULL;
}

const char *
sb_jval_key_at (const sb_jval_t *self, size_t index, size_t *len)
{
    assert (self);
    if (self->type != SB_JVAL_OBJECT || index >= self->count) return NULL;
    if (len) *len = self->keys[index].len;
    return self->keys[index].bytes;
}

void
sb_jval_set_at (sb_jval_t *self, size_t index, sb_jval_t *value)
{
    assert (self && value && index < self->count);
    self->items[index] = value;
}

sb_jval_t *
sb_jval_get (const sb_jval_t *self, const char *key, size_t key_len)
{
    assert (self);
    if (self->type != SB_JVAL_OBJECT) return NULL;
    for (size_t i = 0; i < self->count; i++)
        if (self->keys[i].len == key_len && memcmp (self->keys[i].bytes, key, key_len) == 0)
            return self->items[i];
    return NULL;
}

//  ---------------------------------------------------------------------------
//  Growable byte buffer (bounded by the caller's input; realloc doubling)

typedef struct {
    char *data;
    size_t len, cap;
} s_buf_t;

static int
s_buf_reserve (s_buf_t *b, size_t more)
{
    if (b->cap - b->len >= more) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < more) {
        if (cap > SIZE_MAX / 2) return -1;
        cap *= 2;
    }
    char *data = realloc (b->data, cap);
    if (!data) return -1;
    b->data = data;
    b->cap = cap;
    return 0;
}

static int
s_buf_put (s_buf_t *b, const void *bytes, size_t len)
{
    if (s_buf_reserve (b, len + 1)) return -1;
    if (len) memcpy (b->data + b->len, bytes, len);
    b->len += len;
    return 0;
}

static int
s_buf_putc (s_buf_t *b, char c)
{
    return s_buf_put (b, &c, 1);
}

//  ---------------------------------------------------------------------------
//  Serialisation

static int
s_write_string (s_buf_t *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    if (s_buf_putc (b, '"')) return -1;
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        if (s_buf_put (b, s + run, i - run)) return -1;
        run = i + 1;
        char esc[7] = {'\\', 0, 0, 0, 0, 0, 0};
        size_t n = 2;
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
                esc[1] = 'u';
                esc[2] = '0';
                esc[3] = '0';
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                n = 6;
        }
        if (s_buf_put (b, esc, n)) return -1;
    }
    if (s_buf_put (b, s + run, len - run)) return -1;
    return s_buf_putc (b, '"');
}

static int
s_write (s_buf_t *b, const sb_jval_t *v, int depth)
{
    if (depth > SB_JREPAIR_MAX_DEPTH * 4) return -1;
    switch (v->type) {
        case SB_JVAL_NULL:
            return s_buf_put (b, "null", 4);
        case SB_JVAL_BOOL:
            return v->b ? s_buf_put (b, "true", 4) : s_buf_put (b, "false", 5);
        case SB_JVAL_NUMBER:
            return s_buf_put (b, v->text, v->len);
        case SB_JVAL_STRING:
            return s_write_string (b, v->text, v->len);
        case SB_JVAL_ARRAY:
            if (s_buf_putc (b, '[')) return -1;
            for (size_t i = 0; i < v->count; i++)
                if ((i && s_buf_putc (b, ',')) || s_write (b, v->items[i], depth + 1)) return -1;
            return s_buf_putc (b, ']');
        case SB_JVAL_OBJECT:
            if (s_buf_putc (b, '{')) return -1;
            for (size_t i = 0; i < v->count; i++)
                if ((i && s_buf_putc (b, ',')) ||
                    s_write_string (b, v->keys[i].bytes, v->keys[i].len) || s_buf_putc (b, ':') ||
                    s_write (b, v->items[i], depth + 1))
                    return -1;
            return s_buf_putc (b, '}');
    }
    return -1;
}

char *
sb_jval_to_json (const sb_jval_t *self, size_t *len)
{
    assert (self);
    s_buf_t b = {0};
    if (s_write (&b, self, 0) || s_buf_reserve (&b, 1)) {
        free (b.data);
        return NULL;
    }
    b.data[b.len] = 0;
    if (len) *len = b.len;
    return b.data;
}

//  1 when the lexeme has neither fraction nor exponent.
static int
s_lexeme_is_integer (const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] == '.' || s[i] == 'e' || s[i] == 'E') return 0;
    return 1;
}

static json_t *
s_number_to_jansson (const char *lexeme, size_t len)
{
    char tmp[128];
    char *heap = NULL;
    char *s = tmp;
    if (len >= sizeof tmp) {
        heap = malloc (len + 1);
        if (!heap) return NULL;
        s = heap;
    }
    memcpy (s, lexeme, len);
    s[len] = 0;
    json_t *result = NULL;
    if (s_lexeme_is_integer (s, len)) {
        errno = 0;
        char *end = NULL;
        long long ll = strtoll (s, &end, 10);
        if (errno == 0 && end == s + len) result = json_integer ((json_int_t)ll);
    }
    if (!result) {
        errno = 0;
        char *end = NULL;
        double d = strtod (s, &end);
        if (end == s + len && isfinite (d)) result = json_real (d);
    }
    free (heap);
    return result;
}

static json_t *
s_to_jansson (const sb_jval_t *v, int depth)
{
    if (depth > SB_JREPAIR_MAX_DEPTH * 4) return NULL;
    switch (v->type) {
        case SB_JVAL_NULL:
            return json_null ();
        case SB_JVAL_BOOL:
            return json_boolean (v->b);
        case SB_JVAL_NUMBER:
            return s_number_to_jansson (v->text, v->len);
        case SB_JVAL_STRING:
            return json_stringn (v->text, v->len);
        case SB_JVAL_ARRAY: {
            json_t *a = json_array ();
            for (size_t i = 0; a && i < v->count; i++) {
                json_t *item = s_to_jansson (v->items[i], depth + 1);
                if (!item || json_array_append_new (a, item)) {
                    json_decref (a);
                    return NULL;
                }
            }
            return a;
        }
        case SB_JVAL_OBJECT: {
            json_t *o = json_object ();
            for (size_t i = 0; o && i < v->count; i++) {
                json_t *item = s_to_jansson (v->items[i], depth + 1);
                if (!item || json_object_setn_new (o, v->keys[i].bytes, v->keys[i].len, item)) {
                    json_decref (o);
                    return NULL;
                }
            }
            return o;
        }
    }
    return NULL;
}

json_t *
sb_jval_to_jansson (const sb_jval_t *self)
{
    assert (self);
    return s_to_jansson (self, 0);
}

//  ---------------------------------------------------------------------------
//  Parser state

enum { K_ROOT, K_OBJ, K_ARR };
enum {
    R_VALUE,
    R_DONE,
    O_KEY_OR_END, // after '{'
    O_KEY,        // after ','
    O_COLON,
    O_VALUE,
    O_COMMA_OR_END,
    A_VALUE_OR_END, // after '['
    A_VALUE,        // after ','
    A_COMMA_OR_END,
};
enum {
    T_OBJ_BEGIN,
    T_OBJ_END,
    T_ARR_BEGIN,
    T_ARR_END,
    T_KEY,
    T_STRING,
    T_NUMBER,
    T_TRUE,
    T_FALSE,
    T_NULL
};
enum { CTX_KEY, CTX_OBJ_VALUE, CTX_ARR_VALUE, CTX_ROOT };
enum { Q_DOUBLE, Q_SINGLE, Q_TYPO_DOUBLE, Q_TYPO_SINGLE };
enum { SF_CTRL = 1, SF_INNER = 2, SF_APOS = 4, SF_BADESC = 8 };
enum { CP_STRING, CP_CLOSER };
enum { ST_CONT, ST_DONE, ST_FAIL };
enum { LEX_OK, LEX_FAIL, LEX_INCOMPLETE };

//  An immutable frame: a transition appends a changed copy. key is the tape index of
//  the KEY of the member being read (objects, phases O_COLON..O_COMMA_OR_END); index
//  is the number of elements done (arrays) = the index of the element being read.
typedef struct {
    int32_t parent;
    uint8_t kind;
    uint8_t phase;
    uint32_t key;
    uint32_t index;
} s_frame_t;

typedef struct {
    uint8_t op;
    uint32_t off, len; // bytes in strbuf
} s_tok_t;

typedef struct {
    uint8_t kind;
    uint32_t path; // offset of a NUL-terminated path in pathbuf
} s_fixrec_t;

//  The context of a string being scanned, kept in a choice point to resume the scan.
typedef struct {
    uint32_t str_off; // where its bytes start in strbuf
    uint8_t style;
    uint8_t ctx;
    uint8_t flags;
} s_strctx_t;

typedef struct {
    uint8_t kind;
    size_t pos;
    int32_t top;
    size_t tape_len, str_len, frames_len, fixes_len, paths_len, data_quotes;
    s_strctx_t sc; // CP_STRING: the string to resume
    size_t qlen;   // CP_STRING: bytes of the quote at pos
} s_choice_t;

typedef struct {
    const char *s;
    size_t end; // region end (parse stops here)
    size_t pos;
    unsigned flags;
    int32_t top;
    size_t data_quotes; // quotes read as data so far (rolls back)
    size_t steps, budget;
    int hard; // a failure no other reading can avoid (memory, budget, bad UTF-8)
    // rollbackable vectors
    s_tok_t *tape;
    size_t tape_len, tape_cap;
    s_buf_t str;
    s_frame_t *frames;
    size_t frames_len, frames_cap;
    s_fixrec_t *fixes;
    size_t fixes_len, fixes_cap;
    s_buf_t paths;
    s_choice_t *choices;
    size_t choices_len, choices_cap;
    // the furthest failure, for the error message
    size_t err_pos;
    const char *err_msg;
    int err_kind;       // the repair a strict parse met, or -1
    const char *prefix; // path prefix of every fix
} s_parser_t;

static int
s_vec_grow (void **data, size_t *cap, size_t len, size_t elem)
{
    if (len < *cap) return 0;
    size_t ncap = *cap ? *cap * 2 : 64;
    if (ncap > SIZE_MAX / elem) return -1;
    void *nd = realloc (*data, ncap * elem);
    if (!nd) return -1;
    *data = nd;
    *cap = ncap;
    return 0;
}

static int
s_fail (s_parser_t *p, const char *msg)
{
    if (!p->err_msg || p->pos >= p->err_pos) {
        p->err_pos = p->pos;
        p->err_msg = msg;
    }
    return ST_FAIL;
}

static int
s_hard_fail (s_parser_t *p, const char *msg)
{
    p->hard = 1;
    p->err_pos = p->pos;
    p->err_msg = msg;
    return ST_FAIL;
}

static s_frame_t *
s_top (s_parser_t *p)
{
    return &p->frames[p->top];
}

//  Appends a frame and makes it the top. Returns 0 or -1 (memory).
static int
s_push_frame (s_parser_t *p, s_frame_t f)
{
    if (s_vec_grow ((void **)&p->frames, &p->frames_cap, p->frames_len, sizeof f)) return -1;
    p->frames[p->frames_len] = f;
    p->top = (int32_t)p->frames_len++;
    return 0;
}

static int
s_set_phase (s_parser_t *p, uint8_t phase)
{
    s_frame_t f = *s_top (p);
    f.phase = phase;
    return s_push_frame (p, f);
}

static int
s_emit (s_parser_t *p, uint8_t op, size_t off, size_t len)
{
    if (off > UINT32_MAX || len > UINT32_MAX) return -1;
    if (s_vec_grow ((void **)&p->tape, &p->tape_cap, p->tape_len, sizeof (s_tok_t))) return -1;
    p->tape[p->tape_len].op = op;
    p->tape[p->tape_len].off = (uint32_t)off;
    p->tape[p->tape_len].len = (uint32_t)len;
    p->tape_len++;
    return 0;
}

//  ---------------------------------------------------------------------------
//  Paths and fixes

static int
s_path_put_segment (s_buf_t *b, const char *key, size_t len)
{
    if (s_buf_putc (b, '/')) return -1;
    for (size_t i = 0; i < len; i++) {
        if (key[i] == '~') {
            if (s_buf_put (b, "~0", 2)) return -1;
        } else if (key[i] == '/') {
            if (s_buf_put (b, "~1", 2)) return -1;
        } else if (s_buf_putc (b, key[i]))
            return -1;
    }
    return 0;
}

//  The segment a frame adds for the value being read inside it.
static int
s_path_put_frame_segment (s_parser_t *p, s_buf_t *b, const s_frame_t *f)
{
    if (f->kind == K_OBJ) {
        const s_tok_t *k = &p->tape[f->key];
        return s_path_put_segment (b, p->str.data + k->off, k->len);
    }
    if (f->kind == K_ARR) {
        char num[16];
        size_t n = sizeof num;
        uint32_t i = f->index;
        do {
            num[--n] = (char)('0' + i % 10);
            i /= 10;
        } while (i);
        num[--n] = '/';
        return s_buf_put (b, num + n, sizeof num - n);
    }
    return 0;
}

//  Writes the path of frame `fi` (the container itself) into b.
static int
s_path_of_frame (s_parser_t *p, s_buf_t *b, int32_t fi)
{
    //  Collect the chain root-first: the depth is bounded, recursion is fine.
    const s_frame_t *f = &p->frames[fi];
    if (f->parent < 0) return 0;
    if (s_path_of_frame (p, b, f->parent)) return -1;
    return s_path_put_frame_segment (p, b, &p->frames[f->parent]);
}

//  Records a fix. with_value: at the value being read in the top frame (a member or
//  element), else at the top container.
static int
s_fix (s_parser_t *p, sb_fix_kind_t kind, int with_value)
{
    if (p->flags & SB_JREPAIR_STRICT) {
        p->hard = 1;
        p->err_pos = p->pos;
        p->err_msg = "not strict JSON";
        p->err_kind = kind;
        return -1;
    }
    size_t at = p->paths.len;
    if (s_buf_put (&p->paths, p->prefix, strlen (p->prefix)) ||
        s_path_of_frame (p, &p->paths, p->top))
        goto oom;
    if (with_value) {
        const s_frame_t *f = s_top (p);
        int has_member =
            f->kind == K_ARR || (f->kind == K_OBJ && (f->phase == O_COLON || f->phase == O_VALUE));
        if (has_member && s_path_put_frame_segment (p, &p->paths, f)) goto oom;
    }
    if (s_buf_putc (&p->paths, 0)) goto oom;
    if (s_vec_grow ((void **)&p->fixes, &p->fixes_cap, p->fixes_len, sizeof (s_fixrec_t))) goto oom;
    p->fixes[p->fixes_len].kind = (uint8_t)kind;
    p->fixes[p->fixes_len].path = (uint32_t)at;
    p->fixes_len++;
    return 0;
oom:
    p->hard = 1;
    p->err_msg = "out of memory";
    return -1;
}

//  ---------------------------------------------------------------------------
//  Lexing helpers

//  The byte length (1 or 3) of a quote character at pos, and its style; 0 if none.
static size_t
s_quote_at (const char *s, size_t pos, size_t end, int *style)
{
    unsigned char c = (unsigned char)s[pos];
    if (c == '"') {
        *style = Q_DOUBLE;
        return 1;
    }
    if (c == '\'') {
        *style = Q_SINGLE;
        return 1;
    }
    if (c == 0xE2 && pos + 2 < end && (unsigned char)s[pos + 1] == 0x80) {
        unsigned char d = (unsigned char)s[pos + 2];
        if (d == 0x9C || d == 0x9D) { // “ ”
            *style = Q_TYPO_DOUBLE;
            return 3;
        }
        if (d == 0x98 || d == 0x99) { // ‘ ’
            *style = Q_TYPO_SINGLE;
            return 3;
        }
    }
    return 0;
}

//  Which quotes may close a string opened with `open`: a plain quote only itself;
//  a curly one either curly quote of its family or the plain quote of it.
static int
s_quote_closes_style (int open, int close)
{
    switch (open) {
        case Q_DOUBLE:
            return close == Q_DOUBLE;
        case Q_SINGLE:
            return close == Q_SINGLE;
        case Q_TYPO_DOUBLE:
            return close == Q_DOUBLE || close == Q_TYPO_DOUBLE;
        default:
            return close == Q_SINGLE || close == Q_TYPO_SINGLE;
    }
}

//  Length of the valid UTF-8 sequence at pos: n > 0, 0 when invalid, -1 when the
//  input ends inside it.
static int
s_utf8_len (const char *s, size_t pos, size_t end)
{
    const unsigned char *u = (const unsigned char *)s + pos;
    size_t avail = end - pos;
    unsigned char c = u[0];
    int n;
    unsigned min;
    unsigned cp;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
        min = 0x10000;
    } else
        return 0;
    for (int i = 1; i < n; i++) {
        if ((size_t)i >= avail) return -1;
        if ((u[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (u[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
}

//  Whitespace and comments from pos. *seen gets 1 for a comment, 2 for whitespace
//  that JSON does not allow (BOM, NBSP, \f, \v).
static size_t
s_skip_space (s_parser_t *p, size_t pos, int *seen)
{
    const unsigned char *s = (const unsigned char *)p->s;
    size_t end = p->end;
    size_t start = pos;
    while (pos < end) {
        unsigned char c = s[pos];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
            pos++;
        else if (c == '\f' || c == '\v') {
            *seen |= 2;
            pos++;
        } else if (c == 0xC2 && pos + 1 < end && s[pos + 1] == 0xA0) {
            *seen |= 2;
            pos += 2;
        } else if (c == 0xEF && pos + 2 < end && s[pos + 1] == 0xBB && s[pos + 2] == 0xBF) {
            *seen |= 2;
            pos += 3;
        } else if (c == '/' && pos + 1 < end && s[pos + 1] == '/') {
            *seen |= 1;
            const char *nl = memchr (p->s + pos, '\n', end - pos);
            pos = nl ? (size_t)(nl - p->s) : end;
        } else if (c == '/' && pos + 1 < end && s[pos + 1] == '*') {
            *seen |= 1;
            const char *close = memmem (p->s + pos + 2, end - pos - 2, "*/", 2);
            pos = close ? (size_t)(close - p->s) + 2 : end;
        } else
            break;
    }
    p->steps += pos - start;
    return pos;
}

static int
s_is_bare_char (unsigned char c)
{
    return c > ' ' && !strchr ("{}[],:\"'/", c) && c != 0x7F;
}

static int
s_starts_value (unsigned char c)
{
    return c == '{' || c == '[' || c == '"' || c == '\'' || c == '-' || c == '+' || c == '.' ||
           (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == 0xE2;
}

static int
s_push_choice (s_parser_t *p, uint8_t kind, const s_strctx_t *sc, size_t qlen)
{
    if (p->flags & SB_JREPAIR_STRICT) return 0; // plain JSON has a single reading
    if (s_vec_grow ((void **)&p->choices, &p->choices_cap, p->choices_len, sizeof (s_choice_t)))
        return -1;
    s_choice_t *cp = &p->choices[p->choices_len++];
    cp->kind = kind;
    cp->pos = p->pos;
    cp->top = p->top;
    cp->tape_len = p->tape_len;
    cp->str_len = p->str.len;
    cp->frames_len = p->frames_len;
    cp->fixes_len = p->fixes_len;
    cp->paths_len = p->paths.len;
    cp->data_quotes = p->data_quotes;
    if (sc) cp->sc = *sc;
    cp->qlen = qlen;
    return 0;
}

//  ---------------------------------------------------------------------------
//  Transitions

static int
s_oom (s_parser_t *p)
{
    return s_hard_fail (p, "out of memory");
}

//  The value read in the top frame is complete.
static int
s_value_done (s_parser_t *p)
{
    s_frame_t f = *s_top (p);
    if (f.kind == K_ROOT)
        f.phase = R_DONE;
    else if (f.kind == K_OBJ)
        f.phase = O_COMMA_OR_END;
    else {
        f.phase = A_COMMA_OR_END;
        f.index++;
    }
    return s_push_frame (p, f) ? s_oom (p) : ST_CONT;
}

//  Emits the end of the top container and pops it.
static int
s_end_container (s_parser_t *p)
{
    const s_frame_t *f = s_top (p);
    if (s_emit (p, f->kind == K_OBJ ? T_OBJ_END : T_ARR_END, 0, 0)) return s_oom (p);
    p->top = f->parent;
    return s_value_done (p);
}

static int
s_fixr (s_parser_t *p, sb_fix_kind_t kind, int with_value)
{
    return s_fix (p, kind, with_value) ? ST_FAIL : ST_CONT;
}

static int
s_ancestor_expects (s_parser_t *p, unsigned char c)
{
    int kind = c == '}' ? K_OBJ : K_ARR;
    for (int32_t i = s_top (p)->parent; i >= 0; i = p->frames[i].parent)
        if (p->frames[i].kind == kind) return 1;
    return 0;
}

//  c (at pos) closes the top container although it is the other kind of closer.
static int
s_close_replacing (s_parser_t *p)
{
    if (s_fixr (p, SB_FIX_MISMATCHED_CLOSER, 0) != ST_CONT) return ST_FAIL;
    p->pos++;
    return s_end_container (p);
}

static int
s_close (s_parser_t *p, unsigned char c)
{
    const s_frame_t *f = s_top (p);
    if ((f->phase == O_KEY || f->phase == A_VALUE) &&
        s_fixr (p, SB_FIX_TRAILING_COMMA, 0) != ST_CONT)
        return ST_FAIL;
    if (c == (f->kind == K_OBJ ? '}' : ']')) {
        p->pos++;
        return s_end_container (p);
    }
    if (!s_ancestor_expects (p, c)) return s_close_replacing (p);
    //  Both readings may be right: `{"a": [1}` lacks a ']', `{"a": [1}, "b": 2}`
    //  has a '}' for a ']'. Close the array here first; the rest decides.
    if (s_push_choice (p, CP_CLOSER, NULL, 0)) return s_oom (p);
    if (s_fixr (p, SB_FIX_MISSING_CLOSER, 0) != ST_CONT) return ST_FAIL;
    return s_end_container (p);
}

//  Lookahead after a candidate closing quote: does what follows end the string
//  (1), or is the quote data (0)? -1: neither.
static int
s_quote_ends (s_parser_t *p, const s_strctx_t *sc, size_t after)
{
    if (p->flags & SB_JREPAIR_STRICT) return 1;
    int seen = 0;
    size_t q = s_skip_space (p, after, &seen);
    if (q >= p->end) return 1;
    unsigned char c = (unsigned char)p->s[q];
    int style = 0;
    //  Keys hold no stray quotes, and a stray quote followed by ':' means this
    //  reading has swallowed a key: both make the reading fail (-1).
    switch (sc->ctx) {
        case CTX_KEY:
            return c == ':' ? 1 : -1;
        case CTX_ROOT:
            return 0;
        default:
            if (c == ':') return -1;
            //  "a" + "b": string concatenation is code, not data; no reading.
            if (c == '+') {
                size_t r = s_skip_space (p, q + 1, &seen);
                if (r < p->end && s_quote_at (p->s, r, p->end, &style)) return -1;
            }
            if (c == ',' || c == '}' || c == ']') return 1;
            //  "a" "b": a missing comma, if the rest then parses.
            return q > after && s_quote_at (p->s, q, p->end, &style);
    }
}

static int
s_hex4 (const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static int
s_put_utf8 (s_buf_t *b, unsigned cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return s_buf_put (b, u, n);
}

//  1 when s[pos..end) is a prefix of a \uXXXX escape cut by the end of input.
static int
s_cut_escape (const char *s, size_t pos, size_t end)
{
    for (size_t i = pos; i < end; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return 0;
    }
    return 1;
}

//  One escape at pos (a backslash). Returns LEX_OK, LEX_FAIL or LEX_INCOMPLETE.
static int
s_escape (s_parser_t *p, s_strctx_t *sc)
{
    const char *s = p->s;
    size_t end = p->end;
    if (p->pos + 1 >= end) return LEX_INCOMPLETE;
    char e = s[p->pos + 1];
    char out = 0;
    switch (e) {
        case '"':
        case '\\':
        case '/':
            out = e;
            break;
        case 'b':
            out = '\b';
            break;
        case 'f':
            out = '\f';
            break;
        case 'n':
            out = '\n';
            break;
        case 'r':
            out = '\r';
            break;
        case 't':
            out = '\t';
            break;
        case '\'':
            out = '\'';
            sc->flags |= SF_APOS;
            break;
        case 'u': {
            unsigned cp, lo;
            if (p->pos + 6 > end)
                return s_cut_escape (s, p->pos + 2, end) ? LEX_INCOMPLETE : LEX_FAIL;
            if (s_hex4 (s + p->pos + 2, &cp)) {
                //  \uZZZZ is no escape: keep the backslash as data.
                sc->flags |= SF_BADESC;
                p->pos++;
                return s_buf_putc (&p->str, '\\') ? LEX_FAIL : LEX_OK;
            }
            size_t used = 6;
            if (cp >= 0xDC00 && cp <= 0xDFFF) {
                s_hard_fail (p, "lone low surrogate escape");
                return LEX_FAIL;
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                size_t q = p->pos + 6;
                if (q + 6 > end) {
                    if ((q < end && s[q] != '\\') || (q + 1 < end && s[q + 1] != 'u') ||
                        (q + 2 < end && !s_cut_escape (s, q + 2, end)))
                        return s_hard_fail (p, "lone high surrogate escape"), LEX_FAIL;
                    return LEX_INCOMPLETE;
                }
                if (s[q] != '\\' || s[q + 1] != 'u' || s_hex4 (s + q + 2, &lo) || lo < 0xDC00 ||
                    lo > 0xDFFF) {
                    s_hard_fail (p, "lone high surrogate escape");
                    return LEX_FAIL;
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                used = 12;
            }
            p->pos += used;
            if (s_put_utf8 (&p->str, cp)) {
                s_oom (p);
                return LEX_FAIL;
            }
            return LEX_OK;
        }
        default:
            //  \d, \x...: not JSON; the backslash is kept as data (a regex, a path).
            sc->flags |= SF_BADESC;
            p->pos++;
            return s_buf_putc (&p->str, '\\') ? (s_oom (p), LEX_FAIL) : LEX_OK;
    }
    p->pos += 2;
    return s_buf_putc (&p->str, out) ? (s_oom (p), LEX_FAIL) : LEX_OK;
}

//  Scans a string from pos (inside it; its bytes so far are in strbuf since
//  sc->str_off). Stops after the closing quote (LEX_OK), pushing a choice point to
//  read that quote as data instead.
static int
s_scan_string (s_parser_t *p, s_strctx_t *sc)
{
    const char *s = p->s;
    size_t end = p->end;
    for (;;) {
        size_t run = p->pos;
        while (p->pos < end) {
            unsigned char c = (unsigned char)s[p->pos];
            if (c < 0x20 || c == '"' || c == '\'' || c == '\\' || c >= 0x80) break;
            p->pos++;
        }
        p->steps += p->pos - run + 1;
        if (s_buf_put (&p->str, s + run, p->pos - run)) return s_oom (p), LEX_FAIL;
        if (p->pos >= end) return LEX_INCOMPLETE;
        unsigned char c = (unsigned char)s[p->pos];
        if (c == '\\') {
            int r = s_escape (p, sc);
            if (r != LEX_OK) return r;
            continue;
        }
        if (c < 0x20) {
            sc->flags |= SF_CTRL;
            if (s_buf_putc (&p->str, (char)c)) return s_oom (p), LEX_FAIL;
            p->pos++;
            continue;
        }
        int style = 0;
        size_t ql = s_quote_at (s, p->pos, end, &style);
        if (ql && s_quote_closes_style (sc->style, style)) {
            int ends = s_quote_ends (p, sc, p->pos + ql);
            if (ends < 0)
                return s_fail (p, "a quote inside a key, or a key inside a string"), LEX_FAIL;
            if (ends) {
                if (s_push_choice (p, CP_STRING, sc, ql)) return s_oom (p), LEX_FAIL;
                p->pos += ql;
                return LEX_OK;
            }
            sc->flags |= SF_INNER;
            p->data_quotes++;
            if (s_buf_put (&p->str, s + p->pos, ql)) return s_oom (p), LEX_FAIL;
            p->pos += ql;
            continue;
        }
        int n = s_utf8_len (s, p->pos, end);
        if (n < 0) return LEX_INCOMPLETE;
        if (n == 0) {
            s_hard_fail (p, "invalid UTF-8");
            return LEX_FAIL;
        }
        if (s_buf_put (&p->str, s + p->pos, (size_t)n)) return s_oom (p), LEX_FAIL;
        p->pos += (size_t)n;
    }
}

//  The fixes a finished string carries, at the value (or key) just read.
static int
s_string_fixes (s_parser_t *p, const s_strctx_t *sc)
{
    if (sc->style == Q_SINGLE && s_fix (p, SB_FIX_SINGLE_QUOTES, 1)) return -1;
    if ((sc->style == Q_TYPO_DOUBLE || sc->style == Q_TYPO_SINGLE) &&
        s_fix (p, SB_FIX_TYPOGRAPHIC_QUOTES, 1))
        return -1;
    if ((sc->flags & SF_INNER) && s_fix (p, SB_FIX_INNER_QUOTE, 1)) return -1;
    if ((sc->flags & SF_APOS) && s_fix (p, SB_FIX_ESCAPED_APOSTROPHE, 1)) return -1;
    if ((sc->flags & SF_BADESC) && s_fix (p, SB_FIX_INVALID_ESCAPE, 1)) return -1;
    if ((sc->flags & SF_CTRL) && s_fix (p, SB_FIX_CONTROL_CHAR, 1)) return -1;
    return 0;
}

//  A member or element cut by the end of input: drop it (objects drop theirs when
//  the end is reached, see s_at_end).
static int
s_incomplete (s_parser_t *p)
{
    const s_frame_t *f = s_top (p);
    if (f->kind == K_ROOT) return s_fail (p, "unterminated value");
    if (f->kind == K_ARR && s_fix (p, SB_FIX_DROPPED_INCOMPLETE, 1)) return ST_FAIL;
    if (f->kind == K_OBJ && (f->phase == O_KEY || f->phase == O_KEY_OR_END) &&
        s_fix (p, SB_FIX_DROPPED_INCOMPLETE, 0))
        return ST_FAIL;
    p->pos = p->end;
    return ST_CONT;
}

//  Scans (or resumes) a string and completes it as a key or a value.
static int
s_string_run (s_parser_t *p, s_strctx_t *sc)
{
    int r = s_scan_string (p, sc);
    if (r == LEX_FAIL) return ST_FAIL;
    if (r == LEX_INCOMPLETE) return s_incomplete (p);
    size_t off = sc->str_off, len = p->str.len - sc->str_off;
    if (sc->ctx == CTX_KEY) {
        if (s_emit (p, T_KEY, off, len)) return s_oom (p);
        s_frame_t f = *s_top (p);
        f.phase = O_COLON;
        f.key = (uint32_t)(p->tape_len - 1);
        if (s_push_frame (p, f)) return s_oom (p);
        return s_string_fixes (p, sc) ? ST_FAIL : ST_CONT;
    }
    if (s_emit (p, T_STRING, off, len)) return s_oom (p);
    if (s_string_fixes (p, sc)) return ST_FAIL;
    return s_value_done (p);
}

static int
s_string_begin (s_parser_t *p, int ctx)
{
    int style = 0;
    size_t ql = s_quote_at (p->s, p->pos, p->end, &style);
    assert (ql);
    s_strctx_t sc = {(uint32_t)p->str.len, (uint8_t)style, (uint8_t)ctx, 0};
    if (p->str.len > UINT32_MAX) return s_oom (p);
    p->pos += ql;
    return s_string_run (p, &sc);
}

//  A key without quotes: up to the ':' (which must follow), e.g. X-Request-Id.
static int
s_bare_key (s_parser_t *p)
{
    const char *s = p->s;
    size_t start = p->pos, i = p->pos;
    while (i < p->end) {
        unsigned char c = (unsigned char)s[i];
        int style = 0;
        if (c >= 0x80) {
            if (s_quote_at (s, i, p->end, &style)) break;
            int n = s_utf8_len (s, i, p->end);
            if (n < 0) {
                i = p->end;
                break;
            }
            if (n == 0) return s_hard_fail (p, "invalid UTF-8");
            i += (size_t)n;
            continue;
        }
        if (!s_is_bare_char (c)) break;
        i++;
    }
    p->steps += i - start;
    if (i == start) return s_fail (p, "expected a key");
    int seen = 0;
    size_t q = s_skip_space (p, i, &seen);
    if (q >= p->end) {
        p->pos = p->end;
        return s_incomplete (p);
    }
    if (s[q] != ':') {
        p->pos = i;
        return s_fail (p, "expected ':' after a key");
    }
    size_t off = p->str.len;
    if (s_buf_put (&p->str, s + start, i - start) || s_emit (p, T_KEY, off, i - start))
        return s_oom (p);
    s_frame_t f = *s_top (p);
    f.phase = O_COLON;
    f.key = (uint32_t)(p->tape_len - 1);
    if (s_push_frame (p, f)) return s_oom (p);
    p->pos = i;
    return s_fixr (p, SB_FIX_UNQUOTED_KEY, 1);
}

static int
s_is_digit (char c)
{
    return c >= '0' && c <= '9';
}

static int
s_is_ident (char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || s_is_digit (c) || c == '_' ||
           c == '$';
}

//  Literals, JSON's and the ones models borrow from Python and JavaScript.
enum { L_TRUE, L_FALSE, L_NULL, L_UNDEFINED };
static const struct {
    const char *word;
    int lit;
    int fix; // -1: none
} s_literals[] = {
    {"true", L_TRUE, -1},
    {"false", L_FALSE, -1},
    {"null", L_NULL, -1},
    {"True", L_TRUE, SB_FIX_PYTHON_LITERAL},
    {"False", L_FALSE, SB_FIX_PYTHON_LITERAL},
    {"None", L_NULL, SB_FIX_PYTHON_LITERAL},
    {"NaN", L_NULL, SB_FIX_NON_FINITE},
    {"Infinity", L_NULL, SB_FIX_NON_FINITE},
    {"undefined", L_UNDEFINED, SB_FIX_UNDEFINED},
};

//  Reads a literal word at pos..; returns its index in s_literals, -1 when unknown,
//  -2 when the input ends inside what may be one.
static int
s_match_literal (s_parser_t *p, size_t from, size_t *after, int only_non_finite)
{
    size_t i = from;
    while (i < p->end && s_is_ident (p->s[i]))
        i++;
    size_t n = i - from;
    *after = i;
    for (size_t k = 0; k < sizeof s_literals / sizeof s_literals[0]; k++) {
        if (only_non_finite && s_literals[k].fix != SB_FIX_NON_FINITE) continue;
        const char *w = s_literals[k].word;
        size_t wl = strlen (w);
        if (n == wl && memcmp (p->s + from, w, n) == 0) return (int)k;
        if (i >= p->end && n < wl && memcmp (p->s + from, w, n) == 0) return -2;
    }
    return -1;
}

static int
s_emit_literal (s_parser_t *p, int lit)
{
    int op = lit == L_TRUE ? T_TRUE : lit == L_FALSE ? T_FALSE : T_NULL;
    return s_emit (p, (uint8_t)op, 0, 0) ? s_oom (p) : ST_CONT;
}

static int
s_literal (s_parser_t *p)
{
    size_t after;
    int k = s_match_literal (p, p->pos, &after, 0);
    if (k == -2) return s_incomplete (p);
    if (k < 0) return s_fail (p, "unquoted text where a value was expected");
    if (s_literals[k].fix >= 0 && s_fix (p, (sb_fix_kind_t)s_literals[k].fix, 1)) return ST_FAIL;
    const s_frame_t *f = s_top (p);
    p->pos = after;
    if (s_literals[k].lit == L_UNDEFINED) {
        if (f->kind == K_ROOT) return s_fail (p, "undefined is not a value");
        if (f->kind == K_OBJ) {
            //  The member is dropped: rewind the tape over its key.
            p->tape_len = f->key;
            return s_set_phase (p, O_COMMA_OR_END) ? s_oom (p) : ST_CONT;
        }
        return s_emit_literal (p, L_NULL) == ST_CONT ? s_value_done (p) : ST_FAIL;
    }
    return s_emit_literal (p, s_literals[k].lit) == ST_CONT ? s_value_done (p) : ST_FAIL;
}

//  A number, as written where it is JSON; .5, 21., +1 normalised; 0123 kept as the
//  string it must have been; -Infinity made null.
static int
s_number (s_parser_t *p)
{
    const char *s = p->s;
    size_t end = p->end, i = p->pos;
    size_t out = p->str.len;
    int fixed = 0;
    int at_root = s_top (p)->kind == K_ROOT;
    if (s[i] == '-') {
        if (s_buf_putc (&p->str, '-')) return s_oom (p);
        i++;
    } else if (s[i] == '+') {
        fixed = 1;
        i++;
    }
    if (i < end && (s[i] == 'I' || s[i] == 'N')) {
        size_t after;
        int k = s_match_literal (p, i, &after, 1);
        if (k == -2) return s_incomplete (p);
        if (k < 0) return s_fail (p, "unquoted text where a value was expected");
        if (s_fix (p, SB_FIX_NON_FINITE, 1)) return ST_FAIL;
        p->str.len = out;
        p->pos = after;
        return s_emit_literal (p, L_NULL) == ST_CONT ? s_value_done (p) : ST_FAIL;
    }
    size_t int_start = i;
    while (i < end && s_is_digit (s[i]))
        i++;
    size_t int_len = i - int_start;
    if (int_len == 0) {
        if (i + 1 < end && s[i] == '.' && s_is_digit (s[i + 1])) {
            if (s_buf_putc (&p->str, '0')) return s_oom (p);
            fixed = 1;
        } else if (i >= end || (s[i] == '.' && i + 1 >= end)) {
            p->str.len = out;
            return s_incomplete (p);
        } else
            return s_fail (p, "malformed number");
    } else if (int_len > 1 && s[int_start] == '0') {
        //  0123 is no JSON number and may be a code or a zip: keep the text.
        size_t j = i;
        while (j < end && (s_is_digit (s[j]) || strchr (".eE+-", s[j])))
            j++;
        if (j < end && (s_is_ident (s[j]) || s[j] == '.')) return s_fail (p, "malformed number");
        p->str.len = out;
        if (s_buf_put (&p->str, s + p->pos, j - p->pos) || s_emit (p, T_STRING, out, j - p->pos))
            return s_oom (p);
        if (s_fix (p, SB_FIX_LEADING_ZERO, 1)) return ST_FAIL;
        p->pos = j;
        return s_value_done (p);
    }
    if (s_buf_put (&p->str, s + int_start, int_len)) return s_oom (p);
    if (i < end && s[i] == '.') {
        i++;
        size_t f = i;
        while (i < end && s_is_digit (s[i]))
            i++;
        if (i == f) {
            if (i >= end && !at_root) {
                p->str.len = out;
                return s_incomplete (p);
            }
            fixed = 1; // 21. -> 21
        } else if (s_buf_put (&p->str, s + f - 1, i - f + 1))
            return s_oom (p);
    }
    if (i < end && (s[i] == 'e' || s[i] == 'E')) {
        size_t e0 = i++;
        if (i < end && (s[i] == '+' || s[i] == '-')) i++;
        size_t d = i;
        while (i < end && s_is_digit (s[i]))
            i++;
        if (i == d) {
            p->str.len = out;
            if (i >= end) return s_incomplete (p);
            return s_fail (p, "malformed number");
        }
        if (s_buf_put (&p->str, s + e0, i - e0)) return s_oom (p);
    }
    if (i >= end && !at_root) {
        //  A number the input ends on may have been cut (10 of 100).
        p->str.len = out;
        return s_incomplete (p);
    }
    if (i < end && (s_is_ident (s[i]) || s[i] == '.')) {
        p->str.len = out;
        return s_fail (p, "malformed number");
    }
    if (s_emit (p, T_NUMBER, out, p->str.len - out)) return s_oom (p);
    if (fixed && s_fix (p, SB_FIX_NUMBER_FORMAT, 1)) return ST_FAIL;
    p->pos = i;
    return s_value_done (p);
}

static int
s_value (s_parser_t *p, int ctx)
{
    unsigned char c = (unsigned char)p->s[p->pos];
    int style = 0;
    if (c == '{' || c == '[') {
        int depth = 0;
        for (int32_t i = p->top; i >= 0; i = p->frames[i].parent)
            depth++;
        if (depth > SB_JREPAIR_MAX_DEPTH) return s_hard_fail (p, "nesting too deep");
        s_frame_t f = {p->top, (uint8_t)(c == '{' ? K_OBJ : K_ARR),
                       (uint8_t)(c == '{' ? O_KEY_OR_END : A_VALUE_OR_END), 0, 0};
        if (s_emit (p, c == '{' ? T_OBJ_BEGIN : T_ARR_BEGIN, 0, 0) || s_push_frame (p, f))
            return s_oom (p);
        p->pos++;
        return ST_CONT;
    }
    if (s_quote_at (p->s, p->pos, p->end, &style)) return s_string_begin (p, ctx);
    if (c == '-' || c == '+' || c == '.' || s_is_digit ((char)c)) return s_number (p);
    if (s_is_ident ((char)c)) return s_literal (p);
    return s_fail (p, "unexpected character where a value was expected");
}

static int
s_key (s_parser_t *p)
{
    int style = 0;
    if (s_quote_at (p->s, p->pos, p->end, &style)) return s_string_begin (p, CTX_KEY);
    return s_bare_key (p);
}

//  The end of input (of the region) inside the document.
static int
s_at_end (s_parser_t *p)
{
    const s_frame_t *f = s_top (p);
    if (f->kind == K_ROOT) return f->phase == R_DONE ? ST_DONE : s_fail (p, "no value");
    if (!(p->flags & SB_JREPAIR_TRUNCATION)) return s_fail (p, "unexpected end of input");
    //  A truncated text whose strings held stray quotes has no reading to trust.
    if (p->data_quotes) return s_fail (p, "truncated text with unescaped quotes");
    if (f->kind == K_OBJ && (f->phase == O_COLON || f->phase == O_VALUE)) {
        if (s_fix (p, SB_FIX_DROPPED_INCOMPLETE, 1)) return ST_FAIL;
        p->tape_len = f->key;
    }
    if (s_fix (p, SB_FIX_TRUNCATED, 0)) return ST_FAIL;
    return s_end_container (p);
}

//  What follows the complete root value.
static int
s_trailing (s_parser_t *p)
{
    const char *s = p->s;
    unsigned char c = (unsigned char)s[p->pos];
    if (c == '}' || c == ']') {
        size_t i = p->pos;
        while (i < p->end && strchr ("}] \t\r\n", s[i]))
            i++;
        if (i >= p->end) {
            if (s_fix (p, SB_FIX_EXTRA_CLOSER, 0)) return ST_FAIL;
            p->pos = p->end;
            return ST_DONE;
        }
    } else if ((p->flags & SB_JREPAIR_EXTRACT) && !strchr (",:\"'", c)) {
        size_t i = p->pos;
        while (i < p->end && !strchr ("{}[]", s[i]))
            i++;
        if (i >= p->end) {
            if (s_fix (p, SB_FIX_SURROUNDING_TEXT, 0)) return ST_FAIL;
            p->pos = p->end;
            return ST_DONE;
        }
    }
    return s_fail (p, "unexpected text after the JSON value");
}

static int
s_step (s_parser_t *p)
{
    p->steps++;
    int seen = 0;
    p->pos = s_skip_space (p, p->pos, &seen);
    if ((seen & 1) && s_fix (p, SB_FIX_COMMENT, 0)) return ST_FAIL;
    if ((seen & 2) && s_fix (p, SB_FIX_WHITESPACE, 0)) return ST_FAIL;
    if (p->pos >= p->end) return s_at_end (p);
    const s_frame_t *f = s_top (p);
    unsigned char c = (unsigned char)p->s[p->pos];
    switch (f->phase) {
        case R_VALUE:
            return s_value (p, CTX_ROOT);
        case R_DONE:
            return s_trailing (p);
        case O_KEY_OR_END:
        case O_KEY:
            if (c == '}' || c == ']') return s_close (p, c);
            if (c == ',') {
                p->pos++;
                return s_fixr (p, f->phase == O_KEY ? SB_FIX_DOUBLED_COMMA : SB_FIX_LEADING_COMMA,
                               0);
            }
            return s_key (p);
        case O_COLON:
            if (c != ':') return s_fail (p, "expected ':'");
            p->pos++;
            return s_set_phase (p, O_VALUE) ? s_oom (p) : ST_CONT;
        case O_VALUE:
            return s_value (p, CTX_OBJ_VALUE);
        case O_COMMA_OR_END:
            if (c == ',') {
                p->pos++;
                return s_set_phase (p, O_KEY) ? s_oom (p) : ST_CONT;
            }
            if (c == '}' || c == ']') return s_close (p, c);
            if (s_starts_value (c) && c != '{' && c != '[') {
                if (s_set_phase (p, O_KEY)) return s_oom (p);
                return s_fixr (p, SB_FIX_MISSING_COMMA, 0);
            }
            return s_fail (p, "expected ',' or '}'");
        case A_VALUE_OR_END:
        case A_VALUE:
            if (c == ']' || c == '}') return s_close (p, c);
            if (c == ',') {
                p->pos++;
                return s_fixr (p, f->phase == A_VALUE ? SB_FIX_DOUBLED_COMMA : SB_FIX_LEADING_COMMA,
                               0);
            }
            return s_value (p, CTX_ARR_VALUE);
        case A_COMMA_OR_END:
            if (c == ',') {
                p->pos++;
                return s_set_phase (p, A_VALUE) ? s_oom (p) : ST_CONT;
            }
            if (c == ']' || c == '}') return s_close (p, c);
            if (s_starts_value (c)) {
                if (s_set_phase (p, A_VALUE)) return s_oom (p);
                return s_fixr (p, SB_FIX_MISSING_COMMA, 0);
            }
            return s_fail (p, "expected ',' or ']'");
    }
    return s_fail (p, "internal parser state");
}

//  Pops the latest choice point and takes its other reading.
static int
s_backtrack (s_parser_t *p)
{
    s_choice_t cp = p->choices[--p->choices_len];
    p->pos = cp.pos;
    p->top = cp.top;
    p->tape_len = cp.tape_len;
    p->str.len = cp.str_len;
    p->frames_len = cp.frames_len;
    p->fixes_len = cp.fixes_len;
    p->paths.len = cp.paths_len;
    p->data_quotes = cp.data_quotes;
    p->steps++;
    if (cp.kind == CP_CLOSER) return s_close_replacing (p);
    //  The quote was data after all — unless it reads as a list of strings
    //  ('a', 'b'): a string that swallows those would be a guess.
    int seen = 0, style = 0;
    size_t q = s_skip_space (p, cp.pos + cp.qlen, &seen);
    if (q < p->end && p->s[q] == ',') {
        q = s_skip_space (p, q + 1, &seen);
        if (q < p->end && s_quote_at (p->s, q, p->end, &style))
            return s_fail (p, "quoted items separated by commas inside a string");
    }
    s_strctx_t sc = cp.sc;
    if (s_buf_put (&p->str, p->s + cp.pos, cp.qlen)) return s_oom (p);
    sc.flags |= SF_INNER;
    p->data_quotes++;
    p->pos = cp.pos + cp.qlen;
    return s_string_run (p, &sc);
}

static int
s_run (s_parser_t *p)
{
    int r = ST_CONT;
    for (;;) {
        if (p->steps > p->budget)
            return s_hard_fail (p, "too ambiguous to repair within the step budget"), -1;
        if (r == ST_CONT)
            r = s_step (p);
        else if (r == ST_DONE)
            return 0;
        else if (p->hard || p->choices_len == 0)
            return -1;
        else
            r = s_backtrack (p);
    }
}

//  ---------------------------------------------------------------------------
//  Finding the one object in what a model wrote

typedef struct {
    size_t begin, end; // the region the parser reads
    int fix;           // the decoration removed (SB_FIX_*), or -1
} s_region_t;

static const char *
s_find (const char *s, size_t from, size_t end, const char *needle)
{
    size_t n = strlen (needle);
    if (from >= end || end - from < n) return NULL;
    return memmem (s + from, end - from, needle, n);
}

static int
s_is_alpha (char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
s_starts_with_ci (const char *s, size_t len, const char *word)
{
    size_t n = strlen (word);
    if (len < n) return 0;
    for (size_t i = 0; i < n; i++) {
        char a = s[i], b = word[i];
        if (a >= 'A' && a <= 'Z') a = (char)(a - 'A' + 'a');
        if (a != b) return 0;
    }
    return 1;
}

//  An HTML tag (other than the tool-call tags models wrap calls in) in s[from..end).
static int
s_has_html_tag (const char *s, size_t from, size_t end)
{
    for (size_t i = from; i + 1 < end; i++) {
        if (s[i] != '<') continue;
        char c = s[i + 1];
        if (!s_is_alpha (c) && c != '/' && c != '!' && c != '?') continue;
        if (s_find (s, i, end, "<tool_call>") == s + i ||
            s_find (s, i, end, "</tool_call>") == s + i)
            continue;
        return 1;
    }
    return 0;
}

static const char *
s_why_no_object (const char *s, size_t len)
{
    static const char *const refusals[] = {"i'm sorry",   "i am sorry",    "sorry",
                                           "i cannot",    "i can't",       "i can\xe2\x80\x99t",
                                           "i'm unable",  "i am unable",   "as an ai",
                                           "i apologize", "unfortunately", "i won't"};
    if (len && s[0] == '<') return "the output is HTML, not a tool call";
    for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++)
        if (s_starts_with_ci (s, len, refusals[i]))
            return "the output is a refusal, not a tool call";
    return "no JSON object in the output";
}

static size_t
s_skip_plain_space (const char *s, size_t pos, size_t end)
{
    while (pos < end) {
        unsigned char c = (unsigned char)s[pos];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v')
            pos++;
        else if (c == 0xEF && pos + 2 < end && (unsigned char)s[pos + 1] == 0xBB &&
                 (unsigned char)s[pos + 2] == 0xBF)
            pos += 3;
        else if (c == 0xC2 && pos + 1 < end && (unsigned char)s[pos + 1] == 0xA0)
            pos += 2;
        else
            break;
    }
    return pos;
}

//  Narrows s[0..len) to the region holding the call. Returns 0, or -1 with *why.
static int
s_extract (const char *s, size_t len, s_region_t *r, const char **why)
{
    r->begin = 0;
    r->end = len;
    r->fix = -1;
    size_t q = s_skip_plain_space (s, 0, len);
    if (q >= len) {
        *why = "empty output";
        return -1;
    }
    char c = s[q];
    //  JSON from the first byte: the parser reads it all (and judges the root).
    if (c == '{' || c == '[' || c == '"' || c == '\'' || c == '-' || s_is_digit (c)) return 0;
    size_t tail = len;
    while (tail > q && strchr (" \t\r\n", s[tail - 1]))
        tail--;
    static const char *const words[] = {"true", "false", "null"};
    for (size_t i = 0; i < 3; i++)
        if (tail - q == strlen (words[i]) && memcmp (s + q, words[i], tail - q) == 0) return 0;
    const char *brace = memchr (s + q, '{', len - q);
    if (!brace) {
        *why = s_why_no_object (s + q, len - q);
        return -1;
    }
    size_t b = (size_t)(brace - s);
    if (s_has_html_tag (s, q, b)) {
        *why = "the output is HTML, not a tool call";
        return -1;
    }
    size_t last = b;
    while (last > q && strchr (" \t\r\n", s[last - 1]))
        last--;
    if (last > q && s[last - 1] == '[') {
        *why = "the JSON is an array, not an object";
        return -1;
    }
    size_t post = len;
    int ignore_post = 0;
    size_t deco_end = b; // where the decoration ends (a root string may start there)
    const char *d;
    if ((d = s_find (s, q, b, "<tool_call>"))) {
        r->fix = SB_FIX_TOOL_CALL_TAG;
        deco_end = (size_t)(d - s) + strlen ("<tool_call>");
        const char *close = s_find (s, b, len, "</tool_call>");
        if (close) {
            r->end = (size_t)(close - s);
            post = r->end + strlen ("</tool_call>");
        }
    } else if ((d = s_find (s, q, b, "```"))) {
        r->fix = SB_FIX_MARKDOWN_FENCE;
        const char *nl = memchr (d, '\n', b - (size_t)(d - s));
        deco_end = nl ? (size_t)(nl - s) + 1 : b;
        //  The closing fence starts a line; ``` inside a JSON string cannot.
        for (const char *f = s_find (s, b, len, "```"); f;
             f = s_find (s, (size_t)(f - s) + 3, len, "```")) {
            size_t i = (size_t)(f - s);
            while (i > b && (s[i - 1] == ' ' || s[i - 1] == '\t'))
                i--;
            if (i > b && s[i - 1] == '\n') {
                r->end = (size_t)(f - s);
                post = r->end + 3;
                break;
            }
        }
    } else if ((d = s_find (s, q, b, "Action Input:"))) {
        //  ReAct: what follows the input (Observation: ...) is the model's invention.
        r->fix = SB_FIX_ACTION_INPUT;
        deco_end = (size_t)(d - s) + strlen ("Action Input:");
        const char *obs = s_find (s, b, len, "\nObservation");
        if (obs) r->end = (size_t)(obs - s);
        ignore_post = 1;
    } else
        r->fix = SB_FIX_SURROUNDING_TEXT;
    r->begin = b;
    //  A JSON string right after the decoration is the root (JSON encoded twice).
    size_t root = s_skip_plain_space (s, deco_end, b);
    if (root < b && (s[root] == '"' || s[root] == '\'')) r->begin = root;
    if (!ignore_post && post < len && memchr (s + post, '{', len - post)) {
        *why = "more than one JSON object in the output";
        return -1;
    }
    return 0;
}

//  ---------------------------------------------------------------------------
//  From tape to tree

static int
s_key_cmp (const void *a, const void *b)
{
    const s_key_t *x = a, *y = b;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return memcmp (x->bytes, y->bytes, x->len);
}

//  A key that the object holds twice, or NULL. *oom set when memory runs out.
static const s_key_t *
s_duplicate_key (const sb_jval_t *o, s_key_t *found, int *oom)
{
    if (o->count <= 16) {
        for (size_t i = 1; i < o->count; i++)
            for (size_t j = 0; j < i; j++)
                if (s_key_cmp (&o->keys[i], &o->keys[j]) == 0) {
                    *found = o->keys[i];
                    return found;
                }
        return NULL;
    }
    s_key_t *sorted = malloc (o->count * sizeof *sorted);
    if (!sorted) {
        *oom = 1;
        return NULL;
    }
    memcpy (sorted, o->keys, o->count * sizeof *sorted);
    qsort (sorted, o->count, sizeof *sorted, s_key_cmp);
    const s_key_t *dup = NULL;
    for (size_t i = 1; i < o->count && !dup; i++)
        if (s_key_cmp (&sorted[i], &sorted[i - 1]) == 0) {
            *found = sorted[i];
            dup = found;
        }
    free (sorted);
    return dup;
}

static sb_jval_t *
s_build (sb_jdoc_t *doc, const s_parser_t *p, char *err, size_t err_size)
{
    sb_jval_t *stack[SB_JREPAIR_MAX_DEPTH + 4];
    int sp = 0;
    sb_jval_t *root = NULL;
    const s_tok_t *key = NULL;
    const char *str = p->str.data;
    for (size_t i = 0; i < p->tape_len; i++) {
        const s_tok_t *t = &p->tape[i];
        sb_jval_t *v = NULL;
        switch (t->op) {
            case T_OBJ_END: {
                s_key_t found;
                int oom = 0;
                assert (sp > 0);
                if (s_duplicate_key (stack[sp - 1], &found, &oom)) {
                    snprintf (err, err_size, "duplicate key \"%.*s\"",
                              (int)(found.len > 64 ? 64 : found.len), found.bytes);
                    return NULL;
                }
                if (oom) goto oom;
                sp--;
                continue;
            }
            case T_ARR_END:
                assert (sp > 0);
                sp--;
                continue;
            case T_KEY:
                key = t;
                continue;
            case T_OBJ_BEGIN:
                v = sb_jval_new_object (doc);
                break;
            case T_ARR_BEGIN:
                v = sb_jval_new_array (doc);
                break;
            case T_STRING:
                v = sb_jval_new_string (doc, str + t->off, t->len);
                break;
            case T_NUMBER:
                v = sb_jval_new_number (doc, str + t->off, t->len);
                break;
            case T_TRUE:
                v = sb_jval_new_bool (doc, 1);
                break;
            case T_FALSE:
                v = sb_jval_new_bool (doc, 0);
                break;
            default:
                v = sb_jval_new_null (doc);
                break;
        }
        if (!v) goto oom;
        if (sp == 0)
            root = v;
        else if (stack[sp - 1]->type == SB_JVAL_ARRAY) {
            if (sb_jval_array_append (doc, stack[sp - 1], v)) goto oom;
        } else {
            assert (key);
            if (sb_jval_object_append (doc, stack[sp - 1], str + key->off, key->len, v)) goto oom;
        }
        if (v->type == SB_JVAL_OBJECT || v->type == SB_JVAL_ARRAY) {
            assert (sp < SB_JREPAIR_MAX_DEPTH + 4);
            stack[sp++] = v;
        }
    }
    if (!root) snprintf (err, err_size, "no value");
    return root;
oom:
    snprintf (err, err_size, "out of memory (document limit)");
    return NULL;
}

//  ---------------------------------------------------------------------------
//  Parse

//  Fixes of a parse and of the parses it unwrapped, reported once all succeeded.
typedef struct {
    s_buf_t paths;
    s_fixrec_t *recs;
    size_t len, cap;
} s_fixacc_t;

static int
s_acc_add (s_fixacc_t *acc, int kind, const char *path)
{
    size_t at = acc->paths.len;
    if (s_buf_put (&acc->paths, path, strlen (path) + 1) ||
        s_vec_grow ((void **)&acc->recs, &acc->cap, acc->len, sizeof (s_fixrec_t)))
        return -1;
    acc->recs[acc->len].kind = (uint8_t)kind;
    acc->recs[acc->len].path = (uint32_t)at;
    acc->len++;
    return 0;
}

static void
s_parser_free (s_parser_t *p)
{
    free (p->tape);
    free (p->str.data);
    free (p->frames);
    free (p->fixes);
    free (p->paths.data);
    free (p->choices);
}

static sb_jval_t *
s_parse (sb_jdoc_t *doc, const char *text, size_t len, unsigned flags, const char *prefix,
         int depth, s_fixacc_t *acc, char *err, size_t err_size)
{
    s_region_t r = {0, len, -1};
    const char *why = NULL;
    if ((flags & SB_JREPAIR_EXTRACT) && s_extract (text, len, &r, &why)) {
        snprintf (err, err_size, "%s", why);
        return NULL;
    }
    s_parser_t p;
    memset (&p, 0, sizeof p);
    p.s = text;
    p.pos = r.begin;
    p.end = r.end;
    p.flags = flags;
    p.top = -1;
    p.err_kind = -1;
    p.prefix = prefix;
    p.budget = (size_t)SB_JREPAIR_STEPS_PER_BYTE * len + 4096;
    sb_jval_t *root = NULL;
    s_frame_t rootf = {-1, K_ROOT, R_VALUE, 0, 0};
    if (s_push_frame (&p, rootf) || s_buf_reserve (&p.str, 1) || s_buf_reserve (&p.paths, 1)) {
        snprintf (err, err_size, "out of memory");
        goto done;
    }
    if (r.fix >= 0 && s_fix (&p, (sb_fix_kind_t)r.fix, 0)) {
        snprintf (err, err_size, "out of memory");
        goto done;
    }
    if (s_run (&p)) {
        if (p.err_kind >= 0)
            snprintf (err, err_size, "not strict JSON (%s) at byte %zu",
                      sb_fix_kind_name ((sb_fix_kind_t)p.err_kind), p.err_pos);
        else
            snprintf (err, err_size, "%s at byte %zu", p.err_msg ? p.err_msg : "cannot parse",
                      p.err_pos);
        goto done;
    }
    root = s_build (doc, &p, err, err_size);
    if (!root) goto done;
    for (size_t i = 0; i < p.fixes_len; i++)
        if (s_acc_add (acc, p.fixes[i].kind, p.paths.data + p.fixes[i].path)) {
            snprintf (err, err_size, "out of memory");
            root = NULL;
            goto done;
        }
    if (root->type == SB_JVAL_STRING && (flags & SB_JREPAIR_EXTRACT)) {
        size_t q = s_skip_plain_space (root->text, 0, root->len);
        if (q < root->len && strchr ("{[\"", root->text[q])) {
            if (depth >= SB_JREPAIR_MAX_UNWRAP) {
                snprintf (err, err_size, "JSON encoded in a string too many times");
                root = NULL;
                goto done;
            }
            if (s_acc_add (acc, SB_FIX_UNWRAPPED_STRING, prefix)) {
                snprintf (err, err_size, "out of memory");
                root = NULL;
                goto done;
            }
            //  A string holding a cut-off document is not a truncated call.
            root = s_parse (doc, root->text, root->len, flags & ~SB_JREPAIR_TRUNCATION, prefix,
                            depth + 1, acc, err, err_size);
        }
    }
done:
    s_parser_free (&p);
    return root;
}

static uint64_t
s_hash (int kind, const char *path)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)kind;
    for (const unsigned char *c = (const unsigned char *)path; *c; c++)
        h = (h ^ *c) * 1099511628211ULL;
    return h;
}

//  Reports each distinct (kind, path) once, in the order first met.
static int
s_report_fixes (const s_fixacc_t *acc, sb_jfix_fn *on_fix, void *arg)
{
    if (!on_fix || acc->len == 0) return 0;
    size_t cap = 16;
    while (cap < acc->len * 2)
        cap *= 2;
    size_t *table = calloc (cap, sizeof *table);
    if (!table) return -1;
    for (size_t i = 0; i < acc->len; i++) {
        const char *path = acc->paths.data + acc->recs[i].path;
        int kind = acc->recs[i].kind;
        size_t slot = (size_t)s_hash (kind, path) & (cap - 1);
        int seen = 0;
        while (table[slot]) {
            const s_fixrec_t *o = &acc->recs[table[slot] - 1];
            if (o->kind == kind && strcmp (acc->paths.data + o->path, path) == 0) {
                seen = 1;
                break;
            }
            slot = (slot + 1) & (cap - 1);
        }
        if (seen) continue;
        table[slot] = i + 1;
        on_fix (arg, (sb_fix_kind_t)kind, path);
    }
    free (table);
    return 0;
}

sb_jval_t *
sb_jrepair_parse (sb_jdoc_t *doc, const char *text, size_t len, unsigned flags,
                  const char *path_prefix, sb_jfix_fn *on_fix, void *arg, char *err,
                  size_t err_size)
{
    assert (doc);
    char dummy[1];
    if (!err || err_size == 0) {
        err = dummy;
        err_size = sizeof dummy;
    }
    err[0] = 0;
    if (!text) text = "";
    if (flags & SB_JREPAIR_STRICT) flags = SB_JREPAIR_STRICT;
    s_fixacc_t acc;
    memset (&acc, 0, sizeof acc);
    sb_jval_t *root =
        s_parse (doc, text, len, flags, path_prefix ? path_prefix : "", 0, &acc, err, err_size);
    if (root && s_report_fixes (&acc, on_fix, arg)) {
        snprintf (err, err_size, "out of memory");
        root = NULL;
    }
    free (acc.paths.data);
    free (acc.recs);
    return root;
}
