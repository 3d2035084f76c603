/*  sb_schema_node — the compiled form of a schema, shared by the compiler
    (sb_schema.c) and the evaluator (sb_schema_validate.c); internal to lib/engine.
    Every keyword is decoded once into a field of a node, so that validation never
    looks at the schema document again: it follows pointers and compares values.  */

#ifndef SB_SCHEMA_NODE_H_INCLUDED
#define SB_SCHEMA_NODE_H_INCLUDED

#include "sb_regex.h"
#include "sb_schema.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _sb_schema_node_t sb_schema_node_t;

typedef enum {
    SB_NODE_SCHEMA = 0, // an object schema: the fields below apply
    SB_NODE_TRUE,       // boolean schema `true`: anything is valid
    SB_NODE_FALSE,      // boolean schema `false`: nothing is valid
} sb_schema_node_kind_t;

//  Bits of `types` (the `type` keyword).
enum {
    SB_TYPE_NULL = 1 << 0,
    SB_TYPE_BOOLEAN = 1 << 1,
    SB_TYPE_OBJECT = 1 << 2,
    SB_TYPE_ARRAY = 1 << 3,
    SB_TYPE_NUMBER = 1 << 4,
    SB_TYPE_STRING = 1 << 5,
    SB_TYPE_INTEGER = 1 << 6,
};

//  Bits of `groups`: which families of keywords a node has, so that the evaluator
//  skips a whole family with one test.
enum {
    SB_GROUP_NUMBER = 1 << 0,  // multipleOf, maximum, minimum, exclusive*
    SB_GROUP_STRING = 1 << 1,  // maxLength, minLength, pattern
    SB_GROUP_ARRAY = 1 << 2,   // items, prefixItems, contains, *Items, uniqueItems
    SB_GROUP_OBJECT = 1 << 3,  // properties & co, required, *Properties, dependent*
    SB_GROUP_INPLACE = 1 << 4, // allOf, anyOf, oneOf, not, if/then/else
};

//  A named anchor of a resource ($dynamicAnchor), in a singly linked list.
typedef struct _sb_schema_anchor_t {
    const char *name;
    sb_schema_node_t *node;
    struct _sb_schema_anchor_t *next;
} sb_schema_anchor_t;

//  A schema resource (a document root or a subschema with $id). The evaluator
//  keeps the stack of resources it has entered (the dynamic scope) and searches
//  their dynamic anchors for $dynamicRef.
typedef struct {
    const char *uri;                     // absolute URI without fragment; "" for an anonymous root
    sb_schema_anchor_t *dynamic_anchors; // this resource's own, not embedded resources'
} sb_schema_resource_t;

typedef struct {
    const char *name; // borrowed from the schema document; may contain NUL
    size_t len;
} sb_schema_name_t;

//  A property name with its subschema (properties, dependentSchemas); arrays of
//  these are sorted by (len, bytes) for binary search.
typedef struct {
    const char *name;
    size_t len;
    sb_schema_node_t *node;
} sb_schema_named_t;

//  dependentRequired (and draft-07 `dependencies` with an array).
typedef struct {
    const char *name;
    size_t len;
    sb_schema_name_t *names;
    size_t count;
} sb_schema_dependency_t;

typedef struct {
    sb_regex_t *regex;
    const char *source; // the ECMA pattern, for messages
    sb_schema_node_t *node;
} sb_schema_pattern_t;

typedef struct {
    sb_schema_node_t **items;
    size_t count;
} sb_schema_list_t;

//  One compiled schema. Invariants: absent size bounds are 0 (min_*) and SIZE_MAX
//  (max_*); absent number bounds and subschemas are NULL; json_t pointers are
//  borrowed from a document the sb_schema_t holds a reference to.
struct _sb_schema_node_t {
    uint8_t kind;         // sb_schema_node_kind_t
    uint8_t types;        // SB_TYPE_* of `type`; 0 when absent
    uint8_t groups;       // SB_GROUP_*
    uint8_t unique_items; // uniqueItems: true
    uint8_t legacy_items; // prefix_items/items came from draft-07 items array/additionalItems
    sb_schema_resource_t *resource;

    json_t *const_value; // `const`, or NULL
    json_t *enum_values; // `enum` (an array), or NULL
    json_t *multiple_of, *maximum, *minimum, *exclusive_maximum, *exclusive_minimum;
    size_t max_length, min_length; // in code points
    size_t max_items, min_items;
    size_t max_contains, min_contains; // min_contains is 1 unless minContains says otherwise
    size_t max_properties, min_properties;
    sb_schema_pattern_t pattern; // regex NULL when absent

    sb_schema_name_t *required;
    size_t required_count;
    sb_schema_dependency_t *dependent_required;
    size_t dependent_required_count;
    sb_schema_named_t *properties; // sorted
    size_t properties_count;
    sb_schema_pattern_t *pattern_properties;
    size_t pattern_properties_count;
    sb_schema_named_t *dependent_schemas;
    size_t dependent_schemas_count;
    sb_schema_node_t *additional_properties, *property_names, *unevaluated_properties;

    sb_schema_list_t prefix_items; // 2020-12 prefixItems / draft-07 items array
    sb_schema_node_t *items;       // items after the prefix (draft-07: additionalItems too)
    sb_schema_node_t *contains, *unevaluated_items;

    sb_schema_list_t all_of, any_of, one_of;
    sb_schema_node_t *not_schema, *if_schema, *then_schema, *else_schema;

    sb_schema_node_t *ref;         // $ref target
    sb_schema_node_t *dynamic_ref; // $dynamicRef's static target
    const char *dynamic_anchor;    // set when dynamic_ref may resolve through the dynamic scope
};

//  Static nodes for the boolean schemas.
extern sb_schema_node_t sb_schema_node_true;
extern sb_schema_node_t sb_schema_node_false;

//  Memory of a compiled schema: arena blocks, compiled regexes to free and
//  documents to release.
typedef struct _sb_schema_block_t sb_schema_block_t;
typedef struct _sb_schema_regex_link_t sb_schema_regex_link_t;

struct _sb_schema_t {
    json_t *doc;            // the document given to sb_schema_new (a reference)
    json_t *loaded;         // array: registry and embedded documents the schema uses
    sb_schema_node_t *root; // never NULL
    sb_schema_block_t *blocks;
    sb_schema_regex_link_t *regexes;
    //  A regex match block kept between validations so that the steady state
    //  allocates nothing; taken and returned atomically, so concurrent
    //  validations simply allocate their own.
    _Atomic (sb_regex_scratch_t *) spare_scratch;
};

#endif
