/*  sb_schema — JSON Schema validator (draft 2020-12 and draft-07) over jansson trees.
    A schema document is compiled once into an sb_schema_t and then validates any
    number of instances; sb_schema_cache keeps compiled schemas keyed by content so
    that a request's repeated tool definitions compile once.  */

#ifndef SB_SCHEMA_H_INCLUDED
#define SB_SCHEMA_H_INCLUDED

#include <jansson.h>
#include <stddef.h>

typedef struct _sb_schema_t sb_schema_t;
typedef struct _sb_schema_registry_t sb_schema_registry_t;

typedef enum {
    SB_DRAFT_AUTO = 0, // from "$schema"; 2020-12 when absent
    SB_DRAFT_7 = 7,
    SB_DRAFT_2020_12 = 2020,
} sb_draft_t;

//  A registry of schema documents known by URI (remote refs, preloaded: there is
//  no network access). Documents are shared with the registry (json_incref).
sb_schema_registry_t *sb_schema_registry_new (void);
void sb_schema_registry_destroy (sb_schema_registry_t **self_p);
//  Returns 0, or -1 when the URI is empty or memory runs out.
int sb_schema_registry_add (sb_schema_registry_t *self, const char *uri, json_t *doc);

//  Compiles a schema document. `registry` may be NULL; it must outlive the schema.
//  Returns NULL on an invalid schema, writing a reason into err (if err_size > 0).
//  Caller owns the result. The document is shared (json_incref), never modified.
sb_schema_t *sb_schema_new (json_t *doc, sb_draft_t draft, sb_schema_registry_t *registry,
                            char *err, size_t err_size);
void sb_schema_destroy (sb_schema_t **self_p);

//  Called once per failed assertion: the JSON Pointer into the instance, the keyword
//  that failed ("type", "required", ...) and a human-readable message.
typedef void (sb_schema_error_fn) (void *arg, const char *instance_pointer, const char *keyword,
                                   const char *message);

//  Limits of one sb_schema_validate call: nested subschema evaluations (each
//  subschema applied to a value, each $ref followed; under 500 bytes of stack
//  each with gcc -O2, so 512 levels need ~256 KiB) and evaluations in total
//  (hostile schemas can branch exponentially).
//  Reaching either is an internal error (-1), never a crash.
#define SB_SCHEMA_MAX_DEPTH 512
#define SB_SCHEMA_MAX_STEPS 4000000

//  Validates `instance`. Returns 1 when valid, 0 when invalid (on_error, if not NULL,
//  is called for each failure), -1 on an internal error (depth or memory limit).
//  -1 also covers a `pattern` whose match exceeds PCRE2's backtracking limit; errors
//  reported before a -1 are not retracted. The strings given to on_error are valid
//  during the call only.
//  Error pointers: "required" and "dependentRequired" point at the object and name
//  the missing property in the message; a `false` subschema reports the keyword
//  that applied it ("additionalProperties" at the extra property's pointer);
//  failures inside anyOf / oneOf / not / if / contains / propertyNames are summed up
//  as one error of that keyword. Without on_error, evaluation stops at the first
//  failure. Validation changes nothing in a compiled schema but an atomic slot
//  for a spare regex match block: several threads may validate with one
//  sb_schema_t at the same time.
int sb_schema_validate (sb_schema_t *self, const json_t *instance, sb_schema_error_fn *on_error,
                        void *arg);

//  The compiled document (borrowed), for callers such as AutoFix that walk the
//  schema to find the type expected at a spot.
const json_t *sb_schema_document (const sb_schema_t *self);

#endif
