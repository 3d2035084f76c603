/*  sb_jrepair — the lenient JSON parser of AutoFix. It reads what a model wrote for
    a tool call (broken quotes, commas, comments, prose around it, truncation...) into
    a lexeme-preserving value tree, and reports every repair it had to make. Where
    the text is ambiguous it backtracks and, failing that, rejects: it never guesses.

    The tree (sb_jdoc_t / sb_jval_t) keeps keys in their written order and numbers as
    their written lexeme, so that printing it back changes nothing the model wrote
    other than what was repaired. sb_coerce edits the same tree; sb_autofix prints it.

    Every call is self-contained (no global mutable state): any number of threads may
    parse at once into different documents.  */

#ifndef SB_JREPAIR_H_INCLUDED
#define SB_JREPAIR_H_INCLUDED

#include <jansson.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Limits. The input limit is the caller's (sb_autofix refuses longer input); the
//  parser itself refuses nesting deeper than SB_JREPAIR_MAX_DEPTH and gives up
//  (rejects) when backtracking would cost more than SB_JREPAIR_STEPS_PER_BYTE steps
//  per input byte.
#define SB_JREPAIR_MAX_DEPTH      128
#define SB_JREPAIR_STEPS_PER_BYTE 64
#define SB_JREPAIR_MAX_UNWRAP     4 // JSON strings holding JSON, unwrapped at the root

//  Everything AutoFix can change, one kind per repair. sb_fix_kind_name gives the
//  stable snake_case name used in reports and in the test corpus.
typedef enum {
    SB_FIX_SURROUNDING_TEXT = 0, // prose before/after the object removed
    SB_FIX_MARKDOWN_FENCE,       // ```json ... ``` fence removed
    SB_FIX_TOOL_CALL_TAG,        // <tool_call> ... </tool_call> removed
    SB_FIX_ACTION_INPUT,         // "Action Input:" label (and what follows the call) removed
    SB_FIX_SINGLE_QUOTES,        // '...' string made a JSON string
    SB_FIX_TYPOGRAPHIC_QUOTES,   // curly-quoted string made a JSON string
    SB_FIX_UNQUOTED_KEY,         // bare key quoted
    SB_FIX_INNER_QUOTE,          // unescaped quote inside a string kept as data
    SB_FIX_ESCAPED_APOSTROPHE,   // \' read as an apostrophe
    SB_FIX_INVALID_ESCAPE,       // unknown escape such as \d kept as backslash + char
    SB_FIX_CONTROL_CHAR,         // raw newline, tab or other control char in a string escaped
    SB_FIX_TRAILING_COMMA,       // comma before a closer removed
    SB_FIX_LEADING_COMMA,        // comma right after an opener removed
    SB_FIX_DOUBLED_COMMA,        // repeated comma removed
    SB_FIX_MISSING_COMMA,        // comma inserted between two members or elements
    SB_FIX_MISMATCHED_CLOSER,    // ']' closing an object (or '}' an array) replaced
    SB_FIX_MISSING_CLOSER,       // container closed where an enclosing one was closed
    SB_FIX_EXTRA_CLOSER,         // closers after the complete object removed
    SB_FIX_COMMENT,              // // or /* */ comment removed
    SB_FIX_WHITESPACE,           // byte-order mark or non-JSON whitespace removed
    SB_FIX_PYTHON_LITERAL,       // True / False / None
    SB_FIX_UNDEFINED,            // undefined member dropped, or undefined element made null
    SB_FIX_NON_FINITE,           // NaN / Infinity made null
    SB_FIX_NUMBER_FORMAT,        // .5 -> 0.5, 21. -> 21, +1 -> 1
    SB_FIX_LEADING_ZERO,         // 0123 kept as the string "0123" (not a JSON number)
    SB_FIX_TRUNCATED,            // container left open at the end of input closed
    SB_FIX_DROPPED_INCOMPLETE,   // member or element cut by the end of input dropped
    SB_FIX_UNWRAPPED_STRING,     // root JSON string holding JSON unwrapped
    SB_FIX_PARSED_STRING,        // string holding an object/array parsed (schema wants one)
    SB_FIX_STRING_TO_NUMBER,     // "10" -> 10 where the schema wants a number
    SB_FIX_STRING_TO_BOOLEAN,    // "true" -> true where the schema wants a boolean
    SB_FIX_STRING_TO_NULL,       // "null" -> null where null (and not string) is allowed
    SB_FIX_NUMBER_TO_STRING,     // 10 -> "10" where the schema wants a string
    SB_FIX_WRAPPED_IN_ARRAY,     // single value made a one-element array
    SB_FIX_KIND_COUNT_
} sb_fix_kind_t;

const char *sb_fix_kind_name (sb_fix_kind_t kind);
//  The kind named `name`, or -1.
int sb_fix_kind_from_name (const char *name);

//  Called once per repair (repeated repairs of one kind at one spot are reported
//  once): `path` is the JSON Pointer of the value repaired, "" for the root.
typedef void (sb_jfix_fn) (void *arg, sb_fix_kind_t kind, const char *path);

typedef struct _sb_jdoc_t sb_jdoc_t; // owns every value created in it
typedef struct _sb_jval_t sb_jval_t; // a value; lives as long as its document

typedef enum {
    SB_JVAL_NULL = 0,
    SB_JVAL_BOOL,
    SB_JVAL_NUMBER,
    SB_JVAL_STRING,
    SB_JVAL_ARRAY,
    SB_JVAL_OBJECT,
} sb_jval_type_t;

//  A document: an arena that refuses to grow past max_bytes (0 = 64 MiB), so that
//  no input can make a parse take unbounded memory. Caller owns the result.
sb_jdoc_t *sb_jdoc_new (size_t max_bytes);
void sb_jdoc_destroy (sb_jdoc_t **self_p);

//  Parse flags.
#define SB_JREPAIR_EXTRACT    1u // find the one object in prose, fences, tags; unwrap a root string
#define SB_JREPAIR_TRUNCATION 2u // close what the end of input left open
#define SB_JREPAIR_STRICT     4u // reject on the first repair (plain JSON, any root)

//  Parses `text` into `doc`. Each repair is reported to on_fix (may be NULL) with its
//  path prefixed by `path_prefix` (NULL = ""), but only once the parse has succeeded.
//  With SB_JREPAIR_EXTRACT the root must be an object (after unwrapping); otherwise
//  it must be an object or an array. Returns the root, or NULL when the text cannot
//  be read without guessing, writing why into err (if err_size > 0); the document
//  may then hold unreachable values, which it frees with itself.
sb_jval_t *sb_jrepair_parse (sb_jdoc_t *doc, const char *text, size_t len, unsigned flags,
                             const char *path_prefix, sb_jfix_fn *on_fix, void *arg, char *err,
                             size_t err_size);

//  Values. Constructors return NULL when the document's memory limit is reached.
//  Strings and keys are copied, UTF-8, may contain NUL. A number is given by its
//  lexeme, which must be a JSON number (the caller checks).
sb_jval_t *sb_jval_new_null (sb_jdoc_t *doc);
sb_jval_t *sb_jval_new_bool (sb_jdoc_t *doc, int value);
sb_jval_t *sb_jval_new_number (sb_jdoc_t *doc, const char *lexeme, size_t len);
sb_jval_t *sb_jval_new_string (sb_jdoc_t *doc, const char *bytes, size_t len);
sb_jval_t *sb_jval_new_array (sb_jdoc_t *doc);
sb_jval_t *sb_jval_new_object (sb_jdoc_t *doc);
//  Append to an array / an object (the key is not checked for duplicates).
//  Return 0, or -1 when memory runs out.
int sb_jval_array_append (sb_jdoc_t *doc, sb_jval_t *array, sb_jval_t *item);
int sb_jval_object_append (sb_jdoc_t *doc, sb_jval_t *object, const char *key, size_t key_len,
                           sb_jval_t *value);

sb_jval_type_t sb_jval_type (const sb_jval_t *self);
int sb_jval_bool (const sb_jval_t *self);
//  The bytes of a string, or the lexeme of a number (not NUL-terminated).
const char *sb_jval_text (const sb_jval_t *self, size_t *len);
//  Elements of an array, members of an object.
size_t sb_jval_size (const sb_jval_t *self);
sb_jval_t *sb_jval_at (const sb_jval_t *self, size_t index);
const char *sb_jval_key_at (const sb_jval_t *self, size_t index, size_t *len);
//  Replaces element / member value `index` (same document).
void sb_jval_set_at (sb_jval_t *self, size_t index, sb_jval_t *value);
//  The value of the first member named key, or NULL.
sb_jval_t *sb_jval_get (const sb_jval_t *self, const char *key, size_t key_len);

//  Compact JSON of the value (keys in order, number lexemes as stored, non-ASCII as
//  UTF-8). Caller owns the result (free), NUL-terminated; NULL when memory runs out.
char *sb_jval_to_json (const sb_jval_t *self, size_t *len);
//  The same value as a jansson tree, for the validator. Integers that do not fit a
//  json_int_t become reals. Returns a new reference, or NULL (memory, or a number
//  that is out of double range).
json_t *sb_jval_to_jansson (const sb_jval_t *self);

#ifdef __cplusplus
}
#endif

#endif
