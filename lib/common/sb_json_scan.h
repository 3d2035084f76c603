/*  sb_json_scan — one strict pass over a JSON document that validates its grammar
    (RFC 8259) and records where the members of the top-level object are, without
    building a tree. The request path uses it to read `model`, `stream` and the
    like from a body it otherwise forwards byte for byte; full trees are built only
    where a body must be rewritten. (jsmn was tried first: it accepts documents such
    as {"a":1 "b":2}, so it cannot be what decides between 400 and 200.)  */

#ifndef SB_JSON_SCAN_H_INCLUDED
#define SB_JSON_SCAN_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SB_JSON_MAX_DEPTH 128

typedef enum {
    SB_JSON_OBJECT = 'o',
    SB_JSON_ARRAY = 'a',
    SB_JSON_STRING = 's',
    SB_JSON_NUMBER = 'n',
    SB_JSON_TRUE = 't',
    SB_JSON_FALSE = 'f',
    SB_JSON_NULL = 'z',
} sb_json_type_t;

//  A member of the top-level object. key excludes the quotes and is raw (escapes
//  not decoded); value spans the whole value (quotes included for strings).
typedef struct {
    const char *key;
    size_t key_len;
    const char *value;
    size_t value_len;
    sb_json_type_t type;
} sb_json_member_t;

//  Validates `text` as one JSON object and records up to `max` top-level members
//  (later ones are validated but not recorded; *count says how many were seen).
//  Returns 0, or -1 when the text is not a valid JSON object: *why and *where
//  (byte offset) say what and where (either may be NULL).
int sb_json_scan_object (const char *text, size_t len, sb_json_member_t *members, size_t max,
                         size_t *count, const char **why, size_t *where);

//  Validates any JSON value (not only objects). Same return as above.
int sb_json_validate (const char *text, size_t len, const char **why, size_t *where);

//  Finds the top-level member `key` (raw comparison) of an object without
//  validating anything: strings are skipped to their closing quote, containers by
//  depth. For text whose validity decides nothing (the usage of a provider's
//  answer, which goes out as it came): a malformed text finds nothing or a wrong
//  span, never reads outside [text, text + len). 0 and *out, or -1.
int sb_json_lookup (const char *text, size_t len, const char *key, sb_json_member_t *out);

//  The first recorded member named `key` (raw comparison), or NULL.
const sb_json_member_t *sb_json_find (const sb_json_member_t *members, size_t count,
                                      const char *key);

//  Decodes a JSON string value (with its quotes) into out, NUL-terminated. Returns
//  the decoded length, or -1 when it does not fit in out_size - 1 bytes.
int sb_json_unescape (const char *value, size_t len, char *out, size_t out_size);

//  Reads an integer member value; returns 0, or -1 when it is not a non-negative integer.
int sb_json_uint (const sb_json_member_t *member, uint64_t *out);

#endif
