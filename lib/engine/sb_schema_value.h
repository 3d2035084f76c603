/*  sb_schema_value — instance value semantics JSON Schema needs and jansson does
    not give directly: exact comparison of integers with doubles (1 == 1.0, no
    rounding of 2^53 + 1), deep equality with that number model, a hash that
    agrees with it (for uniqueItems on big arrays), multipleOf on doubles, and
    string length in code points.  */

#ifndef SB_SCHEMA_VALUE_H_INCLUDED
#define SB_SCHEMA_VALUE_H_INCLUDED

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

//  Deep equality and hashing recurse over nested values; beyond this depth they
//  fail with -1 instead of risking the stack (jansson parses up to 2048).
#define SB_SCHEMA_VALUE_MAX_DEPTH 1024

//  Both arguments are numbers (JSON_INTEGER or JSON_REAL): returns -1, 0 or 1 as
//  a is below, equal to or above b, exactly.
int sb_schema_value_compare (const json_t *a, const json_t *b);

//  1 when `value` is a number with no fractional part (1.0 counts), else 0.
int sb_schema_value_is_integer (const json_t *value);

//  1 when the number `value` is an integer multiple of `divisor` (a number > 0),
//  else 0. Integers are exact; doubles allow for the rounding of the division.
int sb_schema_value_multiple_of (const json_t *value, const json_t *divisor);

//  JSON Schema equality: numbers by value, objects regardless of key order.
//  Returns 1 or 0, or -1 when nesting exceeds SB_SCHEMA_VALUE_MAX_DEPTH.
int sb_schema_value_equal (const json_t *a, const json_t *b);

//  A hash consistent with sb_schema_value_equal. Returns 0, or -1 when nesting
//  exceeds SB_SCHEMA_VALUE_MAX_DEPTH.
int sb_schema_value_hash (const json_t *value, uint64_t *hash);

//  A 64-bit hash of `len` bytes (FNV-1a with a final mix), also used by the
//  compiler's maps.
uint64_t sb_schema_value_hash_bytes (const void *bytes, size_t len);

//  Checks an array for duplicate items. Returns 1 when all are distinct, 0 when
//  two are equal (their indexes, first < second, go to *first and *second),
//  -1 on nesting too deep or out of memory.
int sb_schema_value_unique (const json_t *array, size_t *first, size_t *second);

//  Number of code points in `len` bytes of UTF-8 (continuation bytes not counted).
size_t sb_schema_value_utf8_length (const char *text, size_t len);

#endif
