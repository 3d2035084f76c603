/*  sb_regex — ECMA-262 regular expressions (as JSON Schema's `pattern` and
    `patternProperties` use them) compiled to PCRE2. The translation keeps ECMA
    meaning where the two dialects differ: \d \w \b stay ASCII, \s is Unicode
    white space, `.` excludes all line terminators, `$` only matches at the end,
    `[]` / `[^]` are the empty / universal class, \uXXXX and \u{...} escapes,
    long Unicode property names (\p{Letter}, \p{gc=Lu}, \p{Script=Greek}).
    Matching is bounded (match limit) so that a hostile pattern cannot stall a
    worker. A compiled sb_regex_t is immutable and may be shared across threads.  */

#ifndef SB_REGEX_H_INCLUDED
#define SB_REGEX_H_INCLUDED

#include <stddef.h>

typedef struct _sb_regex_t sb_regex_t;
//  Per-thread match state (a PCRE2 match data block), reused across matches.
typedef struct _sb_regex_scratch_t sb_regex_scratch_t;

//  Compiles an ECMA-262 pattern of `len` bytes (UTF-8). Returns NULL when the
//  pattern is invalid or unsupported (e.g. a variable-length lookbehind), writing
//  the reason into err (if err_size > 0). Caller owns the result.
sb_regex_t *sb_regex_new (const char *pattern, size_t len, char *err, size_t err_size);
void sb_regex_destroy (sb_regex_t **self_p);

//  Returns NULL when memory runs out. Caller owns the result.
sb_regex_scratch_t *sb_regex_scratch_new (void);
void sb_regex_scratch_destroy (sb_regex_scratch_t **self_p);

//  Searches `subject` (`len` bytes of UTF-8) for a match anywhere, as ECMA's
//  RegExp.prototype.test does. Returns 1 on a match, 0 on none, -1 when the
//  match limit is hit or the subject is not valid UTF-8. `scratch` may be NULL
//  (a temporary one is then allocated).
int sb_regex_search (const sb_regex_t *self, const char *subject, size_t len,
                     sb_regex_scratch_t *scratch);

//  The PCRE2 pattern the ECMA pattern was translated to (borrowed), for tests.
const char *sb_regex_translated (const sb_regex_t *self);

#endif
