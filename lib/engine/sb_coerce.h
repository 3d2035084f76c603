/*  sb_coerce — the schema-guided half of AutoFix. It walks a repaired value tree
    (sb_jrepair) beside its JSON Schema and changes a value only where the type the
    schema allows at that spot rejects it: numeric strings to numbers, "true" and
    "false" to booleans, "null" to null, integers to strings, a single value to a
    one-element array, a string holding an object or array to that object or array.

    The set of types allowed at a spot is computed as a superset of the truth (local
    $ref, $defs/definitions, allOf, anyOf, oneOf, enum, const, type arrays; keywords
    it does not model only widen it), so a value the schema accepts is never changed.
    No global mutable state: safe from any number of threads.  */

#ifndef SB_COERCE_H_INCLUDED
#define SB_COERCE_H_INCLUDED

#include "sb_jrepair.h"

#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Coerces the members of `root` (an object, itself never replaced) in place, new
//  values coming from `doc`. `schema` is the schema document (as given by
//  sb_schema_document). Each change is reported to on_fix (may be NULL) with the
//  JSON Pointer of the value changed. Returns the number of changes made, or -1 when
//  memory ran out (the tree is then partly coerced and should be dropped).
int sb_coerce_apply (sb_jdoc_t *doc, sb_jval_t *root, const json_t *schema, sb_jfix_fn *on_fix,
                     void *arg);

#ifdef __cplusplus
}
#endif

#endif
