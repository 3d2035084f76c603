/*  sb_admin_auth — the admin bearer token: from SB_ADMIN_TOKEN, or generated on
    first start and kept in a 0600 file under the data dir. Only the token's
    SHA-256 stays in memory; a presented token is hashed and compared in constant
    time, so neither its content nor its length leaks through timing.  */

#ifndef SB_ADMIN_AUTH_H_INCLUDED
#define SB_ADMIN_AUTH_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

typedef struct _sb_admin_auth_t sb_admin_auth_t;

//  env_token (non-empty) wins; otherwise the token in token_path, created with a
//  new random token when missing. When a token was generated, it is copied into
//  `generated` (for the caller to print once) and the file path is the only other
//  place it exists. Returns NULL and writes why into err on an unreadable or
//  empty token file or a failed creation.
sb_admin_auth_t *sb_admin_auth_new (const char *env_token, const char *token_path, char *generated,
                                    size_t generated_size, char *err, size_t err_size);
void sb_admin_auth_destroy (sb_admin_auth_t **self_p);

//  True when `header` (an Authorization header value, not NUL-terminated) is
//  "Bearer <token>".
bool sb_admin_auth_check (const sb_admin_auth_t *self, const char *header, size_t len);

//  True when `token` (not NUL-terminated) is the admin token itself; for the
//  places a browser cannot send a header (the dashboard's WebSocket).
bool sb_admin_auth_check_token (const sb_admin_auth_t *self, const char *token, size_t len);

#endif
