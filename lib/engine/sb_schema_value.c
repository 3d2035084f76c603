/*  sb_schema_value — number model, equality and hashing of instance values for
    sb_schema. jansson keeps integers as int64 and the rest as double; JSON Schema
    compares by mathematical value, so every mixed comparison here is exact.  */

#include "sb_schema_value.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

//  2^63 as a double: the first double above every int64.
#define S_TWO_63 9223372036854775808.0

static int
s_is_number (const json_t *v)
{
    return json_is_integer (v) || json_is_real (v);
}

//  Exact comparison of an int64 with a finite double.
static int
s_compare_int_real (json_int_t i, double d)
{
    if (d >= S_TWO_63) return -1;
    if (d < -S_TWO_63) return 1;
    double whole = trunc (d);
    json_int_t w = (json_int_t)whole; // in range: |whole| < 2^63 or == -2^63
    if (i != w) return i < w ? -1 : 1;
    double fraction = d - whole;
    return fraction > 0 ? -1 : fraction < 0 ? 1 : 0;
}

int
sb_schema_value_compare (const json_t *a, const json_t *b)
{
    if (json_is_integer (a) && json_is_integer (b)) {
        json_int_t x = json_integer_value (a), y = json_integer_value (b);
        return x < y ? -1 : x > y ? 1 : 0;
    }
    if (json_is_integer (a))
        return s_compare_int_real (json_integer_value (a), json_real_value (b));
    if (json_is_integer (b))
        return -s_compare_int_real (json_integer_value (b), json_real_value (a));
    double x = json_real_value (a), y = json_real_value (b);
    return x < y ? -1 : x > y ? 1 : 0;
}

int
sb_schema_value_is_integer (const json_t *value)
{
    if (json_is_integer (value)) return 1;
    if (!json_is_real (value)) return 0;
    double d = json_real_value (value);
    return isfinite (d) && d == trunc (d);
}

int
sb_schema_value_multiple_of (const json_t *value, const json_t *divisor)
{
    if (json_is_integer (value) && json_is_integer (divisor)) {
        json_int_t d = json_integer_value (divisor);
        if (d <= 0) return 0;
        return json_integer_value (value) % d == 0;
    }
    double x = json_number_value (value);
    double m = json_number_value (divisor);
    if (!(m > 0) || !isfinite (x)) return 0;
    //  Integral doubles: fmod is exact.
    if (x == trunc (x) && m == trunc (m)) return fmod (x, m) == 0.0;
    double q = x / m;
    if (!isfinite (q)) return fmod (x, m) == 0.0; // exact, and the quotient overflowed
    //  0.0075 / 0.0001 is 74.99999999999999: accept a quotient within a few ulps of
    //  an integer. The tolerance is relative to q, so a large quotient that is
    //  genuinely off by a half (1e10 + 0.5) is still refused.
    double diff = fabs (q - nearbyint (q));
    return diff <= fabs (q) * 4 * DBL_EPSILON;
}

static int
s_equal (const json_t *a, const json_t *b, int depth)
{
    if (depth > SB_SCHEMA_VALUE_MAX_DEPTH) return -1;
    if (s_is_number (a) && s_is_number (b)) return sb_schema_value_compare (a, b) == 0;
    if (json_typeof (a) != json_typeof (b)) return 0;
    switch (json_typeof (a)) {
        case JSON_STRING:
            return json_string_length (a) == json_string_length (b) &&
                   memcmp (json_string_value (a), json_string_value (b), json_string_length (a)) ==
                       0;
        case JSON_ARRAY: {
            size_t n = json_array_size (a);
            if (n != json_array_size (b)) return 0;
            for (size_t i = 0; i < n; i++) {
                int rc = s_equal (json_array_get (a, i), json_array_get (b, i), depth + 1);
                if (rc != 1) return rc;
            }
            return 1;
        }
        case JSON_OBJECT: {
            if (json_object_size (a) != json_object_size (b)) return 0;
            json_t *obj = (json_t *)a; // jansson's iterator API is not const
            for (void *it = json_object_iter (obj); it; it = json_object_iter_next (obj, it)) {
                json_t *other =
                    json_object_getn (b, json_object_iter_key (it), json_object_iter_key_len (it));
                if (!other) return 0;
                int rc = s_equal (json_object_iter_value (it), other, depth + 1);
                if (rc != 1) return rc;
            }
            return 1;
        }
        default: // null, true, false: the type says it all
            return 1;
    }
}

int
sb_schema_value_equal (const json_t *a, const json_t *b)
{
    return s_equal (a, b, 0);
}

//  splitmix64's finaliser: cheap and mixes every input bit into every output bit.
static uint64_t
s_mix (uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

uint64_t
sb_schema_value_hash_bytes (const void *bytes, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL; // FNV-1a
    for (size_t i = 0; i < len; i++) {
        h ^= ((const unsigned char *)bytes)[i];
        h *= 0x100000001b3ULL;
    }
    return s_mix (h);
}

static int
s_hash (const json_t *v, uint64_t *out, int depth)
{
    if (depth > SB_SCHEMA_VALUE_MAX_DEPTH) return -1;
    switch (json_typeof (v)) {
        case JSON_INTEGER:
            *out = s_mix ((uint64_t)json_integer_value (v) ^ 0x1111);
            return 0;
        case JSON_REAL: {
            double d = json_real_value (v);
            //  An integral double equal to some int64 must hash like that integer.
            if (d == trunc (d) && d >= -S_TWO_63 && d < S_TWO_63)
                *out = s_mix ((uint64_t)(json_int_t)d ^ 0x1111);
            else {
                uint64_t bits;
                memcpy (&bits, &d, sizeof bits);
                *out = s_mix (bits ^ 0x2222);
            }
            return 0;
        }
        case JSON_STRING:
            *out = sb_schema_value_hash_bytes (json_string_value (v), json_string_length (v));
            return 0;
        case JSON_ARRAY: {
            uint64_t h = 0x3333;
            for (size_t i = 0; i < json_array_size (v); i++) {
                uint64_t item;
                if (s_hash (json_array_get (v, i), &item, depth + 1) != 0) return -1;
                h = s_mix (h * 31 + item);
            }
            *out = h;
            return 0;
        }
        case JSON_OBJECT: {
            //  Key order must not matter: combine members with a commutative sum.
            uint64_t h = 0x4444;
            json_t *obj = (json_t *)v;
            for (void *it = json_object_iter (obj); it; it = json_object_iter_next (obj, it)) {
                uint64_t value;
                if (s_hash (json_object_iter_value (it), &value, depth + 1) != 0) return -1;
                uint64_t key = sb_schema_value_hash_bytes (json_object_iter_key (it),
                                                           json_object_iter_key_len (it));
                h += s_mix (key ^ (value * 0x9e3779b97f4a7c15ULL));
            }
            *out = s_mix (h);
            return 0;
        }
        case JSON_TRUE:
            *out = 0x5555;
            return 0;
        case JSON_FALSE:
            *out = 0x6666;
            return 0;
        default:
            *out = 0x7777;
            return 0;
    }
}

int
sb_schema_value_hash (const json_t *value, uint64_t *hash)
{
    return s_hash (value, hash, 0);
}

typedef struct {
    uint64_t hash;
    size_t index;
} s_hashed_t;

static int
s_hashed_order (const void *a, const void *b)
{
    const s_hashed_t *x = a, *y = b;
    if (x->hash != y->hash) return x->hash < y->hash ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index ? 1 : 0;
}

//  Below this size the n^2 pairwise scan beats hashing and needs no memory.
#define S_UNIQUE_PAIRWISE 16

int
sb_schema_value_unique (const json_t *array, size_t *first, size_t *second)
{
    size_t n = json_array_size (array);
    if (n <= S_UNIQUE_PAIRWISE) {
        for (size_t i = 0; i < n; i++)
            for (size_t j = i + 1; j < n; j++) {
                int rc =
                    sb_schema_value_equal (json_array_get (array, i), json_array_get (array, j));
                if (rc < 0) return -1;
                if (rc == 1) {
                    *first = i;
                    *second = j;
                    return 0;
                }
            }
        return 1;
    }
    s_hashed_t *items = malloc (n * sizeof *items);
    if (!items) return -1;
    int result = 1;
    for (size_t i = 0; i < n; i++) {
        items[i].index = i;
        if (sb_schema_value_hash (json_array_get (array, i), &items[i].hash) != 0) {
            result = -1;
            goto cleanup;
        }
    }
    qsort (items, n, sizeof *items, s_hashed_order);
    //  Only items of one hash can be equal; compare within each run.
    for (size_t start = 0; start < n && result == 1;) {
        size_t end = start + 1;
        while (end < n && items[end].hash == items[start].hash)
            end++;
        for (size_t i = start; i < end && result == 1; i++)
            for (size_t j = i + 1; j < end; j++) {
                int rc = sb_schema_value_equal (json_array_get (array, items[i].index),
                                                json_array_get (array, items[j].index));
                if (rc != 0) {
                    result = rc < 0 ? -1 : 0;
                    *first = items[i].index;
                    *second = items[j].index;
                    break;
                }
            }
        start = end;
    }
cleanup:
    free (items);
    return result;
}

size_t
sb_schema_value_utf8_length (const char *text, size_t len)
{
    size_t count = 0;
    for (size_t i = 0; i < len; i++)
        count += ((unsigned char)text[i] & 0xC0) != 0x80;
    return count;
}
