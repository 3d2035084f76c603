/*  sb_coerce — schema-guided coercion of a repaired tool call (see sb_coerce.h).

    What applies at a spot of the value is a formula over schemas: AND (every schema
    holds), OR (one of anyOf/oneOf holds), or a schema. The formula of a member or
    element is derived from its parent's, so anyOf branches are followed down the
    tree, and branches a parent value cannot match (wrong type, a const or enum
    property it contradicts) are set aside. A NULL formula means unconstrained.  */

#define PCRE2_CODE_UNIT_WIDTH 8
#include "sb_coerce.h"

#include <assert.h>
#include <math.h>
#include <pcre2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

//  Type bits. A number with no fraction or exponent is M_INTEGER; 1.0 is both.
enum {
    M_NULL = 1,
    M_BOOL = 2,
    M_OBJECT = 4,
    M_ARRAY = 8,
    M_STRING = 16,
    M_INTEGER = 32,
    M_NUMBER = 64, // a number that is not an integer
    M_ALL = 127,
};

#define S_MAX_SCHEMA_DEPTH 48                 // $ref / combinator hops followed from one spot
#define S_MAX_ARENA        ((size_t)32 << 20) // formula memory for one call
#define S_MAX_REGEX        64                 // patternProperties patterns compiled per call
//  Schema nodes visited per call. A schema comes with the request: one whose
//  combinators fan out through $ref could take exponential time; past this budget
//  every answer is "anything goes", which is always safe (no coercion).
#define S_MAX_SCHEMA_STEPS 200000

enum { F_SCHEMA, F_AND, F_OR };

typedef struct s_f {
    int op;
    const json_t *schema; // F_SCHEMA
    struct s_f **kids;    // F_AND, F_OR
    size_t n;
} s_f_t;

typedef struct s_chunk {
    struct s_chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} s_chunk_t;

typedef struct {
    const char *pattern;
    pcre2_code *code; // NULL: the pattern did not compile
} s_regex_t;

typedef struct {
    sb_jdoc_t *doc;
    const json_t *root;
    int draft7; // $ref overrides its siblings (draft-07 and older)
    sb_jfix_fn *on_fix;
    void *arg;
    int count;
    int oom;
    size_t steps; // schema nodes visited (S_MAX_SCHEMA_STEPS)
    s_chunk_t *chunks;
    size_t arena;
    s_regex_t regex[S_MAX_REGEX];
    size_t nregex;
    pcre2_match_data *match;
    char *path; // JSON Pointer of the spot being walked
    size_t path_len, path_cap;
} s_ctx_t;

//  ---------------------------------------------------------------------------
//  Arena

static void *
s_alloc (s_ctx_t *ctx, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    s_chunk_t *c = ctx->chunks;
    if (!c || c->cap - c->used < size) {
        size_t cap = size > 4096 ? size : 4096;
        if (ctx->arena + cap > S_MAX_ARENA) {
            ctx->oom = 1;
            return NULL;
        }
        c = malloc (sizeof *c + cap);
        if (!c) {
            ctx->oom = 1;
            return NULL;
        }
        c->next = ctx->chunks;
        c->used = 0;
        c->cap = cap;
        ctx->chunks = c;
        ctx->arena += cap;
    }
    void *p = c->data + c->used;
    c->used += size;
    return p;
}

static s_f_t *
s_f_schema (s_ctx_t *ctx, const json_t *schema)
{
    s_f_t *f = s_alloc (ctx, sizeof *f);
    if (f) {
        memset (f, 0, sizeof *f);
        f->op = F_SCHEMA;
        f->schema = schema;
    }
    return f;
}

//  A list of formulas under construction.
typedef struct {
    s_f_t *small[8];
    s_f_t **items;
    size_t n, cap;
    int unconstrained; // an OR met a NULL (unconstrained) alternative
} s_list_t;

static void
s_list_init (s_list_t *l)
{
    l->items = l->small;
    l->n = 0;
    l->cap = 8;
    l->unconstrained = 0;
}

static void
s_list_add (s_ctx_t *ctx, s_list_t *l, s_f_t *f)
{
    if (!f) return;
    if (l->n == l->cap) {
        s_f_t **items = s_alloc (ctx, l->cap * 2 * sizeof *items);
        if (!items) return;
        memcpy (items, l->items, l->n * sizeof *items);
        l->items = items;
        l->cap *= 2;
    }
    l->items[l->n++] = f;
}

//  Closes a list into one formula: NULL when it holds nothing (unconstrained).
static s_f_t *
s_list_close (s_ctx_t *ctx, s_list_t *l, int op)
{
    if (l->n == 0) return NULL;
    if (l->n == 1) return l->items[0];
    s_f_t *f = s_alloc (ctx, sizeof *f);
    s_f_t **kids = s_alloc (ctx, l->n * sizeof *kids);
    if (!f || !kids) return NULL;
    memcpy (kids, l->items, l->n * sizeof *kids);
    f->op = op;
    f->schema = NULL;
    f->kids = kids;
    f->n = l->n;
    return f;
}

//  ---------------------------------------------------------------------------
//  Schema documents

static int
s_hexval (char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

//  1 once the call has visited S_MAX_SCHEMA_STEPS schema nodes.
static int
s_spent (s_ctx_t *ctx)
{
    return ++ctx->steps > S_MAX_SCHEMA_STEPS;
}

//  Looks for "$anchor": name (or draft-07 "$id": "#name") anywhere below s.
static const json_t *
s_find_anchor (s_ctx_t *ctx, const json_t *s, const char *name, int depth)
{
    if (depth > 64 || s_spent (ctx)) return NULL;
    if (json_is_object (s)) {
        const json_t *a = json_object_get (s, "$anchor");
        if (json_is_string (a) && strcmp (json_string_value (a), name) == 0) return s;
        const json_t *id = json_object_get (s, "$id");
        if (json_is_string (id) && json_string_value (id)[0] == '#' &&
            strcmp (json_string_value (id) + 1, name) == 0)
            return s;
        const char *k;
        const json_t *v;
        json_object_foreach ((json_t *)s, k, v)
        {
            if (strcmp (k, "enum") == 0 || strcmp (k, "const") == 0) continue;
            const json_t *r = s_find_anchor (ctx, v, name, depth + 1);
            if (r) return r;
        }
    } else if (json_is_array (s)) {
        for (size_t i = 0; i < json_array_size (s); i++) {
            const json_t *r = s_find_anchor (ctx, json_array_get (s, i), name, depth + 1);
            if (r) return r;
        }
    }
    return NULL;
}

//  A local reference ("#", "#/json/pointer", "#anchor"), or NULL when the target is
//  not in this document (which leaves the spot unconstrained).
static const json_t *
s_resolve (s_ctx_t *ctx, const char *ref)
{
    if (ref[0] != '#') return NULL;
    if (ref[1] == 0) return ctx->root;
    if (ref[1] != '/') return s_find_anchor (ctx, ctx->root, ref + 1, 0);
    const json_t *cur = ctx->root;
    const char *p = ref + 1;
    char seg[256];
    while (*p == '/' && cur) {
        p++;
        size_t n = 0;
        while (*p && *p != '/') {
            char c = *p++;
            if (c == '~' && (*p == '0' || *p == '1'))
                c = *p++ == '0' ? '~' : '/';
            else if (c == '%' && s_hexval (p[0]) >= 0 && s_hexval (p[1]) >= 0) {
                c = (char)(s_hexval (p[0]) * 16 + s_hexval (p[1]));
                p += 2;
            }
            if (n + 1 >= sizeof seg) return NULL;
            seg[n++] = c;
        }
        seg[n] = 0;
        if (json_is_object (cur))
            cur = json_object_get (cur, seg);
        else if (json_is_array (cur)) {
            char *end = NULL;
            long i = strtol (seg, &end, 10);
            cur = (n && end && *end == 0 && i >= 0) ? json_array_get (cur, (size_t)i) : NULL;
        } else
            cur = NULL;
    }
    return cur;
}

static const json_t *
s_ref_target (s_ctx_t *ctx, const json_t *schema)
{
    const json_t *ref = json_object_get (schema, "$ref");
    return json_is_string (ref) ? s_resolve (ctx, json_string_value (ref)) : NULL;
}

static unsigned
s_type_bits (const char *name)
{
    static const struct {
        const char *name;
        unsigned bits;
    } types[] = {{"null", M_NULL},
                 {"boolean", M_BOOL},
                 {"object", M_OBJECT},
                 {"array", M_ARRAY},
                 {"string", M_STRING},
                 {"integer", M_INTEGER},
                 {"number", M_NUMBER | M_INTEGER}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp (name, types[i].name) == 0) return types[i].bits;
    return M_ALL; // an unknown type name: be permissive
}

static unsigned
s_json_bits (const json_t *j)
{
    switch (json_typeof (j)) {
        case JSON_NULL:
            return M_NULL;
        case JSON_TRUE:
        case JSON_FALSE:
            return M_BOOL;
        case JSON_OBJECT:
            return M_OBJECT;
        case JSON_ARRAY:
            return M_ARRAY;
        case JSON_STRING:
            return M_STRING;
        case JSON_INTEGER:
            return M_INTEGER;
        case JSON_REAL: {
            double d = json_real_value (j);
            return floor (d) == d ? (M_INTEGER | M_NUMBER) : M_NUMBER;
        }
    }
    return M_ALL;
}

//  The types a schema allows: a superset (keywords not modelled allow everything).
static unsigned
s_mask (s_ctx_t *ctx, const json_t *s, int depth)
{
    if (depth > S_MAX_SCHEMA_DEPTH || !s || json_is_true (s) || s_spent (ctx)) return M_ALL;
    if (json_is_false (s)) return 0;
    if (!json_is_object (s)) return M_ALL;
    unsigned m = M_ALL;
    const json_t *ref = json_object_get (s, "$ref");
    if (ref) {
        const json_t *t = s_ref_target (ctx, s);
        unsigned rm = t ? s_mask (ctx, t, depth + 1) : M_ALL;
        if (ctx->draft7) return rm;
        m &= rm;
    }
    const json_t *type = json_object_get (s, "type");
    if (json_is_string (type))
        m &= s_type_bits (json_string_value (type));
    else if (json_is_array (type)) {
        unsigned u = 0;
        for (size_t i = 0; i < json_array_size (type); i++) {
            const json_t *t = json_array_get (type, i);
            u |= json_is_string (t) ? s_type_bits (json_string_value (t)) : M_ALL;
        }
        m &= u;
    }
    const json_t *en = json_object_get (s, "enum");
    if (json_is_array (en)) {
        unsigned u = 0;
        for (size_t i = 0; i < json_array_size (en); i++)
            u |= s_json_bits (json_array_get (en, i));
        m &= u;
    }
    const json_t *cn = json_object_get (s, "const");
    if (cn) m &= s_json_bits (cn);
    const json_t *all = json_object_get (s, "allOf");
    for (size_t i = 0; json_is_array (all) && i < json_array_size (all); i++)
        m &= s_mask (ctx, json_array_get (all, i), depth + 1);
    static const char *const alts[] = {"anyOf", "oneOf"};
    for (int a = 0; a < 2; a++) {
        const json_t *any = json_object_get (s, alts[a]);
        if (!json_is_array (any) || json_array_size (any) == 0) continue;
        unsigned u = 0;
        for (size_t i = 0; i < json_array_size (any); i++)
            u |= s_mask (ctx, json_array_get (any, i), depth + 1);
        m &= u;
    }
    return m;
}

//  ---------------------------------------------------------------------------
//  Values

static int
s_is_integer_text (const char *s, size_t len)
{
    size_t i = 0;
    if (i < len && s[i] == '-') i++;
    if (i >= len) return 0;
    if (s[i] == '0') return i + 1 == len;
    for (; i < len; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return 1;
}

//  The JSON number grammar, exactly (no spaces, no '+', no '.5').
static int
s_is_number_text (const char *s, size_t len)
{
    size_t i = 0;
    if (i < len && s[i] == '-') i++;
    if (i >= len || s[i] < '0' || s[i] > '9') return 0;
    if (s[i] == '0')
        i++;
    else
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
    if (i < len && s[i] == '.') {
        size_t d = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d) return 0;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-')) i++;
        size_t d = i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d) return 0;
    }
    return i == len;
}

static double
s_lexeme_value (const char *s, size_t len)
{
    char tmp[64];
    if (len >= sizeof tmp) return NAN;
    memcpy (tmp, s, len);
    tmp[len] = 0;
    return strtod (tmp, NULL);
}

static unsigned
s_value_bits (const sb_jval_t *v)
{
    size_t len;
    const char *t;
    switch (sb_jval_type (v)) {
        case SB_JVAL_NULL:
            return M_NULL;
        case SB_JVAL_BOOL:
            return M_BOOL;
        case SB_JVAL_OBJECT:
            return M_OBJECT;
        case SB_JVAL_ARRAY:
            return M_ARRAY;
        case SB_JVAL_STRING:
            return M_STRING;
        case SB_JVAL_NUMBER:
            t = sb_jval_text (v, &len);
            if (s_is_integer_text (t, len)) return M_INTEGER;
            double d = s_lexeme_value (t, len);
            return (isfinite (d) && floor (d) == d) ? (M_INTEGER | M_NUMBER) : M_NUMBER;
    }
    return M_ALL;
}

//  JSON equality of a value and a schema constant (numbers by value).
static int
s_equal (const sb_jval_t *v, const json_t *j, int depth)
{
    if (depth > 32) return 0;
    size_t len;
    const char *t;
    switch (sb_jval_type (v)) {
        case SB_JVAL_NULL:
            return json_is_null (j);
        case SB_JVAL_BOOL:
            return json_is_boolean (j) && json_is_true (j) == sb_jval_bool (v);
        case SB_JVAL_STRING:
            t = sb_jval_text (v, &len);
            return json_is_string (j) && json_string_length (j) == len &&
                   memcmp (json_string_value (j), t, len) == 0;
        case SB_JVAL_NUMBER:
            t = sb_jval_text (v, &len);
            return json_is_number (j) && s_lexeme_value (t, len) == json_number_value (j);
        case SB_JVAL_ARRAY:
            if (!json_is_array (j) || json_array_size (j) != sb_jval_size (v)) return 0;
            for (size_t i = 0; i < sb_jval_size (v); i++)
                if (!s_equal (sb_jval_at (v, i), json_array_get (j, i), depth + 1)) return 0;
            return 1;
        case SB_JVAL_OBJECT:
            if (!json_is_object (j) || json_object_size (j) != sb_jval_size (v)) return 0;
            for (size_t i = 0; i < sb_jval_size (v); i++) {
                size_t kl;
                const char *k = sb_jval_key_at (v, i, &kl);
                const json_t *m = json_object_getn (j, k, kl);
                if (!m || !s_equal (sb_jval_at (v, i), m, depth + 1)) return 0;
            }
            return 1;
    }
    return 0;
}

//  ---------------------------------------------------------------------------
//  Which alternatives a value can match

//  0 when `s` certainly rejects v (its type, or a const/enum property v contradicts).
static int
s_compatible (s_ctx_t *ctx, const json_t *s, const sb_jval_t *v, int depth)
{
    if (depth > S_MAX_SCHEMA_DEPTH || !json_is_object (s) || s_spent (ctx))
        return !json_is_false (s);
    if (!(s_mask (ctx, s, 0) & s_value_bits (v))) return 0;
    const json_t *t = s_ref_target (ctx, s);
    if (t && !s_compatible (ctx, t, v, depth + 1)) return 0;
    if (t && ctx->draft7) return 1;
    const json_t *props = json_object_get (s, "properties");
    if (sb_jval_type (v) == SB_JVAL_OBJECT && json_is_object (props)) {
        for (size_t i = 0; i < sb_jval_size (v); i++) {
            size_t kl;
            const char *k = sb_jval_key_at (v, i, &kl);
            const json_t *ps = json_object_getn (props, k, kl);
            if (!json_is_object (ps)) continue;
            const json_t *cn = json_object_get (ps, "const");
            if (cn && !s_equal (sb_jval_at (v, i), cn, 0)) return 0;
            const json_t *en = json_object_get (ps, "enum");
            if (json_is_array (en)) {
                int any = 0;
                for (size_t e = 0; e < json_array_size (en) && !any; e++)
                    any = s_equal (sb_jval_at (v, i), json_array_get (en, e), 0);
                if (!any) return 0;
            }
        }
    }
    const json_t *all = json_object_get (s, "allOf");
    for (size_t i = 0; json_is_array (all) && i < json_array_size (all); i++)
        if (!s_compatible (ctx, json_array_get (all, i), v, depth + 1)) return 0;
    return 1;
}

static int
s_f_compatible (s_ctx_t *ctx, const s_f_t *f, const sb_jval_t *v)
{
    if (!f) return 1;
    if (f->op == F_SCHEMA) return s_compatible (ctx, f->schema, v, 0);
    for (size_t i = 0; i < f->n; i++) {
        int ok = s_f_compatible (ctx, f->kids[i], v);
        if (f->op == F_AND && !ok) return 0;
        if (f->op == F_OR && ok) return 1;
    }
    return f->op == F_AND;
}

static unsigned
s_f_mask (s_ctx_t *ctx, const s_f_t *f)
{
    if (!f) return M_ALL;
    if (f->op == F_SCHEMA) return s_mask (ctx, f->schema, 0);
    unsigned m = f->op == F_AND ? M_ALL : 0;
    for (size_t i = 0; i < f->n; i++) {
        unsigned k = s_f_mask (ctx, f->kids[i]);
        m = f->op == F_AND ? (m & k) : (m | k);
    }
    return m;
}

//  ---------------------------------------------------------------------------
//  Formulas of members and elements

static int
s_pattern_matches (s_ctx_t *ctx, const char *pattern, const char *key, size_t key_len)
{
    s_regex_t *r = NULL;
    for (size_t i = 0; i < ctx->nregex; i++)
        if (ctx->regex[i].pattern == pattern) r = &ctx->regex[i];
    if (!r) {
        if (ctx->nregex == S_MAX_REGEX) return -1;
        r = &ctx->regex[ctx->nregex++];
        r->pattern = pattern;
        int errcode;
        PCRE2_SIZE erroff;
        r->code = pcre2_compile ((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &errcode,
                                 &erroff, NULL);
    }
    if (!r->code) return -1;
    if (!ctx->match) {
        ctx->match = pcre2_match_data_create (4, NULL);
        if (!ctx->match) return -1;
    }
    int rc = pcre2_match (r->code, (PCRE2_SPTR)key, key_len, 0, 0, ctx->match, NULL);
    if (rc >= 0) return 1;
    return rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
}

typedef enum { CHILD_PROP, CHILD_ITEM } s_child_kind_t;

typedef struct {
    s_child_kind_t kind;
    const char *key; // CHILD_PROP
    size_t key_len;
    size_t index;            // CHILD_ITEM
    const sb_jval_t *parent; // the object or array value, to set aside alternatives
} s_child_t;

static s_f_t *s_schema_child (s_ctx_t *ctx, const json_t *s, const s_child_t *c, int depth);

static void
s_add_alternatives (s_ctx_t *ctx, s_list_t *and_list, const json_t *alts, const s_child_t *c,
                    int depth)
{
    if (!json_is_array (alts) || json_array_size (alts) == 0) return;
    //  Alternatives the parent value cannot match are set aside, unless none is left.
    size_t n = json_array_size (alts), usable = 0;
    for (size_t i = 0; i < n; i++)
        usable += (size_t)s_compatible (ctx, json_array_get (alts, i), c->parent, 0);
    s_list_t or_list;
    s_list_init (&or_list);
    for (size_t i = 0; i < n; i++) {
        const json_t *alt = json_array_get (alts, i);
        if (usable && !s_compatible (ctx, alt, c->parent, 0)) continue;
        s_f_t *k = s_schema_child (ctx, alt, c, depth + 1);
        if (!k) {
            or_list.unconstrained = 1;
            break;
        }
        s_list_add (ctx, &or_list, k);
    }
    if (!or_list.unconstrained) s_list_add (ctx, and_list, s_list_close (ctx, &or_list, F_OR));
}

static void
s_add_schema (s_ctx_t *ctx, s_list_t *l, const json_t *s)
{
    if (json_is_object (s) || json_is_false (s)) s_list_add (ctx, l, s_f_schema (ctx, s));
}

//  The formula of member `key` / element `index` under schema s.
static s_f_t *
s_schema_child (s_ctx_t *ctx, const json_t *s, const s_child_t *c, int depth)
{
    if (depth > S_MAX_SCHEMA_DEPTH || !json_is_object (s) || ctx->oom || s_spent (ctx)) return NULL;
    s_list_t l;
    s_list_init (&l);
    const json_t *t = s_ref_target (ctx, s);
    if (t) {
        s_list_add (ctx, &l, s_schema_child (ctx, t, c, depth + 1));
        if (ctx->draft7) return s_list_close (ctx, &l, F_AND);
    }
    if (c->kind == CHILD_PROP) {
        int matched = 0;
        const json_t *props = json_object_get (s, "properties");
        const json_t *ps =
            json_is_object (props) ? json_object_getn (props, c->key, c->key_len) : NULL;
        if (ps) {
            matched = 1;
            s_add_schema (ctx, &l, ps);
        }
        const json_t *pp = json_object_get (s, "patternProperties");
        if (json_is_object (pp)) {
            const char *pat;
            const json_t *sub;
            json_object_foreach ((json_t *)pp, pat, sub)
            {
                int m = s_pattern_matches (ctx, pat, c->key, c->key_len);
                if (m != 0) matched = 1; // -1 (cannot tell): no constraint, and not additional
                if (m == 1) s_add_schema (ctx, &l, sub);
            }
        }
        if (!matched) s_add_schema (ctx, &l, json_object_get (s, "additionalProperties"));
    } else {
        const json_t *prefix = json_object_get (s, "prefixItems");
        const json_t *items = json_object_get (s, "items");
        if (json_is_array (prefix) && c->index < json_array_size (prefix))
            s_add_schema (ctx, &l, json_array_get (prefix, c->index));
        else if (json_is_array (items)) {
            //  draft-07 tuple form
            if (c->index < json_array_size (items))
                s_add_schema (ctx, &l, json_array_get (items, c->index));
            else
                s_add_schema (ctx, &l, json_object_get (s, "additionalItems"));
        } else
            s_add_schema (ctx, &l, items);
    }
    const json_t *all = json_object_get (s, "allOf");
    for (size_t i = 0; json_is_array (all) && i < json_array_size (all); i++)
        s_list_add (ctx, &l, s_schema_child (ctx, json_array_get (all, i), c, depth + 1));
    s_add_alternatives (ctx, &l, json_object_get (s, "anyOf"), c, depth);
    s_add_alternatives (ctx, &l, json_object_get (s, "oneOf"), c, depth);
    return s_list_close (ctx, &l, F_AND);
}

static s_f_t *
s_child (s_ctx_t *ctx, const s_f_t *f, const s_child_t *c)
{
    if (!f || ctx->oom) return NULL;
    if (f->op == F_SCHEMA) return s_schema_child (ctx, f->schema, c, 0);
    s_list_t l;
    s_list_init (&l);
    size_t usable = 0;
    if (f->op == F_OR)
        for (size_t i = 0; i < f->n; i++)
            usable += (size_t)s_f_compatible (ctx, f->kids[i], c->parent);
    for (size_t i = 0; i < f->n; i++) {
        if (f->op == F_OR && usable && !s_f_compatible (ctx, f->kids[i], c->parent)) continue;
        s_f_t *k = s_child (ctx, f->kids[i], c);
        if (!k && f->op == F_OR) return NULL; // one alternative leaves the child free
        s_list_add (ctx, &l, k);
    }
    return s_list_close (ctx, &l, f->op);
}

//  ---------------------------------------------------------------------------
//  The walk

static int
s_path_push_key (s_ctx_t *ctx, const char *key, size_t len, size_t *mark)
{
    *mark = ctx->path_len;
    size_t need = ctx->path_len + 2 * len + 2;
    if (need > ctx->path_cap) {
        size_t cap = ctx->path_cap ? ctx->path_cap : 256;
        while (cap < need)
            cap *= 2;
        char *p = realloc (ctx->path, cap);
        if (!p) return -1;
        ctx->path = p;
        ctx->path_cap = cap;
    }
    ctx->path[ctx->path_len++] = '/';
    for (size_t i = 0; i < len; i++) {
        if (key[i] == '~' || key[i] == '/') {
            ctx->path[ctx->path_len++] = '~';
            ctx->path[ctx->path_len++] = key[i] == '~' ? '0' : '1';
        } else
            ctx->path[ctx->path_len++] = key[i];
    }
    ctx->path[ctx->path_len] = 0;
    return 0;
}

static int
s_path_push_index (s_ctx_t *ctx, size_t index, size_t *mark)
{
    char num[24];
    int n = snprintf (num, sizeof num, "%zu", index);
    return s_path_push_key (ctx, num, (size_t)n, mark);
}

static void
s_path_pop (s_ctx_t *ctx, size_t mark)
{
    ctx->path_len = mark;
    ctx->path[mark] = 0;
}

static void
s_report (s_ctx_t *ctx, sb_fix_kind_t kind)
{
    ctx->count++;
    if (ctx->on_fix) ctx->on_fix (ctx->arg, kind, ctx->path_len ? ctx->path : "");
}

//  Fixes met inside a string holding JSON are reported only if it is used.
typedef struct {
    sb_fix_kind_t kind[32];
    char *path[32];
    size_t n;
    int overflow;
} s_nested_t;

static void
s_nested_fix (void *arg, sb_fix_kind_t kind, const char *path)
{
    s_nested_t *n = arg;
    if (n->n == 32) {
        n->overflow = 1;
        return;
    }
    n->path[n->n] = strdup (path);
    n->kind[n->n++] = kind;
}

static void
s_nested_free (s_nested_t *n)
{
    for (size_t i = 0; i < n->n; i++)
        free (n->path[i]);
}

static sb_jval_t *
s_parse_embedded (s_ctx_t *ctx, const sb_jval_t *v, unsigned mask)
{
    size_t len;
    const char *t = sb_jval_text (v, &len);
    s_nested_t nested = {.n = 0};
    char err[128];
    sb_jval_t *r = sb_jrepair_parse (ctx->doc, t, len, 0, ctx->path_len ? ctx->path : "",
                                     s_nested_fix, &nested, err, sizeof err);
    if (r && (s_value_bits (r) & mask) && !nested.overflow) {
        s_report (ctx, SB_FIX_PARSED_STRING);
        for (size_t i = 0; i < nested.n; i++) {
            ctx->count++;
            if (ctx->on_fix) ctx->on_fix (ctx->arg, nested.kind[i], nested.path[i]);
        }
    } else
        r = NULL;
    s_nested_free (&nested);
    return r;
}

static sb_jval_t *
s_wrap (s_ctx_t *ctx, sb_jval_t *v)
{
    sb_jval_t *a = sb_jval_new_array (ctx->doc);
    if (!a || sb_jval_array_append (ctx->doc, a, v)) {
        ctx->oom = 1;
        return NULL;
    }
    s_report (ctx, SB_FIX_WRAPPED_IN_ARRAY);
    return a;
}

//  The value v becomes where the mask rejects it, or NULL to leave it.
static sb_jval_t *
s_coerce (s_ctx_t *ctx, sb_jval_t *v, unsigned m)
{
    size_t len;
    const char *t;
    sb_jval_t *r = NULL;
    switch (sb_jval_type (v)) {
        case SB_JVAL_STRING: {
            t = sb_jval_text (v, &len);
            size_t i = 0;
            while (i < len && strchr (" \t\r\n", t[i]))
                i++;
            if (i < len && (t[i] == '{' || t[i] == '[')) {
                //  Looks like JSON: parse it where the schema wants a container, and
                //  never wrap it as text.
                if (m & (M_OBJECT | M_ARRAY)) return s_parse_embedded (ctx, v, m);
                return NULL;
            }
            if ((m & M_INTEGER) && s_is_integer_text (t, len))
                r = sb_jval_new_number (ctx->doc, t, len);
            else if ((m & M_NUMBER) && s_is_number_text (t, len))
                r = sb_jval_new_number (ctx->doc, t, len);
            else if ((m & M_BOOL) && len == 4 && memcmp (t, "true", 4) == 0)
                r = sb_jval_new_bool (ctx->doc, 1);
            else if ((m & M_BOOL) && len == 5 && memcmp (t, "false", 5) == 0)
                r = sb_jval_new_bool (ctx->doc, 0);
            else if ((m & M_NULL) && len == 4 && memcmp (t, "null", 4) == 0)
                r = sb_jval_new_null (ctx->doc);
            else if (m & M_ARRAY)
                return s_wrap (ctx, v);
            else
                return NULL;
            if (!r) {
                ctx->oom = 1;
                return NULL;
            }
            sb_jval_type_t ty = sb_jval_type (r);
            s_report (ctx, ty == SB_JVAL_NUMBER ? SB_FIX_STRING_TO_NUMBER
                           : ty == SB_JVAL_BOOL ? SB_FIX_STRING_TO_BOOLEAN
                                                : SB_FIX_STRING_TO_NULL);
            return r;
        }
        case SB_JVAL_NUMBER:
            t = sb_jval_text (v, &len);
            if ((m & M_STRING) && s_is_integer_text (t, len)) {
                r = sb_jval_new_string (ctx->doc, t, len);
                if (!r) {
                    ctx->oom = 1;
                    return NULL;
                }
                s_report (ctx, SB_FIX_NUMBER_TO_STRING);
                return r;
            }
            return (m & M_ARRAY) ? s_wrap (ctx, v) : NULL;
        case SB_JVAL_BOOL:
        case SB_JVAL_OBJECT:
            return (m & M_ARRAY) ? s_wrap (ctx, v) : NULL;
        default:
            return NULL; // null is no single value; an array is never unwrapped
    }
}

static void
s_walk (s_ctx_t *ctx, const s_f_t *f, sb_jval_t *parent, size_t index, int depth)
{
    if (!f || ctx->oom || depth > 4 * SB_JREPAIR_MAX_DEPTH) return;
    sb_jval_t *v = sb_jval_at (parent, index);
    unsigned m = s_f_mask (ctx, f);
    if (m && !(s_value_bits (v) & m)) {
        sb_jval_t *r = s_coerce (ctx, v, m);
        if (r) {
            sb_jval_set_at (parent, index, r);
            v = r;
        }
    }
    sb_jval_type_t ty = sb_jval_type (v);
    if (ty != SB_JVAL_OBJECT && ty != SB_JVAL_ARRAY) return;
    for (size_t i = 0; i < sb_jval_size (v) && !ctx->oom; i++) {
        s_child_t c = {ty == SB_JVAL_OBJECT ? CHILD_PROP : CHILD_ITEM, NULL, 0, i, v};
        size_t mark;
        int rc;
        if (ty == SB_JVAL_OBJECT) {
            c.key = sb_jval_key_at (v, i, &c.key_len);
            rc = s_path_push_key (ctx, c.key, c.key_len, &mark);
        } else
            rc = s_path_push_index (ctx, i, &mark);
        if (rc) {
            ctx->oom = 1;
            return;
        }
        s_walk (ctx, s_child (ctx, f, &c), v, i, depth + 1);
        s_path_pop (ctx, mark);
    }
}

int
sb_coerce_apply (sb_jdoc_t *doc, sb_jval_t *root, const json_t *schema, sb_jfix_fn *on_fix,
                 void *arg)
{
    assert (doc && root && schema);
    if (sb_jval_type (root) != SB_JVAL_OBJECT) return 0;
    s_ctx_t ctx;
    memset (&ctx, 0, sizeof ctx);
    ctx.doc = doc;
    ctx.root = schema;
    ctx.on_fix = on_fix;
    ctx.arg = arg;
    const json_t *dialect = json_object_get (schema, "$schema");
    if (json_is_string (dialect)) {
        const char *d = json_string_value (dialect);
        ctx.draft7 = strstr (d, "draft-07") || strstr (d, "draft-06") || strstr (d, "draft-04");
    }
    //  The root sits in a one-element holder so that the walk treats it like any
    //  member; it is an object and the schema wants one, so it is never replaced.
    s_f_t *f = s_f_schema (&ctx, schema);
    for (size_t i = 0; f && i < sb_jval_size (root) && !ctx.oom; i++) {
        s_child_t c = {CHILD_PROP, NULL, 0, 0, root};
        c.key = sb_jval_key_at (root, i, &c.key_len);
        size_t mark;
        if (s_path_push_key (&ctx, c.key, c.key_len, &mark)) {
            ctx.oom = 1;
            break;
        }
        s_walk (&ctx, s_child (&ctx, f, &c), root, i, 1);
        s_path_pop (&ctx, mark);
    }
    while (ctx.chunks) {
        s_chunk_t *next = ctx.chunks->next;
        free (ctx.chunks);
        ctx.chunks = next;
    }
    for (size_t i = 0; i < ctx.nregex; i++)
        pcre2_code_free (ctx.regex[i].code);
    pcre2_match_data_free (ctx.match);
    free (ctx.path);
    return ctx.oom ? -1 : ctx.count;
}
