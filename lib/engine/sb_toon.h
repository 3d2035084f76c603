/*  sb_toon — encodes a JSON value (jansson) as TOON, the Token-Oriented Object
    Notation, so that the gateway can hand tool results to a model in fewer tokens.
    Targets toon-spec: 4.0 (encoder side only; see docs/toon.md for the policies
    the spec asks implementations to document).

    Every call is self-contained: no global mutable state, safe to call from any
    number of worker threads at once on values that no other thread is changing.  */

#ifndef SB_TOON_H_INCLUDED
#define SB_TOON_H_INCLUDED

#include <jansson.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Limits applied when an option is left at 0.
#define SB_TOON_DEFAULT_INDENT     2
#define SB_TOON_MAX_INDENT         16
#define SB_TOON_DEFAULT_MAX_OUTPUT ((size_t)16 * 1024 * 1024)
#define SB_TOON_DEFAULT_MAX_DEPTH  256
#define SB_TOON_MAX_DEPTH          4096

//  Encoder options. A zeroed struct (or a NULL pointer) means every default.
typedef struct {
    char delimiter;    // document delimiter: ',' (default), '\t' or '|'; 0 means ','
    int indent;        // spaces per level, 1..SB_TOON_MAX_INDENT; 0 means 2
    size_t max_output; // refuse results longer than this many bytes; 0 means the default
    int max_depth;     // refuse values nested deeper than this; 0 means the default
} sb_toon_options_t;

//  Why an encode did not produce a result.
typedef enum {
    SB_TOON_OK = 0,
    SB_TOON_EINVAL = -1,  // NULL value, or an option out of range
    SB_TOON_ETOOBIG = -2, // the result would be longer than max_output (or the caller's buffer)
    SB_TOON_EDEPTH = -3,  // the value nests deeper than max_depth
    SB_TOON_ENOMEM = -4,  // allocation failed
} sb_toon_status_t;

//  Fills opts with the defaults (comma, indent 2, 16 MiB, depth 256).
void sb_toon_options_init (sb_toon_options_t *opts);

//  Encodes value as a TOON document: lines joined by LF, no trailing newline.
//  Returns a NUL-terminated string the caller owns and frees with free(), and its
//  length (without the NUL) in *len when len is not NULL. An empty object encodes
//  to "". Returns NULL on any failure (see sb_toon_encode_ex for the reason).
char *sb_toon_encode (const json_t *value, const sb_toon_options_t *opts, size_t *len);

//  As sb_toon_encode, but returns an sb_toon_status_t. On success *out is the
//  caller-owned result; on failure *out is NULL, *len is 0 and nothing is left
//  allocated. Stops as soon as the output passes max_output, so refusing a huge
//  result costs at most max_output bytes of work.
int sb_toon_encode_ex (const json_t *value, const sb_toon_options_t *opts, char **out, size_t *len);

//  Bounded variant that allocates nothing for the output: writes the document and
//  a NUL into buf (capacity cap bytes, so at most cap - 1 bytes of TOON). Returns
//  SB_TOON_ETOOBIG when it does not fit (buf then holds an unspecified prefix).
//  max_output in opts still applies.
int sb_toon_encode_into (const json_t *value, const sb_toon_options_t *opts, char *buf, size_t cap,
                         size_t *len);

//  A short English description of a status value, for logs.
const char *sb_toon_strerror (int status);

//  Parses JSON text (any value, not only objects/arrays) the way the encoder
//  expects it: key order kept, "\u0000" allowed in strings, duplicate keys keep
//  the first position with the last value. A document holding an integer beyond
//  64 bits is re-read with every integer as a double (as JavaScript reads it), so
//  100000000000000000000 still encodes as a number. Returns a new reference the
//  caller owns, or NULL with error filled in (error may be NULL).
json_t *sb_toon_parse_json (const char *text, size_t len, json_error_t *error);

//  For the gateway: given a message content string, returns TOON only when that
//  is strictly smaller than the text it would replace. The text must be a JSON
//  object or array (leading/trailing whitespace allowed); anything else, invalid
//  JSON, duplicate keys or an integer beyond 64 bits (which would lose its value)
//  is left alone, and so is "{}" (its TOON is the empty string, which some
//  providers refuse as content). opts may be NULL; its max_output is lowered to
//  len - 1 so that encoding stops as soon as TOON can no longer win.
//  Returns 1 with *out (caller frees), *out_len and *saved (len - *out_len) set;
//  0 when the content should stay as it is (*out NULL, *saved 0); -1 on an
//  allocation failure or bad arguments (*out NULL).
int sb_toon_maybe_compress (const char *json, size_t len, const sb_toon_options_t *opts, char **out,
                            size_t *out_len, size_t *saved);

#ifdef __cplusplus
}
#endif

#endif
