/*  sb_admin_api — admin's REST API over the config store, independent of HTTP:
    takes a method, a decoded path under /api/ and a body, returns a status and a
    JSON body. Every change runs in one store transaction that is committed only
    when the whole resulting config loads (sb_config_from_json); the change then
    gets the next sequence number and the new config is handed to `publish`.
    Secrets: API key secrets are stored as SHA-256 and returned once, at creation
    or rotation; provider api_keys are masked in every response.
    Runs on admin's lws thread only.  */

#ifndef SB_ADMIN_API_H_INCLUDED
#define SB_ADMIN_API_H_INCLUDED

#include "sb_admin_store.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _sb_admin_api_t sb_admin_api_t;

typedef enum {
    SB_ADMIN_GET = 0,
    SB_ADMIN_POST,
    SB_ADMIN_PUT,
    SB_ADMIN_PATCH,
    SB_ADMIN_DELETE,
    SB_ADMIN_OTHER,
} sb_admin_method_t;

typedef struct {
    int status;
    char *body; // JSON text, NUL-terminated; the caller frees it (free)
    size_t len;
} sb_admin_reply_t;

//  Receives every committed config: its sequence number and the services' view
//  (channels with api_key, keys as key_sha256), as JSON text (borrowed).
typedef void (sb_admin_publish_fn) (void *arg, uint64_t seq, const char *json, size_t len);

//  `store` is borrowed and must outlive the API.
sb_admin_api_t *sb_admin_api_new (sb_admin_store_t *store, sb_admin_publish_fn *publish, void *arg);
void sb_admin_api_destroy (sb_admin_api_t **self_p);

//  First start: fills the empty store from a seed document (NULL: start empty)
//  and marks it initialized, as change number 1. API key secrets in the seed
//  ("key") are hashed; "key_sha256" is taken as is. Returns -1 and writes why
//  into err when the seed is invalid (nothing is stored then).
int sb_admin_api_seed (sb_admin_api_t *self, const json_t *seed, char *err, size_t err_size);

//  Publishes the stored config at the current sequence number (start-up, and
//  the once-a-second republish). Returns -1 when the store cannot be read.
int sb_admin_api_publish_current (sb_admin_api_t *self);

//  Serves one request. path is decoded and starts after "/api/" (e.g.
//  "channels/openai-primary"). Always fills reply.
void sb_admin_api_handle (sb_admin_api_t *self, sb_admin_method_t method, const char *path,
                          const char *body, size_t body_len, sb_admin_reply_t *reply);

//  Fills reply with an OpenAI-style error body.
void sb_admin_api_error_reply (sb_admin_reply_t *reply, int status, const char *message,
                               const char *code, const char *param);

//  The masked form of a secret for display: "sk-...abcd" (long secrets), "****"
//  (short ones), "" (empty). Writes into buf (NUL-terminated).
void sb_admin_mask_secret (const char *secret, char *buf, size_t size);

#endif
