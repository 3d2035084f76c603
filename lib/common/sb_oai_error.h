/*  sb_oai_error — OpenAI-style error bodies: {"error":{"message","type","code"}},
    and the error type OpenAI's clients expect for each HTTP status.  */

#ifndef SB_OAI_ERROR_H_INCLUDED
#define SB_OAI_ERROR_H_INCLUDED

#include <stddef.h>

//  Writes the body into buf (NUL-terminated, truncating the message if needed;
//  the JSON stays valid). `type` NULL picks the type for `status`; `code` may be
//  NULL (JSON null). Returns the body length.
size_t sb_oai_error_body (char *buf, size_t size, int status, const char *message, const char *type,
                          const char *code);

//  "invalid_request_error", "authentication_error", ... for an HTTP status.
const char *sb_oai_error_type (int status);

//  Appends `text` JSON-escaped (without quotes) to buf at *len, stopping before
//  size - 1. Returns 0, or -1 when it was truncated.
int sb_json_escape_append (char *buf, size_t size, size_t *len, const char *text, size_t text_len);

#endif
