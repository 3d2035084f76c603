/*  sb_schema_validate — evaluates compiled schema nodes against an instance.
    One pass over instance and nodes: no schema parsing, no allocation on the
    common path (annotation marks for unevaluated* live on the stack up to 128
    items or properties; the regex match block is kept in the schema between
    validations).
    Annotations (which properties / items were evaluated) are collected only
    below a node that has unevaluatedProperties / unevaluatedItems.  */

#include "sb_schema_node.h"
#include "sb_schema_value.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  A place in the instance: an object member or an array index.
typedef struct {
    const char *key; // NULL for an array index
    size_t len;      // key length, or the index
} s_segment_t;

//  Which items / properties of one instance (by index; object members in
//  jansson's iteration order, which is stable) some keyword has evaluated.
typedef struct {
    uint64_t *bits;
    uint64_t small[2]; // enough for 128 members without allocating
} s_marks_t;

typedef struct {
    sb_schema_error_fn *on_error;
    void *arg;
    int quiet; // > 0 inside anyOf/oneOf branches, not, if, contains: failures there are not errors
    int depth; // nested evaluations now
    size_t steps; // evaluations so far
    size_t path_len;
    size_t scope_len;
    sb_schema_t *schema;
    sb_regex_scratch_t *scratch; // taken or created on the first regex match
    json_t *name;                // reused string instance for propertyNames
    s_segment_t path[SB_SCHEMA_MAX_DEPTH + 2];
    const sb_schema_resource_t *scope[SB_SCHEMA_MAX_DEPTH + 2]; // the dynamic scope
} s_ctx_t;

//  Stop at the first failure when nobody reads the errors.
#define S_FAST(ctx) ((ctx)->quiet || !(ctx)->on_error)

static int s_eval (s_ctx_t *ctx, const sb_schema_node_t *node, const json_t *instance,
                   s_marks_t *marks, const char *keyword);

//  -------------------------------------------------------------------------
//  Marks

static int
s_marks_init (s_marks_t *marks, size_t n)
{
    size_t words = (n + 63) / 64;
    marks->small[0] = marks->small[1] = 0;
    if (words <= 2) {
        marks->bits = marks->small;
        return 0;
    }
    marks->bits = calloc (words, sizeof *marks->bits);
    return marks->bits ? 0 : -1;
}

static void
s_marks_free (s_marks_t *marks)
{
    if (marks->bits != marks->small) free (marks->bits);
}

static void
s_mark (s_marks_t *marks, size_t i)
{
    if (marks) marks->bits[i / 64] |= 1ULL << (i % 64);
}

static int
s_marked (const s_marks_t *marks, size_t i)
{
    return (marks->bits[i / 64] >> (i % 64)) & 1;
}

static void
s_marks_merge (s_marks_t *into, const s_marks_t *from, size_t n)
{
    for (size_t w = 0; w < (n + 63) / 64; w++)
        into->bits[w] |= from->bits[w];
}

static void
s_marks_fill (s_marks_t *marks, size_t n)
{
    for (size_t i = 0; i < n; i++)
        s_mark (marks, i);
}

static size_t
s_size (const json_t *instance)
{
    return json_is_object (instance) ? json_object_size (instance) : json_array_size (instance);
}

//  -------------------------------------------------------------------------
//  Errors

static void
s_push_key (s_ctx_t *ctx, const char *key, size_t len)
{
    assert (ctx->path_len < SB_SCHEMA_MAX_DEPTH + 2);
    ctx->path[ctx->path_len++] = (s_segment_t){key, len};
}

static void
s_push_index (s_ctx_t *ctx, size_t index)
{
    assert (ctx->path_len < SB_SCHEMA_MAX_DEPTH + 2);
    ctx->path[ctx->path_len++] = (s_segment_t){NULL, index};
}

static void
s_pop (s_ctx_t *ctx)
{
    ctx->path_len--;
}

//  The JSON Pointer of the current instance location (RFC 6901 escaping), or
//  NULL when memory runs out. Caller frees.
static char *
s_pointer (const s_ctx_t *ctx)
{
    size_t size = 1;
    for (size_t i = 0; i < ctx->path_len; i++) {
        const s_segment_t *seg = &ctx->path[i];
        size += 1 + (seg->key ? seg->len * 2 : 20);
    }
    char *out = malloc (size);
    if (!out) return NULL;
    size_t n = 0;
    for (size_t i = 0; i < ctx->path_len; i++) {
        const s_segment_t *seg = &ctx->path[i];
        out[n++] = '/';
        if (!seg->key) {
            n += (size_t)snprintf (out + n, size - n, "%zu", seg->len);
            continue;
        }
        for (size_t k = 0; k < seg->len; k++) {
            char ch = seg->key[k];
            if (ch == '~' || ch == '/') {
                out[n++] = '~';
                out[n++] = ch == '~' ? '0' : '1';
            } else
                out[n++] = ch;
        }
    }
    out[n] = 0;
    return out;
}

static void
s_report (s_ctx_t *ctx, const char *keyword, const char *format, ...)
{
    if (S_FAST (ctx)) return;
    char message[256];
    va_list args;
    va_start (args, format);
    vsnprintf (message, sizeof message, format, args);
    va_end (args);
    char *pointer = s_pointer (ctx);
    ctx->on_error (ctx->arg, pointer ? pointer : "", keyword, message);
    free (pointer);
}

//  A short printable form of a number for messages.
static const char *
s_number_text (const json_t *number, char *buf, size_t size)
{
    if (json_is_integer (number))
        snprintf (buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value (number));
    else
        snprintf (buf, size, "%.17g", json_real_value (number));
    return buf;
}

static const char *
s_type_name (const json_t *instance)
{
    switch (json_typeof (instance)) {
        case JSON_OBJECT:
            return "object";
        case JSON_ARRAY:
            return "array";
        case JSON_STRING:
            return "string";
        case JSON_INTEGER:
            return "integer";
        case JSON_REAL:
            return "number";
        case JSON_TRUE:
        case JSON_FALSE:
            return "boolean";
        default:
            return "null";
    }
}

static void
s_type_list (unsigned types, char *buf, size_t size)
{
    static const char *names[] = {"null",   "boolean", "object", "array",
                                  "number", "string",  "integer"};
    size_t n = 0;
    buf[0] = 0;
    for (unsigned bit = 0; bit < 7; bit++)
        if (types & (1u << bit) && n < size)
            n += (size_t)snprintf (buf + n, size - n, "%s%s", n ? " or " : "", names[bit]);
}

//  -------------------------------------------------------------------------
//  Keywords

static unsigned
s_instance_types (const json_t *instance)
{
    switch (json_typeof (instance)) {
        case JSON_OBJECT:
            return SB_TYPE_OBJECT;
        case JSON_ARRAY:
            return SB_TYPE_ARRAY;
        case JSON_STRING:
            return SB_TYPE_STRING;
        case JSON_INTEGER:
            return SB_TYPE_NUMBER | SB_TYPE_INTEGER;
        case JSON_REAL:
            return SB_TYPE_NUMBER | (sb_schema_value_is_integer (instance) ? SB_TYPE_INTEGER : 0);
        case JSON_TRUE:
        case JSON_FALSE:
            return SB_TYPE_BOOLEAN;
        default:
            return SB_TYPE_NULL;
    }
}

static int
s_eval_number (s_ctx_t *ctx, const sb_schema_node_t *node, const json_t *instance)
{
    int ok = 1;
    char a[40], b[40];
    if (node->multiple_of && !sb_schema_value_multiple_of (instance, node->multiple_of)) {
        s_report (ctx, "multipleOf", "%s is not a multiple of %s",
                  s_number_text (instance, a, sizeof a),
                  s_number_text (node->multiple_of, b, sizeof b));
        ok = 0;
    }
    if (node->maximum && sb_schema_value_compare (instance, node->maximum) > 0) {
        s_report (ctx, "maximum", "%s is greater than the maximum %s",
                  s_number_text (instance, a, sizeof a),
                  s_number_text (node->maximum, b, sizeof b));
        ok = 0;
    }
    if (node->exclusive_maximum &&
        sb_schema_value_compare (instance, node->exclusive_maximum) >= 0) {
        s_report (ctx, "exclusiveMaximum", "%s is not less than %s",
                  s_number_text (instance, a, sizeof a),
                  s_number_text (node->exclusive_maximum, b, sizeof b));
        ok = 0;
    }
    if (node->minimum && sb_schema_value_compare (instance, node->minimum) < 0) {
        s_report (ctx, "minimum", "%s is less than the minimum %s",
                  s_number_text (instance, a, sizeof a),
                  s_number_text (node->minimum, b, sizeof b));
        ok = 0;
    }
    if (node->exclusive_minimum &&
        sb_schema_value_compare (instance, node->exclusive_minimum) <= 0) {
        s_report (ctx, "exclusiveMinimum", "%s is not greater than %s",
                  s_number_text (instance, a, sizeof a),
                  s_number_text (node->exclusive_minimum, b, sizeof b));
        ok = 0;
    }
    return ok;
}

//  1 / 0, or -1 when the match failed (match limit).
static int
s_search (s_ctx_t *ctx, const sb_regex_t *regex, const char *text, size_t len)
{
    if (!ctx->scratch) {
        ctx->scratch = atomic_exchange (&ctx->schema->spare_scratch, NULL);
        if (!ctx->scratch && !(ctx->scratch = sb_regex_scratch_new ())) return -1;
    }
    return sb_regex_search (regex, text, len, ctx->scratch);
}

static int
s_eval_string (s_ctx_t *ctx, const sb_schema_node_t *node, const json_t *instance)
{
    int ok = 1;
    const char *text = json_string_value (instance);
    size_t len = json_string_length (instance);
    if (node->max_length != SIZE_MAX || node->min_length) {
        size_t count = sb_schema_value_utf8_length (text, len);
        if (count > node->max_length) {
            s_report (ctx, "maxLength", "string of %zu characters is longer than %zu", count,
                      node->max_length);
            ok = 0;
        }
        if (count < node->min_length) {
            s_report (ctx, "minLength", "string of %zu characters is shorter than %zu", count,
                      node->min_length);
            ok = 0;
        }
    }
    if (node->pattern.regex) {
        int rc = s_search (ctx, node->pattern.regex, text, len);
        if (rc < 0) return -1;
        if (!rc) {
            s_report (ctx, "pattern", "string does not match the pattern \"%.100s\"",
                      node->pattern.source);
            ok = 0;
        }
    }
    return ok;
}

//  Evaluates `sub` on element `index` of the current array instance.
static int
s_eval_item (s_ctx_t *ctx, const sb_schema_node_t *sub, const json_t *item, size_t index,
             const char *keyword)
{
    if (sub->kind == SB_NODE_TRUE) return 1;
    s_push_index (ctx, index);
    int rc = s_eval (ctx, sub, item, NULL, keyword);
    s_pop (ctx);
    return rc;
}

static int
s_eval_member (s_ctx_t *ctx, const sb_schema_node_t *sub, const json_t *value, const char *key,
               size_t len, const char *keyword)
{
    if (sub->kind == SB_NODE_TRUE) return 1;
    s_push_key (ctx, key, len);
    int rc = s_eval (ctx, sub, value, NULL, keyword);
    s_pop (ctx);
    return rc;
}

//  Folds a sub-result into `ok`; returns from the caller on an internal error,
//  or on a failure when errors are not collected.
#define S_CHECK(expr)                                                                              \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ < 0) return -1;                                                                    \
        if (rc_ == 0) {                                                                            \
            ok = 0;                                                                                \
            if (S_FAST (ctx)) return 0;                                                            \
        }                                                                                          \
    } while (0)

static int
s_eval_contains (s_ctx_t *ctx, const sb_schema_node_t *node, const json_t *instance,
                 s_marks_t *marks)
{
    size_t n = json_array_size (instance), matches = 0;
    ctx->quiet++;
    for (size_t i = 0; i < n; i++) {
        int rc = s_eval_item (ctx, node->contains, json_array_get (instance, i), i, "contains");
        if (rc < 0) {
            ctx->quiet--;
            return -1;
        }
        if (rc) {
            matches++;
            s_mark (marks, i);
            //  Without marks to collect or a maximum to check, enough is enough.
            if (!marks && node->max_contains == SIZE_MAX && matches >= node->min_contains) break;
        }
    }
    ctx->quiet--;
    if (matches < node->min_contains) {
        if (node->min_contains == 1)
            s_report (ctx, "contains", "no item matches the \"contains\" schema");
        else
            s_report (ctx, "minContains", "%zu items match \"contains\", fewer than %zu", matches,
                      node->min_contains);
        return 0;
    }
    if (matches > node->max_contains) {
        s_report (ctx, "maxContains", "%zu items match \"contains\", more than %zu", matches,
                  node->max_contains);
        return 0;
    }
    return 1;
}

static int
s_eval_array (s_ctx_t *ctx, const sb_schema_node_t *node, const json_t *instance, s_marks_t *marks)
{
    int ok = 1;
    size_t n = json_array_size (instance);
    if (n > node->max_items) {
        s_report (ctx, "maxItems", "array of %zu items is longer than %zu", n, node->max_items);
        S_CHECK (0);
    }
    if (n < node->min_items) {
        s_report (ctx, "minItems", "array of %zu items is shorter than %zu", n, node->min_items);
        S_CHECK (0);
    }
    if (node->unique_items) {
        size_t first, second;
        int rc = sb_schema_value_unique (instance, &first, &second);
        if (rc < 0) return -1;
        if (rc == 0) s_report (ctx, "uniqueItems", "items %zu and %zu are equal", first, second);
        S_CHECK (rc);
    }
    size_t prefix = node->prefix_items.count < n ? node->prefix_items.count : n;
    for (size_t i = 0; i < prefix; i++) {
        S_CHECK (s_eval_item (ctx, node->prefix_items.items[i], json_array_get (instance, i), i,
                              node->legacy_items ? "items" : "prefixItems"));
        s_mark (marks, i);
    }
    if (node->items) {
        const char *keyword = node->legacy_items ? "additionalItems" : "items";
        for (size_t i = prefix; i < n; i++) {
            S_CHECK (s_eval_item (ctx, node->items, json_array_get (instance, i), i, keyword));
            s_mark (marks, i);
        }
    }
    if (node->contains) S_CHECK (s_eval_contains (ctx, node, instance, marks));
    return ok;
}

static const sb_schema_named_t *
s_find_named (const sb_schema_named_t *named, size_t count, const char *key, size_t len)
{
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const sb_schema_named_t *at = &named[mid];
        int order = at->len != len ? (at->len < len ? -1 : 1) : memcmp (at->name, key, len);
        if (order == 0) return at;
        if (order < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static int
s_eval_property_name (s_ctx_t *ctx, const sb_schema_node_t *node, const char *key, size_t len)
{
    if (!ctx->name)
        ctx->name = json_stringn_nocheck (key, len);
    else if (json_string_setn_nocheck (ctx->name, key, len) != 0)
        return -1;
    if (!ctx->name) return -1;
    ctx->quiet++;
    int rc = s_eval (ctx, node->property_names, ctx->name, NULL, "propertyNames");
    ctx->quiet--;
    if (rc == 0) {
        s_push_key (ctx, key, len);
        s_report (ctx, "propertyNames", "property name \"%.*s\" is not allowed",
                  (int)(len > 64 ? 64 : len), key);
        s_pop (ctx);
    }
    return rc;
}

static int
s_eval_object (s_ctx_t *ctx, const sb_schema_node_t *node, const json_t *instance, s_marks_t *marks)
{
    int ok = 1;
    size_t n = json_object_size (instance);
    if (n > node->max_properties) {
        s_report (ctx, "maxProperties", "object with %zu properties has more than %zu", n,
                  node->max_properties);
        S_CHECK (0);
    }
    if (n < node->min_properties) {
        s_report (ctx, "minProperties", "object with %zu properties has fewer than %zu", n,
                  node->min_properties);
        S_CHECK (0);
    }
    for (size_t i = 0; i < node->required_count; i++) {
        const sb_schema_name_t *name = &node->required[i];
        if (!json_object_getn (instance, name->name, name->len)) {
            s_report (ctx, "required", "missing required property \"%.*s\"",
                      (int)(name->len > 64 ? 64 : name->len), name->name);
            S_CHECK (0);
        }
    }
    for (size_t i = 0; i < node->dependent_required_count; i++) {
        const sb_schema_dependency_t *dep = &node->dependent_required[i];
        if (!json_object_getn (instance, dep->name, dep->len)) continue;
        for (size_t k = 0; k < dep->count; k++)
            if (!json_object_getn (instance, dep->names[k].name, dep->names[k].len)) {
                s_report (ctx, "dependentRequired",
                          "property \"%.*s\" is required when \"%.*s\" is present",
                          (int)(dep->names[k].len > 64 ? 64 : dep->names[k].len),
                          dep->names[k].name, (int)(dep->len > 64 ? 64 : dep->len), dep->name);
                S_CHECK (0);
            }
    }
    if (node->properties_count || node->pattern_properties_count || node->additional_properties ||
        node->property_names) {
        json_t *object = (json_t *)instance; // jansson iterators take non-const
        size_t index = 0;
        for (void *it = json_object_iter (object); it;
             it = json_object_iter_next (object, it), index++) {
            const char *key = json_object_iter_key (it);
            size_t len = json_object_iter_key_len (it);
            const json_t *value = json_object_iter_value (it);
            if (node->property_names) S_CHECK (s_eval_property_name (ctx, node, key, len));
            int matched = 0;
            const sb_schema_named_t *prop =
                s_find_named (node->properties, node->properties_count, key, len);
            if (prop) {
                matched = 1;
                S_CHECK (s_eval_member (ctx, prop->node, value, key, len, "properties"));
            }
            for (size_t p = 0; p < node->pattern_properties_count; p++) {
                const sb_schema_pattern_t *pp = &node->pattern_properties[p];
                int rc = s_search (ctx, pp->regex, key, len);
                if (rc < 0) return -1;
                if (rc) {
                    matched = 1;
                    S_CHECK (s_eval_member (ctx, pp->node, value, key, len, "patternProperties"));
                }
            }
            if (!matched && node->additional_properties) {
                matched = 1;
                S_CHECK (s_eval_member (ctx, node->additional_properties, value, key, len,
                                        "additionalProperties"));
            }
            if (matched) s_mark (marks, index);
        }
    }
    for (size_t i = 0; i < node->dependent_schemas_count; i++) {
        const sb_schema_named_t *dep = &node->dependent_schemas[i];
        if (json_object_getn (instance, dep->name, dep->len))
            S_CHECK (s_eval (ctx, dep->node, instance, marks, "dependentSchemas"));
    }
    return ok;
}

//  Evaluates a branch whose failure is not itself an error (anyOf, oneOf, if):
//  quietly, into fresh marks that are merged into `marks` only when it passes.
static int
s_eval_branch (s_ctx_t *ctx, const sb_schema_node_t *sub, const json_t *instance, s_marks_t *marks,
               const char *keyword)
{
    ctx->quiet++;
    int rc;
    if (marks) {
        s_marks_t local;
        size_t n = s_size (instance);
        if (s_marks_init (&local, n) != 0) {
            ctx->quiet--;
            return -1;
        }
        rc = s_eval (ctx, sub, instance, &local, keyword);
        if (rc == 1) s_marks_merge (marks, &local, n);
        s_marks_free (&local);
    } else
        rc = s_eval (ctx, sub, instance, NULL, keyword);
    ctx->quiet--;
    return rc;
}

static int
s_eval_inplace (s_ctx_t *ctx, const sb_schema_node_t *node, const json_t *instance,
                s_marks_t *marks)
{
    int ok = 1;
    for (size_t i = 0; i < node->all_of.count; i++)
        S_CHECK (s_eval (ctx, node->all_of.items[i], instance, marks, "allOf"));
    if (node->any_of.count) {
        int matched = 0;
        for (size_t i = 0; i < node->any_of.count; i++) {
            int rc = s_eval_branch (ctx, node->any_of.items[i], instance, marks, "anyOf");
            if (rc < 0) return -1;
            matched |= rc;
            //  With marks to collect every passing branch counts.
            if (matched && !marks) break;
        }
        if (!matched)
            s_report (ctx, "anyOf", "value matches none of the %zu anyOf schemas",
                      node->any_of.count);
        S_CHECK (matched);
    }
    if (node->one_of.count) {
        size_t passed = 0, first = 0, second = 0;
        for (size_t i = 0; i < node->one_of.count && passed < 2; i++) {
            //  Marks of a second passing branch do not matter: oneOf fails then.
            int rc = s_eval_branch (ctx, node->one_of.items[i], instance, passed ? NULL : marks,
                                    "oneOf");
            if (rc < 0) return -1;
            if (rc) {
                *(passed ? &second : &first) = i;
                passed++;
            }
        }
        if (passed == 0)
            s_report (ctx, "oneOf", "value matches none of the %zu oneOf schemas",
                      node->one_of.count);
        else if (passed > 1)
            s_report (ctx, "oneOf", "value matches oneOf schemas %zu and %zu, not exactly one",
                      first, second);
        S_CHECK (passed == 1);
    }
    if (node->not_schema) {
        ctx->quiet++;
        int rc = s_eval (ctx, node->not_schema, instance, NULL, "not");
        ctx->quiet--;
        if (rc < 0) return -1;
        if (rc) s_report (ctx, "not", "value matches the \"not\" schema");
        S_CHECK (!rc);
    }
    if (node->if_schema) {
        int rc = s_eval_branch (ctx, node->if_schema, instance, marks, "if");
        if (rc < 0) return -1;
        if (rc && node->then_schema)
            S_CHECK (s_eval (ctx, node->then_schema, instance, marks, "then"));
        if (!rc && node->else_schema)
            S_CHECK (s_eval (ctx, node->else_schema, instance, marks, "else"));
    }
    return ok;
}

//  The target of a $dynamicRef: the outermost resource in the dynamic scope that
//  has a $dynamicAnchor of that name, else the static target.
static const sb_schema_node_t *
s_dynamic_target (const s_ctx_t *ctx, const sb_schema_node_t *node)
{
    if (!node->dynamic_anchor) return node->dynamic_ref;
    for (size_t i = 0; i < ctx->scope_len; i++)
        for (const sb_schema_anchor_t *a = ctx->scope[i]->dynamic_anchors; a; a = a->next)
            if (strcmp (a->name, node->dynamic_anchor) == 0) return a->node;
    return node->dynamic_ref;
}

static int
s_eval_unevaluated (s_ctx_t *ctx, const sb_schema_node_t *node, const json_t *instance,
                    s_marks_t *marks)
{
    int ok = 1;
    if (json_is_object (instance)) {
        json_t *object = (json_t *)instance;
        size_t index = 0;
        for (void *it = json_object_iter (object); it;
             it = json_object_iter_next (object, it), index++)
            if (!s_marked (marks, index))
                S_CHECK (s_eval_member (ctx, node->unevaluated_properties,
                                        json_object_iter_value (it), json_object_iter_key (it),
                                        json_object_iter_key_len (it), "unevaluatedProperties"));
    } else {
        for (size_t i = 0; i < json_array_size (instance); i++)
            if (!s_marked (marks, i))
                S_CHECK (s_eval_item (ctx, node->unevaluated_items, json_array_get (instance, i), i,
                                      "unevaluatedItems"));
    }
    return ok;
}

static int
s_eval_keywords (s_ctx_t *ctx, const sb_schema_node_t *node, const json_t *instance,
                 s_marks_t *marks)
{
    int ok = 1;
    if (node->ref) S_CHECK (s_eval (ctx, node->ref, instance, marks, "$ref"));
    if (node->dynamic_ref)
        S_CHECK (s_eval (ctx, s_dynamic_target (ctx, node), instance, marks, "$dynamicRef"));
    if (node->types && !(node->types & s_instance_types (instance))) {
        char expected[80];
        s_type_list (node->types, expected, sizeof expected);
        s_report (ctx, "type", "expected %s, got %s", expected, s_type_name (instance));
        S_CHECK (0);
    }
    if (node->const_value) {
        int rc = sb_schema_value_equal (instance, node->const_value);
        if (rc == 0) s_report (ctx, "const", "value is not the constant the schema requires");
        S_CHECK (rc);
    }
    if (node->enum_values) {
        int rc = 0;
        for (size_t i = 0; i < json_array_size (node->enum_values) && rc == 0; i++)
            rc = sb_schema_value_equal (instance, json_array_get (node->enum_values, i));
        if (rc == 0)
            s_report (ctx, "enum", "value is not one of the %zu allowed values",
                      json_array_size (node->enum_values));
        S_CHECK (rc);
    }
    switch (json_typeof (instance)) {
        case JSON_INTEGER:
        case JSON_REAL:
            if (node->groups & SB_GROUP_NUMBER) S_CHECK (s_eval_number (ctx, node, instance));
            break;
        case JSON_STRING:
            if (node->groups & SB_GROUP_STRING) S_CHECK (s_eval_string (ctx, node, instance));
            break;
        case JSON_ARRAY:
            if (node->groups & SB_GROUP_ARRAY) S_CHECK (s_eval_array (ctx, node, instance, marks));
            break;
        case JSON_OBJECT:
            if (node->groups & SB_GROUP_OBJECT)
                S_CHECK (s_eval_object (ctx, node, instance, marks));
            break;
        default:
            break;
    }
    if (node->groups & SB_GROUP_INPLACE) S_CHECK (s_eval_inplace (ctx, node, instance, marks));
    return ok;
}

static void
s_report_false (s_ctx_t *ctx, const char *keyword)
{
    if (strcmp (keyword, "additionalProperties") == 0 ||
        strcmp (keyword, "unevaluatedProperties") == 0)
        s_report (ctx, keyword, "property is not allowed");
    else if (strcmp (keyword, "items") == 0 || strcmp (keyword, "prefixItems") == 0 ||
             strcmp (keyword, "additionalItems") == 0 || strcmp (keyword, "unevaluatedItems") == 0)
        s_report (ctx, keyword, "item is not allowed");
    else
        s_report (ctx, keyword, "no value is allowed here (false schema)");
}

//  Evaluates one schema node; `keyword` names what applied it (for a `false`
//  schema's error). `marks` collects evaluated members of an object or array
//  instance for an enclosing unevaluated* keyword, or is NULL.
static int
s_eval (s_ctx_t *ctx, const sb_schema_node_t *node, const json_t *instance, s_marks_t *marks,
        const char *keyword)
{
    if (node->kind == SB_NODE_TRUE) return 1;
    if (node->kind == SB_NODE_FALSE) {
        s_report_false (ctx, keyword);
        return 0;
    }
    if (ctx->depth >= SB_SCHEMA_MAX_DEPTH || ++ctx->steps > SB_SCHEMA_MAX_STEPS) return -1;
    ctx->depth++;
    size_t scope_len = ctx->scope_len;
    if (node->resource && (scope_len == 0 || ctx->scope[scope_len - 1] != node->resource))
        ctx->scope[ctx->scope_len++] = node->resource;

    json_type type = json_typeof (instance);
    int collection = type == JSON_OBJECT || type == JSON_ARRAY;
    if (!collection) marks = NULL;
    int rc;
    if ((type == JSON_OBJECT && node->unevaluated_properties) ||
        (type == JSON_ARRAY && node->unevaluated_items)) {
        //  unevaluated* sees what this node's keywords and in-place subschemas
        //  evaluated, not what its parent did: fresh marks.
        s_marks_t own;
        size_t n = s_size (instance);
        if (s_marks_init (&own, n) != 0)
            rc = -1;
        else {
            rc = s_eval_keywords (ctx, node, instance, &own);
            if (rc == 1 || (rc == 0 && !S_FAST (ctx))) {
                int uneval = s_eval_unevaluated (ctx, node, instance, &own);
                rc = uneval < 0 ? -1 : rc && uneval;
            }
            s_marks_free (&own);
            //  Everything has been evaluated now.
            if (rc == 1 && marks) s_marks_fill (marks, n);
        }
    } else
        rc = s_eval_keywords (ctx, node, instance, marks);

    ctx->scope_len = scope_len;
    ctx->depth--;
    return rc;
}

int
sb_schema_validate (sb_schema_t *self, const json_t *instance, sb_schema_error_fn *on_error,
                    void *arg)
{
    assert (self);
    if (!instance) return -1;
    //  Not zeroed whole: the path and scope arrays are written before read.
    s_ctx_t ctx;
    ctx.on_error = on_error;
    ctx.arg = arg;
    ctx.quiet = 0;
    ctx.depth = 0;
    ctx.steps = 0;
    ctx.path_len = 0;
    ctx.scope_len = 0;
    ctx.schema = self;
    ctx.scratch = NULL;
    ctx.name = NULL;
    int rc = s_eval (&ctx, self->root, instance, NULL, "false");
    sb_regex_scratch_t *empty = NULL;
    if (ctx.scratch && atomic_compare_exchange_strong (&self->spare_scratch, &empty, ctx.scratch))
        ctx.scratch = NULL;
    sb_regex_scratch_destroy (&ctx.scratch);
    json_decref (ctx.name);
    return rc;
}
