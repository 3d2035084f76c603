/*  sb_schema — compiles a JSON Schema document (draft 2020-12 or draft-07) into
    sb_schema_node_t's (see sb_schema_node.h); sb_schema_validate.c evaluates
    them. Compilation has two phases: a walk over every subschema of the document
    that decodes keywords, assigns base URIs and records $id / $anchor /
    $dynamicAnchor names; then a link phase that resolves each $ref and
    $dynamicRef to a node, loading registry or embedded documents on demand.
    All memory of a compiled schema lives in one arena freed by sb_schema_destroy.  */

#include "sb_schema.h"
#include "sb_schema_meta.h"
#include "sb_schema_node.h"
#include "sb_schema_uri.h"
#include "sb_schema_value.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Nesting of subschemas within one document. Deeper is hostile, not useful.
#define S_MAX_COMPILE_DEPTH 256
//  Subschemas per compiled schema: a node is ~400 bytes, so an input of a few
//  bytes per `{}` must not turn into unbounded memory.
#define S_MAX_NODES 50000
//  A custom metaschema may name another one as its $schema; this deep at most.
#define S_MAX_DIALECT_DEPTH 4
//  Arena block size; one allocation per block.
#define S_BLOCK_SIZE 8192

//  Vocabularies whose keywords a resource applies (core is always on).
enum {
    S_VOCAB_APPLICATOR = 1 << 0,
    S_VOCAB_UNEVALUATED = 1 << 1,
    S_VOCAB_VALIDATION = 1 << 2,
    S_VOCAB_ALL = S_VOCAB_APPLICATOR | S_VOCAB_UNEVALUATED | S_VOCAB_VALIDATION,
};

sb_schema_node_t sb_schema_node_true = {.kind = SB_NODE_TRUE};
sb_schema_node_t sb_schema_node_false = {.kind = SB_NODE_FALSE};

struct _sb_schema_block_t {
    sb_schema_block_t *next;
    size_t used;
    size_t size;
    max_align_t data[]; // `size` bytes follow
};

struct _sb_schema_regex_link_t {
    sb_regex_t *regex;
    sb_schema_regex_link_t *next;
};

//  -------------------------------------------------------------------------
//  Registry

typedef struct {
    char *uri; // without fragment
    json_t *doc;
} s_registry_doc_t;

struct _sb_schema_registry_t {
    s_registry_doc_t *docs;
    size_t count;
    size_t capacity;
};

sb_schema_registry_t *
sb_schema_registry_new (void)
{
    return calloc (1, sizeof (sb_schema_registry_t));
}

void
sb_schema_registry_destroy (sb_schema_registry_t **self_p)
{
    if (!self_p || !*self_p) return;
    sb_schema_registry_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++) {
        free (self->docs[i].uri);
        json_decref (self->docs[i].doc);
    }
    free (self->docs);
    free (self);
    *self_p = NULL;
}

static json_t *
s_registry_find (const sb_schema_registry_t *self, const char *uri, size_t len)
{
    if (!self) return NULL;
    for (size_t i = 0; i < self->count; i++)
        if (strlen (self->docs[i].uri) == len && memcmp (self->docs[i].uri, uri, len) == 0)
            return self->docs[i].doc;
    return NULL;
}

int
sb_schema_registry_add (sb_schema_registry_t *self, const char *uri, json_t *doc)
{
    assert (self);
    if (!uri || !doc) return -1;
    size_t len = sb_schema_uri_without_fragment (uri);
    if (len == 0) return -1;
    for (size_t i = 0; i < self->count; i++)
        if (strlen (self->docs[i].uri) == len && memcmp (self->docs[i].uri, uri, len) == 0) {
            json_decref (self->docs[i].doc);
            self->docs[i].doc = json_incref (doc);
            return 0;
        }
    if (self->count == self->capacity) {
        size_t capacity = self->capacity ? self->capacity * 2 : 16;
        s_registry_doc_t *docs = realloc (self->docs, capacity * sizeof *docs);
        if (!docs) return -1;
        self->docs = docs;
        self->capacity = capacity;
    }
    char *copy = strndup (uri, len);
    if (!copy) return -1;
    self->docs[self->count].uri = copy;
    self->docs[self->count].doc = json_incref (doc);
    self->count++;
    return 0;
}

//  -------------------------------------------------------------------------
//  Compile-time hash map: keys are either pointers (json_t * -> node) or byte
//  strings (URI -> entry). Open addressing, grows at 3/4 load.

typedef struct {
    const void *key; // NULL marks an empty slot
    size_t len;      // string keys only
    uint64_t hash;
    void *value;
} s_slot_t;

typedef struct {
    s_slot_t *slots;
    size_t capacity; // power of two
    size_t count;
    int by_pointer;
} s_map_t;

static uint64_t
s_map_hash (const s_map_t *map, const void *key, size_t len)
{
    if (map->by_pointer) return sb_schema_value_hash_bytes (&key, sizeof key);
    return sb_schema_value_hash_bytes (key, len);
}

static int
s_map_same (const s_map_t *map, const s_slot_t *slot, const void *key, size_t len, uint64_t hash)
{
    if (map->by_pointer) return slot->key == key;
    return slot->hash == hash && slot->len == len && memcmp (slot->key, key, len) == 0;
}

static void *
s_map_get (const s_map_t *map, const void *key, size_t len)
{
    if (!map->capacity) return NULL;
    uint64_t hash = s_map_hash (map, key, len);
    for (size_t i = hash & (map->capacity - 1);; i = (i + 1) & (map->capacity - 1)) {
        const s_slot_t *slot = &map->slots[i];
        if (!slot->key) return NULL;
        if (s_map_same (map, slot, key, len, hash)) return slot->value;
    }
}

//  Inserts unless the key is present (the first definition wins). Returns 0, or
//  -1 when memory runs out. String keys must outlive the map.
static int
s_map_put (s_map_t *map, const void *key, size_t len, void *value)
{
    if ((map->count + 1) * 4 > map->capacity * 3) {
        size_t capacity = map->capacity ? map->capacity * 2 : 64;
        s_slot_t *slots = calloc (capacity, sizeof *slots);
        if (!slots) return -1;
        for (size_t i = 0; i < map->capacity; i++) {
            s_slot_t *old = &map->slots[i];
            if (!old->key) continue;
            size_t j = old->hash & (capacity - 1);
            while (slots[j].key)
                j = (j + 1) & (capacity - 1);
            slots[j] = *old;
        }
        free (map->slots);
        map->slots = slots;
        map->capacity = capacity;
    }
    uint64_t hash = s_map_hash (map, key, len);
    size_t i = hash & (map->capacity - 1);
    for (; map->slots[i].key; i = (i + 1) & (map->capacity - 1))
        if (s_map_same (map, &map->slots[i], key, len, hash)) return 0;
    map->slots[i] = (s_slot_t){key, len, hash, value};
    map->count++;
    return 0;
}

//  -------------------------------------------------------------------------
//  Compiler state

//  What a URI names: a resource root or an anchor.
typedef struct {
    json_t *json;
    sb_schema_node_t *node;
    sb_schema_resource_t *resource; // the resource JSON Pointer fragments start from
    int draft;
    unsigned vocab;
    int dynamic; // an anchor made by $dynamicAnchor
} s_entry_t;

typedef enum { S_REF, S_DYNAMIC_REF } s_ref_kind_t;

typedef struct {
    sb_schema_node_t *node;
    char *uri; // absolute (heap)
    s_ref_kind_t kind;
} s_pending_t;

//  Lexical context of a subschema.
typedef struct {
    const char *base; // base URI (arena)
    sb_schema_resource_t *resource;
    int draft; // 7 or 2020
    unsigned vocab;
    int document_root; // its $schema was already applied by the caller
} s_scope_t;

typedef struct {
    sb_schema_t *schema;
    sb_schema_registry_t *registry;
    s_map_t by_json; // json_t * -> node
    s_map_t by_uri;  // URI, or URI#anchor -> s_entry_t
    s_pending_t *pending;
    size_t pending_count;
    size_t pending_capacity;
    int default_draft; // for documents without $schema
    size_t nodes;
    char *err;
    size_t err_size;
    int failed;
} s_compiler_t;

//  Records the first error; always returns NULL so callers can `return s_fail (...)`.
static void *
s_fail (s_compiler_t *c, const char *format, ...)
{
    if (!c->failed) {
        va_list args;
        va_start (args, format);
        vsnprintf (c->err, c->err_size, format, args);
        va_end (args);
        c->failed = 1;
    }
    return NULL;
}

static void *
s_alloc (s_compiler_t *c, size_t size)
{
    sb_schema_t *schema = c->schema;
    size = (size + sizeof (max_align_t) - 1) / sizeof (max_align_t) * sizeof (max_align_t);
    sb_schema_block_t *block = schema->blocks;
    if (!block || block->used + size > block->size) {
        size_t bytes = size > S_BLOCK_SIZE ? size : S_BLOCK_SIZE;
        block = malloc (sizeof *block + bytes);
        if (!block) return s_fail (c, "out of memory");
        block->size = bytes;
        block->used = 0;
        block->next = schema->blocks;
        schema->blocks = block;
    }
    void *p = (char *)block->data + block->used;
    block->used += size;
    memset (p, 0, size);
    return p;
}

static char *
s_strndup (s_compiler_t *c, const char *text, size_t len)
{
    char *copy = s_alloc (c, len + 1);
    if (copy) {
        memcpy (copy, text, len);
        copy[len] = 0;
    }
    return copy;
}

static sb_schema_resource_t *
s_new_resource (s_compiler_t *c, const char *uri)
{
    sb_schema_resource_t *resource = s_alloc (c, sizeof *resource);
    if (resource) resource->uri = uri;
    return resource;
}

//  Names `json` by `uri` (arena string, kept by the map). The first name wins.
static int
s_register (s_compiler_t *c, const char *uri, json_t *json, sb_schema_node_t *node,
            const s_scope_t *scope, int dynamic)
{
    if (s_map_get (&c->by_uri, uri, strlen (uri))) return 0;
    s_entry_t *entry = s_alloc (c, sizeof *entry);
    if (!entry) return -1;
    *entry = (s_entry_t){json, node, scope->resource, scope->draft, scope->vocab, dynamic};
    if (s_map_put (&c->by_uri, uri, strlen (uri), entry) != 0) {
        s_fail (c, "out of memory");
        return -1;
    }
    return 0;
}

//  Registers `base#name` for an anchor.
static int
s_register_anchor (s_compiler_t *c, const s_scope_t *scope, const char *name, json_t *json,
                   sb_schema_node_t *node, int dynamic)
{
    size_t base_len = strlen (scope->base), name_len = strlen (name);
    char *uri = s_alloc (c, base_len + name_len + 2);
    if (!uri) return -1;
    memcpy (uri, scope->base, base_len);
    uri[base_len] = '#';
    memcpy (uri + base_len + 1, name, name_len + 1);
    return s_register (c, uri, json, node, scope, dynamic);
}

static int
s_add_pending (s_compiler_t *c, sb_schema_node_t *node, const char *base, const char *ref,
               s_ref_kind_t kind)
{
    if (c->pending_count == c->pending_capacity) {
        size_t capacity = c->pending_capacity ? c->pending_capacity * 2 : 16;
        s_pending_t *grown = realloc (c->pending, capacity * sizeof *grown);
        if (!grown) {
            s_fail (c, "out of memory");
            return -1;
        }
        c->pending = grown;
        c->pending_capacity = capacity;
    }
    char *uri = sb_schema_uri_resolve (base, ref);
    if (!uri) {
        s_fail (c, "out of memory");
        return -1;
    }
    c->pending[c->pending_count++] = (s_pending_t){node, uri, kind};
    return 0;
}

//  -------------------------------------------------------------------------
//  Dialects ($schema) and vocabularies ($vocabulary)

#define S_VOCAB_PREFIX "https://json-schema.org/draft/2020-12/vocab/"

static int
s_uri_is (const char *uri, size_t len, const char *known)
{
    return strlen (known) == len && memcmp (uri, known, len) == 0;
}

static json_t *s_load_document (s_compiler_t *c, const char *uri, size_t len);

static int
s_vocabularies (s_compiler_t *c, json_t *vocabulary, unsigned *vocab)
{
    static const struct {
        const char *name;
        unsigned bits;
    } known[] = {
        {"core", 0},
        {"applicator", S_VOCAB_APPLICATOR},
        {"unevaluated", S_VOCAB_UNEVALUATED},
        {"validation", S_VOCAB_VALIDATION},
        {"meta-data", 0},
        {"format-annotation", 0},
        {"content", 0},
    };
    *vocab = 0;
    const char *uri;
    json_t *required;
    json_object_foreach (vocabulary, uri, required)
    {
        if (!json_is_boolean (required)) {
            s_fail (c, "$vocabulary values must be booleans");
            return -1;
        }
        int found = 0;
        if (strncmp (uri, S_VOCAB_PREFIX, strlen (S_VOCAB_PREFIX)) == 0) {
            const char *name = uri + strlen (S_VOCAB_PREFIX);
            for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
                if (strcmp (name, known[i].name) == 0) {
                    *vocab |= known[i].bits;
                    found = 1;
                }
        }
        //  An unknown vocabulary may be ignored only when it is optional.
        if (!found && json_is_true (required)) {
            s_fail (c, "required vocabulary \"%s\" is not supported", uri);
            return -1;
        }
    }
    return 0;
}

//  Reads a $schema URI into a draft and vocabulary set. Returns 0 or -1.
static int
s_dialect (s_compiler_t *c, const char *uri, int *draft, unsigned *vocab, int level)
{
    size_t len = sb_schema_uri_without_fragment (uri);
    *vocab = S_VOCAB_ALL;
    if (s_uri_is (uri, len, "https://json-schema.org/draft/2020-12/schema")) {
        *draft = SB_DRAFT_2020_12;
        return 0;
    }
    if (s_uri_is (uri, len, "http://json-schema.org/draft-07/schema") ||
        s_uri_is (uri, len, "https://json-schema.org/draft-07/schema") ||
        s_uri_is (uri, len, "http://json-schema.org/draft-06/schema")) {
        //  draft-06 is draft-07 without if/then/else and content keywords.
        *draft = SB_DRAFT_7;
        return 0;
    }
    if (s_uri_is (uri, len, "http://json-schema.org/draft-04/schema") ||
        s_uri_is (uri, len, "https://json-schema.org/draft/2019-09/schema")) {
        s_fail (c, "unsupported $schema \"%s\" (draft 2020-12 and draft-07 are)", uri);
        return -1;
    }
    //  A custom metaschema: its own $schema gives the dialect, its $vocabulary
    //  the keywords in force.
    if (level >= S_MAX_DIALECT_DEPTH) {
        s_fail (c, "$schema chain too long at \"%s\"", uri);
        return -1;
    }
    json_t *meta = s_load_document (c, uri, len);
    if (!meta) {
        if (!c->failed) s_fail (c, "unknown $schema \"%s\"", uri);
        return -1;
    }
    *draft = SB_DRAFT_2020_12;
    json_t *meta_schema = json_object_get (meta, "$schema");
    if (json_is_string (meta_schema)) {
        const char *next = json_string_value (meta_schema);
        if (sb_schema_uri_without_fragment (next) != len || memcmp (next, uri, len) != 0) {
            unsigned ignored;
            if (s_dialect (c, next, draft, &ignored, level + 1) != 0) return -1;
        }
    }
    json_t *vocabulary = json_object_get (meta, "$vocabulary");
    if (*draft == SB_DRAFT_2020_12 && json_is_object (vocabulary))
        return s_vocabularies (c, vocabulary, vocab);
    return 0;
}

//  -------------------------------------------------------------------------
//  Keyword decoding

static sb_schema_node_t *s_compile (s_compiler_t *c, json_t *json, const s_scope_t *scope,
                                    int depth);

//  Reads a non-negative integer keyword (2.0 counts as 2). Returns 1 when
//  present (value in *out), 0 when absent, -1 when malformed.
static int
s_size_keyword (s_compiler_t *c, json_t *schema, const char *name, size_t *out)
{
    json_t *v = json_object_get (schema, name);
    if (!v) return 0;
    if (json_is_integer (v) && json_integer_value (v) >= 0) {
        *out = (size_t)json_integer_value (v);
        return 1;
    }
    if (json_is_real (v)) {
        double d = json_real_value (v);
        //  Casting a double beyond the target's range is undefined: test with trunc.
        if (d >= 0 && d == trunc (d)) {
            *out = d >= 1.8e19 ? SIZE_MAX : (size_t)d;
            return 1;
        }
    }
    s_fail (c, "\"%s\" must be a non-negative integer", name);
    return -1;
}

static int
s_number_keyword (s_compiler_t *c, json_t *schema, const char *name, json_t **out)
{
    json_t *v = json_object_get (schema, name);
    if (!v) return 0;
    if (!json_is_number (v)) {
        s_fail (c, "\"%s\" must be a number", name);
        return -1;
    }
    *out = v;
    return 1;
}

static int
s_type_bit (const char *name)
{
    static const struct {
        const char *name;
        int bit;
    } types[] = {
        {"null", SB_TYPE_NULL},       {"boolean", SB_TYPE_BOOLEAN}, {"object", SB_TYPE_OBJECT},
        {"array", SB_TYPE_ARRAY},     {"number", SB_TYPE_NUMBER},   {"string", SB_TYPE_STRING},
        {"integer", SB_TYPE_INTEGER},
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp (name, types[i].name) == 0) return types[i].bit;
    return 0;
}

//  Decodes an array of strings (required, dependentRequired). Returns 0 or -1.
static int
s_names (s_compiler_t *c, json_t *array, const char *keyword, sb_schema_name_t **out, size_t *count)
{
    if (!json_is_array (array)) {
        s_fail (c, "\"%s\" must be an array of strings", keyword);
        return -1;
    }
    size_t n = json_array_size (array);
    *count = n;
    *out = NULL;
    if (n == 0) return 0;
    *out = s_alloc (c, n * sizeof **out);
    if (!*out) return -1;
    for (size_t i = 0; i < n; i++) {
        json_t *name = json_array_get (array, i);
        if (!json_is_string (name)) {
            s_fail (c, "\"%s\" must be an array of strings", keyword);
            return -1;
        }
        (*out)[i] = (sb_schema_name_t){json_string_value (name), json_string_length (name)};
    }
    return 0;
}

static sb_regex_t *
s_regex (s_compiler_t *c, const char *pattern, size_t len)
{
    char reason[160];
    sb_regex_t *regex = sb_regex_new (pattern, len, reason, sizeof reason);
    if (!regex) return s_fail (c, "pattern \"%.80s\": %s", pattern, reason);
    sb_schema_regex_link_t *link = s_alloc (c, sizeof *link);
    if (!link) {
        sb_regex_destroy (&regex);
        return NULL;
    }
    link->regex = regex;
    link->next = c->schema->regexes;
    c->schema->regexes = link;
    return regex;
}

static int
s_validation_keywords (s_compiler_t *c, json_t *schema, sb_schema_node_t *node,
                       const s_scope_t *scope)
{
    json_t *v;
    if ((v = json_object_get (schema, "type"))) {
        if (json_is_string (v))
            node->types = (uint8_t)s_type_bit (json_string_value (v));
        else if (json_is_array (v)) {
            size_t i;
            json_t *item;
            json_array_foreach (v, i, item)
            {
                int bit = json_is_string (item) ? s_type_bit (json_string_value (item)) : 0;
                if (!bit) {
                    s_fail (c, "\"type\" has an unknown type");
                    return -1;
                }
                node->types |= (uint8_t)bit;
            }
        }
        if (!node->types) {
            s_fail (c, "\"type\" must name JSON Schema types");
            return -1;
        }
    }
    node->const_value = json_object_get (schema, "const");
    if ((v = json_object_get (schema, "enum"))) {
        if (!json_is_array (v)) {
            s_fail (c, "\"enum\" must be an array");
            return -1;
        }
        node->enum_values = v;
    }

    int present = 0, rc;
    if ((rc = s_number_keyword (c, schema, "multipleOf", &node->multiple_of)) < 0) return -1;
    if (rc && !(json_number_value (node->multiple_of) > 0)) {
        s_fail (c, "\"multipleOf\" must be greater than 0");
        return -1;
    }
    present |= rc;
    if ((rc = s_number_keyword (c, schema, "maximum", &node->maximum)) < 0) return -1;
    present |= rc;
    if ((rc = s_number_keyword (c, schema, "minimum", &node->minimum)) < 0) return -1;
    present |= rc;
    if ((rc = s_number_keyword (c, schema, "exclusiveMaximum", &node->exclusive_maximum)) < 0)
        return -1;
    present |= rc;
    if ((rc = s_number_keyword (c, schema, "exclusiveMinimum", &node->exclusive_minimum)) < 0)
        return -1;
    present |= rc;
    if (present) node->groups |= SB_GROUP_NUMBER;

    present = 0;
    if ((rc = s_size_keyword (c, schema, "maxLength", &node->max_length)) < 0) return -1;
    present |= rc;
    if ((rc = s_size_keyword (c, schema, "minLength", &node->min_length)) < 0) return -1;
    present |= rc;
    if ((v = json_object_get (schema, "pattern"))) {
        if (!json_is_string (v)) {
            s_fail (c, "\"pattern\" must be a string");
            return -1;
        }
        node->pattern.source = json_string_value (v);
        node->pattern.regex = s_regex (c, json_string_value (v), json_string_length (v));
        if (!node->pattern.regex) return -1;
        present = 1;
    }
    if (present) node->groups |= SB_GROUP_STRING;

    present = 0;
    if ((rc = s_size_keyword (c, schema, "maxItems", &node->max_items)) < 0) return -1;
    present |= rc;
    if ((rc = s_size_keyword (c, schema, "minItems", &node->min_items)) < 0) return -1;
    present |= rc;
    if ((v = json_object_get (schema, "uniqueItems"))) {
        if (!json_is_boolean (v)) {
            s_fail (c, "\"uniqueItems\" must be a boolean");
            return -1;
        }
        node->unique_items = json_is_true (v);
        present |= node->unique_items;
    }
    if (scope->draft == SB_DRAFT_2020_12) {
        //  Only meaningful next to `contains`; the evaluator reads them there.
        if (s_size_keyword (c, schema, "maxContains", &node->max_contains) < 0 ||
            s_size_keyword (c, schema, "minContains", &node->min_contains) < 0)
            return -1;
    }
    if (present) node->groups |= SB_GROUP_ARRAY;

    present = 0;
    if ((rc = s_size_keyword (c, schema, "maxProperties", &node->max_properties)) < 0) return -1;
    present |= rc;
    if ((rc = s_size_keyword (c, schema, "minProperties", &node->min_properties)) < 0) return -1;
    present |= rc;
    if ((v = json_object_get (schema, "required"))) {
        if (s_names (c, v, "required", &node->required, &node->required_count) != 0) return -1;
        present = 1;
    }
    if (scope->draft == SB_DRAFT_2020_12 && (v = json_object_get (schema, "dependentRequired"))) {
        if (!json_is_object (v)) {
            s_fail (c, "\"dependentRequired\" must be an object");
            return -1;
        }
        size_t n = json_object_size (v);
        node->dependent_required = s_alloc (c, (n ? n : 1) * sizeof *node->dependent_required);
        if (!node->dependent_required) return -1;
        for (void *it = json_object_iter (v); it; it = json_object_iter_next (v, it)) {
            sb_schema_dependency_t *dep =
                &node->dependent_required[node->dependent_required_count++];
            dep->name = json_object_iter_key (it);
            dep->len = json_object_iter_key_len (it);
            if (s_names (c, json_object_iter_value (it), "dependentRequired", &dep->names,
                         &dep->count) != 0)
                return -1;
        }
        present = 1;
    }
    if (present) node->groups |= SB_GROUP_OBJECT;
    return 0;
}

static int
s_named_order (const void *a, const void *b)
{
    const sb_schema_named_t *x = a, *y = b;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return memcmp (x->name, y->name, x->len);
}

//  Compiles an object of subschemas (properties, dependentSchemas) into a sorted
//  array. Returns 0 or -1.
static int
s_schema_map (s_compiler_t *c, json_t *object, const char *keyword, const s_scope_t *scope,
              int depth, sb_schema_named_t **out, size_t *count)
{
    if (!json_is_object (object)) {
        s_fail (c, "\"%s\" must be an object", keyword);
        return -1;
    }
    size_t n = json_object_size (object);
    *out = s_alloc (c, (n ? n : 1) * sizeof **out);
    if (!*out) return -1;
    *count = 0;
    for (void *it = json_object_iter (object); it; it = json_object_iter_next (object, it)) {
        sb_schema_node_t *node = s_compile (c, json_object_iter_value (it), scope, depth + 1);
        if (!node) return -1;
        (*out)[(*count)++] =
            (sb_schema_named_t){json_object_iter_key (it), json_object_iter_key_len (it), node};
    }
    qsort (*out, *count, sizeof **out, s_named_order);
    return 0;
}

//  Compiles an array of subschemas. Returns 0 or -1.
static int
s_schema_list (s_compiler_t *c, json_t *array, const char *keyword, const s_scope_t *scope,
               int depth, sb_schema_list_t *out)
{
    if (!json_is_array (array) || json_array_size (array) == 0) {
        s_fail (c, "\"%s\" must be a non-empty array of schemas", keyword);
        return -1;
    }
    out->count = json_array_size (array);
    out->items = s_alloc (c, out->count * sizeof *out->items);
    if (!out->items) return -1;
    for (size_t i = 0; i < out->count; i++) {
        out->items[i] = s_compile (c, json_array_get (array, i), scope, depth + 1);
        if (!out->items[i]) return -1;
    }
    return 0;
}

//  A keyword holding one subschema: *out stays NULL when absent. Returns 0 or -1.
static int
s_schema_keyword (s_compiler_t *c, json_t *schema, const char *keyword, const s_scope_t *scope,
                  int depth, sb_schema_node_t **out)
{
    json_t *v = json_object_get (schema, keyword);
    if (!v) return 0;
    *out = s_compile (c, v, scope, depth + 1);
    return *out ? 0 : -1;
}

static int
s_array_applicators (s_compiler_t *c, json_t *schema, sb_schema_node_t *node,
                     const s_scope_t *scope, int depth)
{
    json_t *items = json_object_get (schema, "items");
    if (scope->draft == SB_DRAFT_7) {
        if (json_is_array (items)) {
            //  Tuple form: additionalItems applies past the tuple.
            if (s_schema_list (c, items, "items", scope, depth, &node->prefix_items) != 0 ||
                s_schema_keyword (c, schema, "additionalItems", scope, depth, &node->items) != 0)
                return -1;
            node->legacy_items = 1;
        } else if (s_schema_keyword (c, schema, "items", scope, depth, &node->items) != 0)
            return -1;
    } else {
        json_t *prefix = json_object_get (schema, "prefixItems");
        if (prefix &&
            s_schema_list (c, prefix, "prefixItems", scope, depth, &node->prefix_items) != 0)
            return -1;
        if (json_is_array (items)) {
            s_fail (c, "\"items\" must be a schema in draft 2020-12 (use prefixItems)");
            return -1;
        }
        if (s_schema_keyword (c, schema, "items", scope, depth, &node->items) != 0) return -1;
    }
    if (s_schema_keyword (c, schema, "contains", scope, depth, &node->contains) != 0) return -1;
    if (node->prefix_items.count || node->items || node->contains) node->groups |= SB_GROUP_ARRAY;
    return 0;
}

static int
s_object_applicators (s_compiler_t *c, json_t *schema, sb_schema_node_t *node,
                      const s_scope_t *scope, int depth)
{
    json_t *v;
    if ((v = json_object_get (schema, "properties")) &&
        s_schema_map (c, v, "properties", scope, depth, &node->properties,
                      &node->properties_count) != 0)
        return -1;
    if ((v = json_object_get (schema, "patternProperties"))) {
        if (!json_is_object (v)) {
            s_fail (c, "\"patternProperties\" must be an object");
            return -1;
        }
        size_t n = json_object_size (v);
        node->pattern_properties = s_alloc (c, (n ? n : 1) * sizeof *node->pattern_properties);
        if (!node->pattern_properties) return -1;
        for (void *it = json_object_iter (v); it; it = json_object_iter_next (v, it)) {
            sb_schema_pattern_t *pp = &node->pattern_properties[node->pattern_properties_count++];
            pp->source = json_object_iter_key (it);
            pp->regex = s_regex (c, pp->source, json_object_iter_key_len (it));
            pp->node =
                pp->regex ? s_compile (c, json_object_iter_value (it), scope, depth + 1) : NULL;
            if (!pp->node) return -1;
        }
    }
    if (s_schema_keyword (c, schema, "additionalProperties", scope, depth,
                          &node->additional_properties) != 0 ||
        s_schema_keyword (c, schema, "propertyNames", scope, depth, &node->property_names) != 0)
        return -1;
    if (scope->draft == SB_DRAFT_2020_12) {
        if ((v = json_object_get (schema, "dependentSchemas")) &&
            s_schema_map (c, v, "dependentSchemas", scope, depth, &node->dependent_schemas,
                          &node->dependent_schemas_count) != 0)
            return -1;
    } else if ((v = json_object_get (schema, "dependencies"))) {
        //  draft-07 `dependencies`: an array means dependentRequired, a schema
        //  means dependentSchemas.
        if (!json_is_object (v)) {
            s_fail (c, "\"dependencies\" must be an object");
            return -1;
        }
        size_t n = json_object_size (v);
        node->dependent_schemas = s_alloc (c, (n ? n : 1) * sizeof *node->dependent_schemas);
        node->dependent_required = s_alloc (c, (n ? n : 1) * sizeof *node->dependent_required);
        if (!node->dependent_schemas || !node->dependent_required) return -1;
        for (void *it = json_object_iter (v); it; it = json_object_iter_next (v, it)) {
            json_t *value = json_object_iter_value (it);
            const char *name = json_object_iter_key (it);
            size_t len = json_object_iter_key_len (it);
            if (json_is_array (value)) {
                sb_schema_dependency_t *dep =
                    &node->dependent_required[node->dependent_required_count++];
                dep->name = name;
                dep->len = len;
                if (s_names (c, value, "dependencies", &dep->names, &dep->count) != 0) return -1;
            } else {
                sb_schema_node_t *sub = s_compile (c, value, scope, depth + 1);
                if (!sub) return -1;
                node->dependent_schemas[node->dependent_schemas_count++] =
                    (sb_schema_named_t){name, len, sub};
            }
        }
    }
    if (node->properties_count || node->pattern_properties_count || node->additional_properties ||
        node->property_names || node->dependent_schemas_count || node->dependent_required_count)
        node->groups |= SB_GROUP_OBJECT;
    return 0;
}

static int
s_inplace_applicators (s_compiler_t *c, json_t *schema, sb_schema_node_t *node,
                       const s_scope_t *scope, int depth)
{
    json_t *v;
    if ((v = json_object_get (schema, "allOf")) &&
        s_schema_list (c, v, "allOf", scope, depth, &node->all_of) != 0)
        return -1;
    if ((v = json_object_get (schema, "anyOf")) &&
        s_schema_list (c, v, "anyOf", scope, depth, &node->any_of) != 0)
        return -1;
    if ((v = json_object_get (schema, "oneOf")) &&
        s_schema_list (c, v, "oneOf", scope, depth, &node->one_of) != 0)
        return -1;
    if (s_schema_keyword (c, schema, "not", scope, depth, &node->not_schema) != 0 ||
        s_schema_keyword (c, schema, "if", scope, depth, &node->if_schema) != 0 ||
        s_schema_keyword (c, schema, "then", scope, depth, &node->then_schema) != 0 ||
        s_schema_keyword (c, schema, "else", scope, depth, &node->else_schema) != 0)
        return -1;
    if (node->all_of.count || node->any_of.count || node->one_of.count || node->not_schema ||
        node->if_schema)
        node->groups |= SB_GROUP_INPLACE;
    return 0;
}

//  $defs / definitions: compiled so that their $id and anchors are known and a
//  $ref to them finds a node; nothing applies them directly. The other draft's
//  container (definitions in 2020-12, $defs in draft-07) is no keyword there:
//  its schemas are compiled all the same, since documents mix them, but a
//  malformed one is ignored instead of failing the schema.
static int
s_definitions (s_compiler_t *c, json_t *schema, const char *keyword, int own,
               const s_scope_t *scope, int depth)
{
    json_t *defs = json_object_get (schema, keyword);
    if (!defs) return 0;
    if (!json_is_object (defs)) {
        if (!own) return 0;
        s_fail (c, "\"%s\" must be an object", keyword);
        return -1;
    }
    for (void *it = json_object_iter (defs); it; it = json_object_iter_next (defs, it)) {
        json_t *sub = json_object_iter_value (it);
        if (!own && !json_is_object (sub) && !json_is_boolean (sub)) continue;
        if (!s_compile (c, sub, scope, depth + 1)) return -1;
    }
    return 0;
}

//  $id, $schema (of an embedded resource), $anchor, $dynamicAnchor: updates
//  *scope for the subschema and records its names. Returns 0 or -1.
static int
s_identity (s_compiler_t *c, json_t *schema, sb_schema_node_t *node, s_scope_t *scope)
{
    json_t *id = json_object_get (schema, "$id");
    if (id) {
        if (!json_is_string (id)) {
            s_fail (c, "\"$id\" must be a string");
            return -1;
        }
        const char *text = json_string_value (id);
        if (scope->draft == SB_DRAFT_7 && text[0] == '#') {
            //  draft-07 plain-name fragment: an anchor, not a new resource.
            if (text[1] && s_register_anchor (c, scope, text + 1, schema, node, 0) != 0) return -1;
        } else {
            char *resolved = sb_schema_uri_resolve (scope->base, text);
            if (!resolved) {
                s_fail (c, "out of memory");
                return -1;
            }
            size_t len = sb_schema_uri_without_fragment (resolved);
            char *uri = s_strndup (c, resolved, len);
            char *fragment = resolved[len] == '#'
                                 ? s_strndup (c, resolved + len + 1, strlen (resolved + len + 1))
                                 : NULL;
            free (resolved);
            if (!uri) return -1;
            sb_schema_resource_t *resource = s_new_resource (c, uri);
            if (!resource) return -1;
            scope->base = uri;
            scope->resource = resource;
            json_t *dialect = json_object_get (schema, "$schema");
            if (!scope->document_root && dialect) {
                if (!json_is_string (dialect)) {
                    s_fail (c, "\"$schema\" must be a string");
                    return -1;
                }
                if (s_dialect (c, json_string_value (dialect), &scope->draft, &scope->vocab, 0) !=
                    0)
                    return -1;
            }
            if (s_register (c, uri, schema, node, scope, 0) != 0) return -1;
            if (scope->draft == SB_DRAFT_7 && fragment && fragment[0] &&
                s_register_anchor (c, scope, fragment, schema, node, 0) != 0)
                return -1;
        }
    }
    if (scope->draft != SB_DRAFT_2020_12) return 0;
    json_t *anchor = json_object_get (schema, "$anchor");
    if (anchor) {
        if (!json_is_string (anchor)) {
            s_fail (c, "\"$anchor\" must be a string");
            return -1;
        }
        if (s_register_anchor (c, scope, json_string_value (anchor), schema, node, 0) != 0)
            return -1;
    }
    json_t *dynamic = json_object_get (schema, "$dynamicAnchor");
    if (dynamic) {
        if (!json_is_string (dynamic)) {
            s_fail (c, "\"$dynamicAnchor\" must be a string");
            return -1;
        }
        if (s_register_anchor (c, scope, json_string_value (dynamic), schema, node, 1) != 0)
            return -1;
        sb_schema_anchor_t *entry = s_alloc (c, sizeof *entry);
        if (!entry) return -1;
        entry->name = json_string_value (dynamic);
        entry->node = node;
        entry->next = scope->resource->dynamic_anchors;
        scope->resource->dynamic_anchors = entry;
    }
    return 0;
}

static sb_schema_node_t *
s_compile (s_compiler_t *c, json_t *json, const s_scope_t *outer, int depth)
{
    if (c->failed) return NULL;
    if (json_is_true (json)) return &sb_schema_node_true;
    if (json_is_false (json)) return &sb_schema_node_false;
    if (!json_is_object (json)) return s_fail (c, "a schema must be an object or a boolean");
    sb_schema_node_t *node = s_map_get (&c->by_json, json, 0);
    if (node) return node;
    if (depth > S_MAX_COMPILE_DEPTH)
        return s_fail (c, "schema nested deeper than %d levels", S_MAX_COMPILE_DEPTH);
    if (++c->nodes > S_MAX_NODES)
        return s_fail (c, "schema has more than %d subschemas", S_MAX_NODES);
    node = s_alloc (c, sizeof *node);
    if (!node) return NULL;
    node->kind = SB_NODE_SCHEMA;
    node->max_length = node->max_items = node->max_contains = node->max_properties = SIZE_MAX;
    node->min_contains = 1;
    //  Registered before the children so that a cycle through json_t sharing
    //  finds this node instead of recursing.
    if (s_map_put (&c->by_json, json, 0, node) != 0) return s_fail (c, "out of memory");

    s_scope_t scope = *outer;
    json_t *ref = json_object_get (json, "$ref");
    if (ref && !json_is_string (ref)) return s_fail (c, "\"$ref\" must be a string");
    if (ref && scope.draft == SB_DRAFT_7) {
        //  draft-07: $ref replaces its schema; siblings, $id included, are ignored.
        node->resource = scope.resource;
        if (s_add_pending (c, node, scope.base, json_string_value (ref), S_REF) != 0) return NULL;
        return node;
    }
    if (s_identity (c, json, node, &scope) != 0) return NULL;
    node->resource = scope.resource;
    scope.document_root = 0;
    if (ref && s_add_pending (c, node, scope.base, json_string_value (ref), S_REF) != 0)
        return NULL;
    if (scope.draft == SB_DRAFT_2020_12) {
        json_t *dynamic = json_object_get (json, "$dynamicRef");
        if (dynamic) {
            if (!json_is_string (dynamic)) return s_fail (c, "\"$dynamicRef\" must be a string");
            if (s_add_pending (c, node, scope.base, json_string_value (dynamic), S_DYNAMIC_REF) !=
                0)
                return NULL;
        }
    }
    int modern = scope.draft == SB_DRAFT_2020_12;
    if (s_definitions (c, json, "$defs", modern, &scope, depth) != 0 ||
        s_definitions (c, json, "definitions", !modern, &scope, depth) != 0)
        return NULL;
    if ((scope.vocab & S_VOCAB_VALIDATION) && s_validation_keywords (c, json, node, &scope) != 0)
        return NULL;
    if (scope.vocab & S_VOCAB_APPLICATOR) {
        if (s_array_applicators (c, json, node, &scope, depth) != 0 ||
            s_object_applicators (c, json, node, &scope, depth) != 0 ||
            s_inplace_applicators (c, json, node, &scope, depth) != 0)
            return NULL;
    }
    if (scope.draft == SB_DRAFT_2020_12 && (scope.vocab & S_VOCAB_UNEVALUATED)) {
        if (s_schema_keyword (c, json, "unevaluatedItems", &scope, depth,
                              &node->unevaluated_items) != 0 ||
            s_schema_keyword (c, json, "unevaluatedProperties", &scope, depth,
                              &node->unevaluated_properties) != 0)
            return NULL;
        if (node->unevaluated_items) node->groups |= SB_GROUP_ARRAY;
        if (node->unevaluated_properties) node->groups |= SB_GROUP_OBJECT;
    }
    return c->failed ? NULL : node;
}

//  Compiles a whole document retrieved as `uri` (arena string). `draft` and
//  `vocab` are the dialect to use, or draft 0 to read it from its $schema.
static sb_schema_node_t *
s_compile_document (s_compiler_t *c, json_t *doc, const char *uri, int draft, unsigned vocab)
{
    s_scope_t scope = {uri, NULL, draft ? draft : c->default_draft, draft ? vocab : S_VOCAB_ALL, 1};
    scope.resource = s_new_resource (c, uri);
    if (!scope.resource) return NULL;
    json_t *dialect = json_object_get (doc, "$schema"); // NULL unless doc is an object
    if (!draft && dialect) {
        if (!json_is_string (dialect)) return s_fail (c, "\"$schema\" must be a string");
        if (s_dialect (c, json_string_value (dialect), &scope.draft, &scope.vocab, 0) != 0)
            return NULL;
    }
    sb_schema_node_t *node = s_compile (c, doc, &scope, 0);
    if (!node) return NULL;
    if (node->resource) scope.resource = node->resource; // the root's $id, if it has one
    if (s_register (c, uri, doc, node, &scope, 0) != 0) return NULL;
    return node;
}

//  Finds a document the schema does not contain: the registry first, then the
//  embedded metaschemas. Returns the document (held by the schema) or NULL.
static json_t *
s_load_document (s_compiler_t *c, const char *uri, size_t len)
{
    json_t *doc = s_registry_find (c->registry, uri, len);
    if (doc) {
        if (json_array_append (c->schema->loaded, doc) != 0) return s_fail (c, "out of memory");
        return doc;
    }
    const char *text = sb_schema_meta_text (uri, len);
    if (!text) return NULL;
    doc = json_loads (text, 0, NULL);
    if (!doc || json_array_append_new (c->schema->loaded, doc) != 0)
        return s_fail (c, "out of memory");
    return doc;
}

//  Walks a JSON Pointer (already percent-decoded, starting with '/') from root.
static json_t *
s_walk_pointer (json_t *root, const char *pointer, size_t len)
{
    char *token = malloc (len + 1);
    if (!token) return NULL;
    json_t *at = root;
    size_t i = 0;
    while (at && i < len) {
        size_t end = i + 1, n = 0;
        while (end < len && pointer[end] != '/')
            end++;
        for (size_t k = i + 1; k < end; k++) {
            if (pointer[k] == '~' && k + 1 < end &&
                (pointer[k + 1] == '0' || pointer[k + 1] == '1'))
                token[n++] = pointer[++k] == '0' ? '~' : '/';
            else
                token[n++] = pointer[k];
        }
        token[n] = 0;
        if (json_is_object (at))
            at = json_object_getn (at, token, n);
        else if (json_is_array (at)) {
            //  An index: digits, no leading zero, in range.
            size_t index = 0;
            int valid = n > 0 && n < 20 && !(n > 1 && token[0] == '0');
            for (size_t k = 0; valid && k < n; k++) {
                valid = token[k] >= '0' && token[k] <= '9';
                index = index * 10 + (size_t)(token[k] - '0');
            }
            at = valid ? json_array_get (at, index) : NULL;
        } else
            at = NULL;
        i = end;
    }
    free (token);
    return at;
}

//  Resolves an absolute reference to a node; *dynamic tells whether it named a
//  $dynamicAnchor. Returns NULL (error recorded) when it cannot.
static sb_schema_node_t *
s_resolve (s_compiler_t *c, const char *uri, int *dynamic)
{
    *dynamic = 0;
    size_t doc_len = sb_schema_uri_without_fragment (uri);
    const char *fragment = uri[doc_len] == '#' ? uri + doc_len + 1 : "";
    s_entry_t *entry = s_map_get (&c->by_uri, uri, doc_len);
    if (!entry) {
        json_t *doc = s_load_document (c, uri, doc_len);
        if (!doc) return c->failed ? NULL : s_fail (c, "cannot resolve reference \"%.200s\"", uri);
        char *doc_uri = s_strndup (c, uri, doc_len);
        if (!doc_uri || !s_compile_document (c, doc, doc_uri, 0, 0)) return NULL;
        entry = s_map_get (&c->by_uri, uri, doc_len);
        if (!entry) return s_fail (c, "cannot resolve reference \"%.200s\"", uri);
    }
    if (!fragment[0]) return entry->node;

    size_t len;
    char *decoded = sb_schema_uri_unescape (fragment, strlen (fragment), &len);
    if (!decoded) return s_fail (c, "out of memory");
    sb_schema_node_t *node = NULL;
    if (decoded[0] == '/') {
        json_t *target = s_walk_pointer (entry->json, decoded, len);
        if (!target)
            s_fail (c, "reference \"%.200s\" points to nothing", uri);
        else if (!(node = s_map_get (&c->by_json, target, 0))) {
            //  A location no keyword made a schema (inside an unknown keyword,
            //  say): compile it now, in the scope of the resource it is in.
            const sb_schema_resource_t *resource = entry->resource;
            s_scope_t scope = {resource ? resource->uri : "", entry->resource, entry->draft,
                               entry->vocab, 0};
            node = s_compile (c, target, &scope, 0);
        }
    } else {
        size_t key_len = doc_len + 1 + len;
        char *key = malloc (key_len + 1);
        if (key) {
            memcpy (key, uri, doc_len);
            key[doc_len] = '#';
            memcpy (key + doc_len + 1, decoded, len + 1);
            s_entry_t *anchor = s_map_get (&c->by_uri, key, key_len);
            if (anchor) {
                node = anchor->node;
                *dynamic = anchor->dynamic;
            } else
                s_fail (c, "reference \"%.200s\" names no anchor", uri);
            free (key);
        } else
            s_fail (c, "out of memory");
    }
    free (decoded);
    return node;
}

static int
s_link (s_compiler_t *c)
{
    //  Resolving may compile more documents and so append to `pending`.
    for (size_t i = 0; i < c->pending_count && !c->failed; i++) {
        s_pending_t *p = &c->pending[i];
        int dynamic;
        sb_schema_node_t *target = s_resolve (c, p->uri, &dynamic);
        p = &c->pending[i]; // the array may have moved
        if (!target) return -1;
        if (p->kind == S_REF)
            p->node->ref = target;
        else {
            p->node->dynamic_ref = target;
            if (dynamic) {
                const char *hash = strchr (p->uri, '#');
                size_t len;
                char *name = sb_schema_uri_unescape (hash + 1, strlen (hash + 1), &len);
                if (!name) {
                    s_fail (c, "out of memory");
                    return -1;
                }
                p->node->dynamic_anchor = s_strndup (c, name, len);
                free (name);
                if (!p->node->dynamic_anchor) return -1;
            }
        }
    }
    return c->failed ? -1 : 0;
}

//  -------------------------------------------------------------------------
//  Public API

sb_schema_t *
sb_schema_new (json_t *doc, sb_draft_t draft, sb_schema_registry_t *registry, char *err,
               size_t err_size)
{
    char scratch[8];
    if (!err || err_size == 0) {
        err = scratch;
        err_size = sizeof scratch;
    }
    err[0] = 0;
    if (!doc) {
        snprintf (err, err_size, "no schema document");
        return NULL;
    }
    sb_schema_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, err_size, "out of memory");
        return NULL;
    }
    self->doc = json_incref (doc);
    self->loaded = json_array ();
    s_compiler_t c = {.schema = self, .registry = registry, .err = err, .err_size = err_size};
    c.by_json.by_pointer = 1;
    if (!self->loaded) {
        s_fail (&c, "out of memory");
        goto cleanup;
    }
    //  The root's dialect: forced by the caller, else its $schema, else 2020-12.
    //  Documents it references without a $schema of their own default to it.
    int root_draft = draft == SB_DRAFT_7 ? SB_DRAFT_7 : SB_DRAFT_2020_12;
    unsigned vocab = S_VOCAB_ALL;
    json_t *dialect = json_object_get (doc, "$schema");
    if (draft == SB_DRAFT_AUTO && dialect) {
        if (!json_is_string (dialect)) {
            s_fail (&c, "\"$schema\" must be a string");
            goto cleanup;
        }
        if (s_dialect (&c, json_string_value (dialect), &root_draft, &vocab, 0) != 0) goto cleanup;
    }
    c.default_draft = root_draft;
    char *root_uri = s_strndup (&c, "", 0);
    if (root_uri) self->root = s_compile_document (&c, doc, root_uri, root_draft, vocab);
    if (self->root) s_link (&c);

cleanup:
    for (size_t i = 0; i < c.pending_count; i++)
        free (c.pending[i].uri);
    free (c.pending);
    free (c.by_json.slots);
    free (c.by_uri.slots);
    if (c.failed || !self->root) {
        if (!err[0]) snprintf (err, err_size, "invalid schema");
        sb_schema_destroy (&self);
    }
    return self;
}

void
sb_schema_destroy (sb_schema_t **self_p)
{
    if (!self_p || !*self_p) return;
    sb_schema_t *self = *self_p;
    //  Regex links live in the arena: free the regexes before the blocks.
    for (sb_schema_regex_link_t *link = self->regexes; link; link = link->next)
        sb_regex_destroy (&link->regex);
    while (self->blocks) {
        sb_schema_block_t *next = self->blocks->next;
        free (self->blocks);
        self->blocks = next;
    }
    sb_regex_scratch_t *spare = atomic_exchange (&self->spare_scratch, NULL);
    sb_regex_scratch_destroy (&spare);
    json_decref (self->loaded);
    json_decref (self->doc);
    free (self);
    *self_p = NULL;
}

const json_t *
sb_schema_document (const sb_schema_t *self)
{
    assert (self);
    return self->doc;
}
