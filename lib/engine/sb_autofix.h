/*  sb_autofix — AutoFix, the tool-call repair engine: a lenient parse (sb_jrepair),
    schema-guided coercion (sb_coerce), then validation (sb_schema). It repairs what
    can be repaired without guessing and rejects the rest, and says what it did in a
    report that prints as {"valid", "arguments", "fixes", "errors"}.

    No global mutable state: the validator service calls it from worker threads,
    each with its own compiled schemas (sb_schema_t is only read).  */

#ifndef SB_AUTOFIX_H_INCLUDED
#define SB_AUTOFIX_H_INCLUDED

#include "sb_schema.h"

#include <jansson.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SB_AUTOFIX_MAX_INPUT    ((size_t)4 << 20) // longer arguments are rejected unread
#define SB_AUTOFIX_MAX_REPORTED 256               // fixes / errors kept in a report
#define SB_AUTOFIX_MAX_MESSAGE  512               // bytes of an error message kept

typedef enum {
    SB_AUTOFIX_AUTO_FIX = 0,      // repair, coerce, validate (the default)
    SB_AUTOFIX_VALIDATE_ONLY = 1, // validate the input as given; change nothing
} sb_autofix_mode_t;

typedef struct _sb_autofix_report_t sb_autofix_report_t;

//  "auto_fix" / "validate_only".
const char *sb_autofix_mode_name (sb_autofix_mode_t mode);
//  Returns 0 and sets *mode, or -1 for an unknown name.
int sb_autofix_mode_from_name (const char *name, sb_autofix_mode_t *mode);

//  Runs AutoFix on the raw arguments text of one tool call (`args`, `len` bytes, not
//  necessarily NUL-terminated). Sets *report to a new report the caller owns (destroy
//  it) and returns 0 — for broken, unfixable and rejected input too, which the
//  report describes. Returns -1 with *report NULL only when memory runs out.
//  The schema is only read: any number of threads may share it.
int sb_autofix_run (const char *args, size_t len, sb_schema_t *schema, sb_autofix_mode_t mode,
                    sb_autofix_report_t **report);

void sb_autofix_report_destroy (sb_autofix_report_t **self_p);

//  1 when `arguments` holds arguments that satisfy the schema (auto_fix), or when
//  the input as given satisfies it (validate_only).
int sb_autofix_report_valid (const sb_autofix_report_t *self);
//  The arguments to release, as JSON text (NUL-terminated; len may be NULL), or NULL
//  when there are none. When nothing had to change they are the input, byte for
//  byte; otherwise compact JSON with the keys in their original order.
const char *sb_autofix_report_arguments (const sb_autofix_report_t *self, size_t *len);
//  1 when the arguments are the input unchanged.
int sb_autofix_report_unchanged (const sb_autofix_report_t *self);

//  Fixes (at most SB_AUTOFIX_MAX_REPORTED; fix_total counts them all): a kind
//  (sb_fix_kind_name) and the JSON Pointer of the value changed.
size_t sb_autofix_report_fix_count (const sb_autofix_report_t *self);
size_t sb_autofix_report_fix_total (const sb_autofix_report_t *self);
const char *sb_autofix_report_fix_kind (const sb_autofix_report_t *self, size_t index);
const char *sb_autofix_report_fix_path (const sb_autofix_report_t *self, size_t index);

//  Errors (at most SB_AUTOFIX_MAX_REPORTED): the JSON Pointer into the arguments, the
//  keyword ("required", "type", ... from the schema; "syntax" when the text cannot be
//  read, "size" when it is too long) and a message.
size_t sb_autofix_report_error_count (const sb_autofix_report_t *self);
const char *sb_autofix_report_error_path (const sb_autofix_report_t *self, size_t index);
const char *sb_autofix_report_error_keyword (const sb_autofix_report_t *self, size_t index);
const char *sb_autofix_report_error_message (const sb_autofix_report_t *self, size_t index);

//  The report as a jansson object {"valid", "arguments", "fixes", "errors"}: a new
//  reference, or NULL when memory runs out.
json_t *sb_autofix_report_json (const sb_autofix_report_t *self);
//  The same as compact JSON text. Caller owns the result (free); NULL on no memory.
char *sb_autofix_report_to_json (const sb_autofix_report_t *self, size_t *len);

#ifdef __cplusplus
}
#endif

#endif
