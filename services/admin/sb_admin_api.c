/*  sb_admin_api — CRUD over the config store. Each kind of object is described
    once (s_kinds: its id field, limit, how a body becomes a stored document and
    how a document is shown); the handlers are generic over that table. What a
    valid config is, is decided by sb_config_from_json on the whole candidate, so
    admin never accepts a config that the services would refuse.  */

#include "sb_admin_api.h"
#include "sb_clone.h"
#include "sb_config.h"
#include "sb_oai_error.h"
#ifdef SB_ADMIN_HAVE_SCHEMA
#include "sb_schema.h"
#endif

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_MAX_ID        256 // bytes in a name (SB_MAX_NAME of the protocol)
#define S_MAX_SETTINGS  1000
#define S_MIN_KEY_LEN   16 // a secret chosen by the caller (generated ones have 35)
#define S_MAX_KEY_LEN   256
#define S_KEY_HEX_BYTES 16 // generated secrets: "sb-" + 32 hex = 128 random bits

struct _sb_admin_api_t {
    sb_admin_store_t *store; // borrowed
    sb_admin_publish_fn *publish;
    void *publish_arg;
};

//  What went wrong in a request: becomes the OpenAI-style error body.
typedef struct {
    int status;
    char code[48];
    char param[200];
    char message[700];
} s_err_t;

static int
s_fail (s_err_t *e, int status, const char *code, const char *param, const char *fmt, ...)
{
    e->status = status;
    snprintf (e->code, sizeof e->code, "%s", code);
    snprintf (e->param, sizeof e->param, "%s", param ? param : "");
    va_list args;
    va_start (args, fmt);
    vsnprintf (e->message, sizeof e->message, fmt, args);
    va_end (args);
    return -1;
}

static int
s_store_fail (sb_admin_api_t *self, s_err_t *e)
{
    return s_fail (e, 500, "store_error", NULL, "The config store failed: %s",
                   sb_admin_store_error (self->store));
}

//  -------------------------------------------------------------------------
//  Secrets

void
sb_admin_mask_secret (const char *secret, char *buf, size_t size)
{
    size_t len = secret ? strlen (secret) : 0;
    if (len == 0)
        snprintf (buf, size, "%s", "");
    else if (len < 12) //  too short to show any of it
        snprintf (buf, size, "%s", "****");
    else
        snprintf (buf, size, "%.3s...%s", secret, secret + len - 4);
}

static void
s_hex (const unsigned char *bytes, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}

static int
s_generate_secret (char *out, size_t size)
{
    unsigned char bytes[S_KEY_HEX_BYTES];
    if (size < 4 + 2 * S_KEY_HEX_BYTES || RAND_bytes (bytes, sizeof bytes) != 1) return -1;
    memcpy (out, "sb-", 3);
    s_hex (bytes, sizeof bytes, out + 3);
    OPENSSL_cleanse (bytes, sizeof bytes);
    return 0;
}

//  -------------------------------------------------------------------------
//  Field checks

static const char *
s_str (const json_t *obj, const char *field, const char *fallback)
{
    const json_t *v = json_object_get (obj, field);
    return json_is_string (v) ? json_string_value (v) : fallback;
}

//  An object's id: a non-empty string without control characters or '/' (it
//  appears in URL paths), at most S_MAX_ID bytes.
static int
s_check_id (const json_t *doc, const char *field, s_err_t *e)
{
    const json_t *v = json_object_get (doc, field);
    if (!v || json_is_null (v))
        return s_fail (e, 400, "missing_field", field, "%s is required", field);
    if (!json_is_string (v))
        return s_fail (e, 400, "invalid_type", field, "%s must be a string", field);
    const char *s = json_string_value (v);
    size_t len = json_string_length (v);
    if (len == 0 || len > S_MAX_ID)
        return s_fail (e, 400, "invalid_value", field, "%s must be 1 to %d bytes", field, S_MAX_ID);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == '/')
            return s_fail (e, 400, "invalid_value", field,
                           "%s must not contain '/' or control characters", field);
    return 0;
}

static int
s_check_optional (const json_t *doc, const char *field, json_type type, const char *what,
                  s_err_t *e)
{
    const json_t *v = json_object_get (doc, field);
    if (!v || json_is_null (v) || json_typeof (v) == type) return 0;
    return s_fail (e, 400, "invalid_type", field, "%s must be %s", field, what);
}

//  The field path an sb_config error starts with ("channels[x].base_url must ..."
//  → "channels[x].base_url"): the text up to the first space or colon outside
//  brackets (names in brackets may contain either).
static void
s_param_of (const char *message, char *param, size_t size)
{
    size_t n = 0;
    int depth = 0;
    for (const char *p = message; *p && n + 1 < size; p++) {
        if (*p == '[') depth++;
        if (*p == ']' && depth > 0) depth--;
        if (depth == 0 && (*p == ' ' || *p == ':')) break;
        param[n++] = *p;
    }
    param[n] = '\0';
}

//  -------------------------------------------------------------------------
//  Kinds: how a request body becomes a stored document, and how a stored
//  document is shown. `old` is the stored document on update (NULL on create);
//  `body` is what the client sent; doc is the candidate, edited in place. A
//  secret to show once is written into `secret` (left empty otherwise).

typedef enum { S_CREATE, S_UPDATE } s_op_t;

typedef struct {
    const json_t *old;
    const json_t *body;
    s_op_t op;
    bool trusted; // from the seed file: short custom secrets allowed
    char secret[S_MAX_KEY_LEN + 1];
} s_change_t;

typedef int (s_normalize_fn) (json_t *doc, s_change_t *change, s_err_t *e);
typedef json_t *(s_present_fn)(const json_t *doc);

static int
s_norm_channel (json_t *doc, s_change_t *change, s_err_t *e)
{
    const json_t *key = json_object_get (doc, "api_key");
    if (key && !json_is_null (key) && !json_is_string (key))
        return s_fail (e, 400, "invalid_type", "api_key", "api_key must be a string");
    if (change->old && json_is_string (json_object_get (change->old, "api_key"))) {
        //  Absent, or sent back in its masked form (GET, edit, PUT): keep the stored
        //  key. To remove it, send "".
        const char *old_key = s_str (change->old, "api_key", "");
        char masked[64];
        sb_admin_mask_secret (old_key, masked, sizeof masked);
        if (!key || json_is_null (key) ||
            (*masked && strcmp (json_string_value (key), masked) == 0))
            json_object_set_new (doc, "api_key", json_string (old_key));
    } else if (key && json_is_null (key))
        json_object_del (doc, "api_key");
    return 0;
}

static int
s_norm_plain (json_t *doc, s_change_t *change, s_err_t *e)
{
    return 0;
}

static bool
s_is_hex64 (const char *s)
{
    if (!s || strlen (s) != 64) return false;
    for (int i = 0; i < 64; i++)
        if (!isxdigit ((unsigned char)s[i])) return false;
    return true;
}

static int
s_set_key_secret (json_t *doc, const char *secret)
{
    unsigned char digest[SHA256_DIGEST_LENGTH];
    char hex[2 * SHA256_DIGEST_LENGTH + 1], hint[64];
    SHA256 ((const unsigned char *)secret, strlen (secret), digest);
    s_hex (digest, sizeof digest, hex);
    sb_admin_mask_secret (secret, hint, sizeof hint);
    json_object_set_new (doc, "key_sha256", json_string (hex));
    json_object_set_new (doc, "key_hint", json_string (hint));
    return 0;
}

//  A caller-chosen secret: printable ASCII without spaces, long enough to guess
//  only by brute force (the seed file may hold short demo keys).
static int
s_check_secret (const char *secret, bool trusted, s_err_t *e)
{
    size_t len = strlen (secret);
    if (len == 0 || len > S_MAX_KEY_LEN || (!trusted && len < S_MIN_KEY_LEN))
        return s_fail (e, 400, "invalid_value", "key", "key must be %d to %d characters",
                       trusted ? 1 : S_MIN_KEY_LEN, S_MAX_KEY_LEN);
    for (size_t i = 0; i < len; i++)
        if (secret[i] <= 0x20 || secret[i] >= 0x7f)
            return s_fail (e, 400, "invalid_value", "key",
                           "key must be printable ASCII without spaces");
    return 0;
}

static int
s_norm_key (json_t *doc, s_change_t *change, s_err_t *e)
{
    const json_t *key = json_object_get (change->body, "key");
    const json_t *hex = json_object_get (change->body, "key_sha256");
    if (change->op == S_UPDATE) {
        if ((key && !json_is_null (key)) || (hex && !json_is_null (hex)))
            return s_fail (e, 400, "immutable_field", key ? "key" : "key_sha256",
                           "%s cannot be changed; POST /api/api_keys/{name}/rotate issues a new "
                           "secret",
                           key ? "key" : "key_sha256");
        //  What identifies the secret always comes from the stored key.
        json_object_del (doc, "key");
        json_object_set (doc, "key_sha256", json_object_get (change->old, "key_sha256"));
        json_object_set (doc, "key_hint", json_object_get (change->old, "key_hint"));
        json_object_set (doc, "created_at", json_object_get (change->old, "created_at"));
        return 0;
    }
    if (key && !json_is_null (key)) {
        if (!json_is_string (key))
            return s_fail (e, 400, "invalid_type", "key", "key must be a string");
        if (s_check_secret (json_string_value (key), change->trusted, e)) return -1;
        snprintf (change->secret, sizeof change->secret, "%s", json_string_value (key));
    } else if (hex && !json_is_null (hex)) {
        //  Importing a key whose secret admin never sees (hashed elsewhere).
        if (!json_is_string (hex) || !s_is_hex64 (json_string_value (hex)))
            return s_fail (e, 400, "invalid_value", "key_sha256",
                           "key_sha256 must be 64 hex digits (SHA-256 of the secret)");
        char lower[65];
        for (int i = 0; i < 64; i++)
            lower[i] = (char)tolower ((unsigned char)json_string_value (hex)[i]);
        lower[64] = '\0';
        json_object_set_new (doc, "key_sha256", json_string (lower));
        json_object_set_new (doc, "key_hint", json_string (""));
    } else if (s_generate_secret (change->secret, sizeof change->secret))
        return s_fail (e, 500, "random_failed", NULL, "No random bytes for a new key");
    json_object_del (doc, "key");
    if (change->secret[0]) s_set_key_secret (doc, change->secret);
    if (!json_is_integer (json_object_get (doc, "created_at")))
        json_object_set_new (doc, "created_at", json_integer ((json_int_t)time (NULL)));
    return 0;
}

static int
s_norm_tool (json_t *doc, s_change_t *change, s_err_t *e)
{
    //  The name a model calls the tool by: OpenAI's function-name rule.
    const char *name = s_str (doc, "name", "");
    size_t len = strlen (name);
    bool ok = len >= 1 && len <= 64;
    for (size_t i = 0; ok && i < len; i++)
        ok = isalnum ((unsigned char)name[i]) || name[i] == '_' || name[i] == '-';
    if (!ok)
        return s_fail (e, 400, "invalid_value", "name",
                       "name must be 1 to 64 letters, digits, '_' or '-'");
    if (s_check_optional (doc, "description", JSON_STRING, "a string", e) ||
        s_check_optional (doc, "parameters", JSON_OBJECT, "a JSON Schema object", e))
        return -1;
#ifdef SB_ADMIN_HAVE_SCHEMA
    json_t *params = json_object_get (doc, "parameters");
    if (params) {
        char err[400];
        sb_schema_t *schema = sb_schema_new (params, SB_DRAFT_AUTO, NULL, err, sizeof err);
        if (!schema)
            return s_fail (e, 400, "invalid_schema", "parameters",
                           "parameters is not a valid JSON Schema: %s", err);
        sb_schema_destroy (&schema);
    }
#endif
    return 0;
}

static int
s_norm_price (json_t *doc, s_change_t *change, s_err_t *e)
{
    static const char *const fields[] = {"input_per_1m", "output_per_1m", "cached_input_per_1m",
                                         "per_request"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const json_t *v = json_object_get (doc, fields[i]);
        if (!v || json_is_null (v)) continue;
        if (!json_is_number (v) || json_number_value (v) < 0 || json_number_value (v) > 1e9)
            return s_fail (e, 400, "invalid_value", fields[i],
                           "%s must be a number from 0 to 1e9 (USD)", fields[i]);
    }
    return s_check_optional (doc, "currency", JSON_STRING, "a string", e);
}

static json_t *
s_present_plain (const json_t *doc)
{
    return json_deep_copy (doc);
}

static json_t *
s_present_channel (const json_t *doc)
{
    json_t *out = json_deep_copy (doc);
    const char *key = s_str (doc, "api_key", NULL);
    if (out && key) {
        char masked[64];
        sb_admin_mask_secret (key, masked, sizeof masked);
        json_object_set_new (out, "api_key", json_string (masked));
    }
    return out;
}

static json_t *
s_present_key (const json_t *doc)
{
    json_t *out = json_deep_copy (doc);
    if (out) json_object_del (out, "key_sha256");
    return out;
}

typedef struct {
    const char *kind;     // store kind, config field and URL segment
    const char *alias;    // another URL segment for it (NULL: none)
    const char *id_field; // field that names an object
    const char *label;    // for messages
    long max;             // objects of this kind (sb_config's limits for the first three)
    s_normalize_fn *normalize;
    s_present_fn *present;
} s_kind_t;

static const s_kind_t s_kinds[] = {
    {"channels", NULL, "name", "channel", 1024, s_norm_channel, s_present_channel},
    {"model_groups", "groups", "name", "model group", 1024, s_norm_plain, s_present_plain},
    {"api_keys", "keys", "name", "API key", 100000, s_norm_key, s_present_key},
    {"tools", NULL, "name", "tool", 10000, s_norm_tool, s_present_plain},
    {"prices", NULL, "model", "price", 10000, s_norm_price, s_present_plain},
};
#define S_KIND_COUNT (sizeof s_kinds / sizeof s_kinds[0])

static const s_kind_t *
s_kind_by_segment (const char *segment)
{
    for (size_t i = 0; i < S_KIND_COUNT; i++)
        if (strcmp (segment, s_kinds[i].kind) == 0 ||
            (s_kinds[i].alias && strcmp (segment, s_kinds[i].alias) == 0))
            return &s_kinds[i];
    return NULL;
}

//  Settings are name → any JSON value; the ones the services read are typed.
static int
s_check_setting (const char *name, const json_t *value, s_err_t *e)
{
    size_t len = strlen (name);
    bool ok = len >= 1 && len <= 128;
    for (size_t i = 0; ok && i < len; i++)
        ok = isalnum ((unsigned char)name[i]) || strchr ("_.-", name[i]);
    if (!ok)
        return s_fail (e, 400, "invalid_value", name,
                       "setting names are 1 to 128 letters, digits, '_', '.' or '-'");
    if (strcmp (name, "auto_detect_tools") == 0 && !json_is_boolean (value))
        return s_fail (e, 400, "invalid_type", name, "%s must be true or false", name);
    return 0;
}

//  -------------------------------------------------------------------------
//  Building, validating and publishing a config

//  The config as the services see it (full = secrets as stored: api_key in
//  clear, keys as key_sha256), or as the API shows it (masked). Caller owns it.
static json_t *
s_build_config (sb_admin_api_t *self, bool full)
{
    json_t *config = json_object ();
    if (!config) return NULL;
    for (size_t i = 0; i < S_KIND_COUNT; i++) {
        json_t *list = sb_admin_store_list (self->store, s_kinds[i].kind);
        if (!list) {
            json_decref (config);
            return NULL;
        }
        if (!full) {
            size_t index;
            json_t *doc;
            json_array_foreach (list, index, doc)
            {
                json_array_set_new (list, index, s_kinds[i].present (doc));
            }
        }
        json_object_set_new (config, s_kinds[i].kind, list);
    }
    json_t *settings = sb_admin_store_list (self->store, "settings");
    if (!settings) {
        json_decref (config);
        return NULL;
    }
    json_object_set_new (config, "settings", settings);
    return config;
}

//  Inside an open transaction: checks that the whole stored config loads, gives
//  it the next sequence number, commits and publishes it. On failure rolls back;
//  a config that does not load answers `invalid_status` with sb_config's reason.
static int
s_commit (sb_admin_api_t *self, int invalid_status, s_err_t *e)
{
    json_t *config = s_build_config (self, true);
    char *text = NULL;
    int rc = -1;
    if (!config) {
        s_store_fail (self, e);
        goto rollback;
    }
    char err[600];
    sb_config_t *check = sb_config_from_json (config, err, sizeof err);
    if (!check) {
        char param[200];
        s_param_of (err, param, sizeof param);
        s_fail (e, invalid_status, invalid_status == 409 ? "in_use" : "invalid_value", param, "%s",
                err);
        goto rollback;
    }
    sb_config_destroy (&check);
    //  Services refuse a config over SB_CLONE_MAX_CONFIG: never commit one.
    text = json_dumps (config, JSON_COMPACT);
    if (!text || strlen (text) > SB_CLONE_MAX_CONFIG) {
        s_fail (e, text ? 400 : 500, "config_too_large", NULL, "The config would exceed %u bytes",
                SB_CLONE_MAX_CONFIG);
        goto rollback;
    }
    uint64_t seq = sb_admin_store_seq (self->store) + 1;
    if (sb_admin_store_set_seq (self->store, seq) || sb_admin_store_commit (self->store)) {
        s_store_fail (self, e);
        goto rollback;
    }
    if (self->publish) self->publish (self->publish_arg, seq, text, strlen (text));
    rc = 0;
    goto cleanup;

rollback:
    sb_admin_store_rollback (self->store);
cleanup:
    if (text) OPENSSL_cleanse (text, strlen (text)); // provider keys in clear
    free (text);
    json_decref (config);
    return rc;
}

static int
s_begin (sb_admin_api_t *self, s_err_t *e)
{
    if (sb_admin_store_begin (self->store) == 0) return 0;
    return s_fail (e, 503, "store_busy", NULL, "The config store is busy: %s",
                   sb_admin_store_error (self->store));
}

int
sb_admin_api_publish_current (sb_admin_api_t *self)
{
    json_t *config = s_build_config (self, true);
    char *text = config ? json_dumps (config, JSON_COMPACT) : NULL;
    json_decref (config);
    if (!text) return -1;
    if (self->publish)
        self->publish (self->publish_arg, sb_admin_store_seq (self->store), text, strlen (text));
    OPENSSL_cleanse (text, strlen (text));
    free (text);
    return 0;
}

//  -------------------------------------------------------------------------
//  Handlers. Each returns 0 with *out (a new reference) and *status, or -1 with e.

static json_t *
s_parse_body (const char *body, size_t len, s_err_t *e)
{
    if (len == 0) {
        s_fail (e, 400, "invalid_json", NULL, "A JSON object body is required");
        return NULL;
    }
    json_error_t jerr;
    json_t *doc = json_loadb (body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        s_fail (e, 400, "invalid_json", NULL, "The body is not valid JSON: %s (line %d, column %d)",
                jerr.text, jerr.line, jerr.column);
        return NULL;
    }
    if (!json_is_object (doc)) {
        json_decref (doc);
        s_fail (e, 400, "invalid_json", NULL, "The body must be a JSON object");
        return NULL;
    }
    return doc;
}

static int
s_not_found (const s_kind_t *kind, const char *id, s_err_t *e)
{
    return s_fail (e, 404, "not_found", NULL, "No %s named \"%s\"", kind->label, id);
}

static int
s_list (sb_admin_api_t *self, const s_kind_t *kind, json_t **out, s_err_t *e)
{
    json_t *list = sb_admin_store_list (self->store, kind->kind);
    if (!list) return s_store_fail (self, e);
    size_t index;
    json_t *doc;
    json_array_foreach (list, index, doc)
    {
        json_array_set_new (list, index, kind->present (doc));
    }
    *out = json_pack ("{s:s, s:o}", "object", "list", "data", list);
    return 0;
}

static int
s_get (sb_admin_api_t *self, const s_kind_t *kind, const char *id, json_t **out, s_err_t *e)
{
    json_t *doc = sb_admin_store_get (self->store, kind->kind, id);
    if (!doc) return s_not_found (kind, id, e);
    *out = kind->present (doc);
    json_decref (doc);
    return 0;
}

//  The answer to a create or a rotation: the object as shown, plus the secret
//  this one time.
static json_t *
s_present_with_secret (const s_kind_t *kind, const json_t *doc, const s_change_t *change)
{
    json_t *out = kind->present (doc);
    if (out && change->secret[0]) json_object_set_new (out, "key", json_string (change->secret));
    return out;
}

//  Stores a new object (inside the caller's transaction, without committing).
static int
s_insert (sb_admin_api_t *self, const s_kind_t *kind, json_t *doc, s_change_t *change, s_err_t *e)
{
    if (s_check_id (doc, kind->id_field, e) || kind->normalize (doc, change, e)) return -1;
    const char *id = s_str (doc, kind->id_field, "");
    long count = sb_admin_store_count (self->store, kind->kind);
    if (count < 0) return s_store_fail (self, e);
    if (count >= kind->max)
        return s_fail (e, 400, "limit_reached", NULL, "At most %ld %ss can be configured",
                       kind->max, kind->label);
    int rc = sb_admin_store_insert (self->store, kind->kind, id, doc);
    if (rc == 1)
        return s_fail (e, 409, "already_exists", kind->id_field, "A %s named \"%s\" already exists",
                       kind->label, id);
    return rc == 0 ? 0 : s_store_fail (self, e);
}

static int
s_create (sb_admin_api_t *self, const s_kind_t *kind, const char *body, size_t len, json_t **out,
          int *status, s_err_t *e)
{
    json_t *doc = s_parse_body (body, len, e);
    if (!doc) return -1;
    s_change_t change = {.body = doc, .op = S_CREATE};
    json_t *candidate = json_deep_copy (doc);
    int rc = -1;
    if (!candidate || s_begin (self, e)) goto cleanup;
    if (s_insert (self, kind, candidate, &change, e)) {
        sb_admin_store_rollback (self->store);
        goto cleanup;
    }
    if (s_commit (self, 400, e)) goto cleanup;
    *out = s_present_with_secret (kind, candidate, &change);
    *status = 201;
    rc = 0;

cleanup:
    OPENSSL_cleanse (change.secret, sizeof change.secret);
    json_decref (candidate);
    json_decref (doc);
    return rc;
}

//  RFC 7396 JSON merge patch: objects merge, null deletes, anything else replaces.
static json_t *
s_merge_patch (json_t *target, const json_t *patch)
{
    if (!json_is_object (patch)) return json_deep_copy (patch);
    json_t *result = json_is_object (target) ? json_deep_copy (target) : json_object ();
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)patch, k, v)
    {
        if (json_is_null (v))
            json_object_del (result, k);
        else
            json_object_set_new (result, k, s_merge_patch (json_object_get (result, k), v));
    }
    return result;
}

//  PUT replaces the object, PATCH merges into it; either may rename it (another
//  id in the body), which the whole-config check refuses while references to
//  the old name remain.
static int
s_update (sb_admin_api_t *self, const s_kind_t *kind, const char *id, bool patch, const char *body,
          size_t len, json_t **out, s_err_t *e)
{
    json_t *given = s_parse_body (body, len, e);
    if (!given) return -1;
    json_t *old = NULL, *doc = NULL;
    s_change_t change = {.body = given, .op = S_UPDATE};
    int rc = -1;
    if (s_begin (self, e)) goto cleanup;
    old = sb_admin_store_get (self->store, kind->kind, id);
    if (!old) {
        sb_admin_store_rollback (self->store);
        s_not_found (kind, id, e);
        goto cleanup;
    }
    change.old = old;
    doc = patch ? s_merge_patch (old, given) : json_deep_copy (given);
    if (!json_object_get (doc, kind->id_field))
        json_object_set_new (doc, kind->id_field, json_string (id));
    if (s_check_id (doc, kind->id_field, e) || kind->normalize (doc, &change, e)) {
        sb_admin_store_rollback (self->store);
        goto cleanup;
    }
    const char *new_id = s_str (doc, kind->id_field, id);
    int src = sb_admin_store_replace (self->store, kind->kind, id, new_id, doc);
    if (src != 0) {
        sb_admin_store_rollback (self->store);
        if (src == 2)
            s_fail (e, 409, "already_exists", kind->id_field, "A %s named \"%s\" already exists",
                    kind->label, new_id);
        else
            s_store_fail (self, e);
        goto cleanup;
    }
    if (s_commit (self, 400, e)) goto cleanup;
    *out = kind->present (doc);
    rc = 0;

cleanup:
    json_decref (doc);
    json_decref (old);
    json_decref (given);
    return rc;
}

static int
s_delete (sb_admin_api_t *self, const s_kind_t *kind, const char *id, json_t **out, s_err_t *e)
{
    if (s_begin (self, e)) return -1;
    int rc = sb_admin_store_delete (self->store, kind->kind, id);
    if (rc != 0) {
        sb_admin_store_rollback (self->store);
        return rc == 1 ? s_not_found (kind, id, e) : s_store_fail (self, e);
    }
    //  Still referenced (a group's channel, a key's group): 409 with the reference.
    if (s_commit (self, 409, e)) return -1;
    *out = json_pack ("{s:s, s:s, s:b}", "id", id, "object", kind->kind, "deleted", 1);
    return 0;
}

//  POST /api/api_keys/{name}/rotate: a new secret (generated, or "key" in the
//  body), shown once; the old one stops working with this config.
static int
s_rotate (sb_admin_api_t *self, const s_kind_t *kind, const char *id, const char *body, size_t len,
          json_t **out, s_err_t *e)
{
    json_t *given = len ? s_parse_body (body, len, e) : json_object ();
    if (!given) return -1;
    json_t *old = NULL, *doc = NULL;
    s_change_t change = {.body = given, .op = S_CREATE};
    int rc = -1;
    if (s_begin (self, e)) goto cleanup;
    old = sb_admin_store_get (self->store, kind->kind, id);
    if (!old) {
        sb_admin_store_rollback (self->store);
        s_not_found (kind, id, e);
        goto cleanup;
    }
    //  The secret comes from the body (or is generated) exactly as on creation.
    doc = json_deep_copy (old);
    json_object_del (doc, "key_sha256");
    json_object_del (doc, "key_hint");
    json_object_set_new (doc, "rotated_at", json_integer ((json_int_t)time (NULL)));
    if (!doc || s_norm_key (doc, &change, e) ||
        sb_admin_store_replace (self->store, kind->kind, id, id, doc) != 0) {
        if (!e->status) s_store_fail (self, e);
        sb_admin_store_rollback (self->store);
        goto cleanup;
    }
    if (s_commit (self, 400, e)) goto cleanup;
    *out = s_present_with_secret (kind, doc, &change);
    rc = 0;

cleanup:
    OPENSSL_cleanse (change.secret, sizeof change.secret);
    json_decref (doc);
    json_decref (old);
    json_decref (given);
    return rc;
}

//  /api/settings and /api/settings/{name}
static int
s_settings (sb_admin_api_t *self, sb_admin_method_t method, const char *name, const char *body,
            size_t len, json_t **out, s_err_t *e)
{
    if (!name && method == SB_ADMIN_GET) {
        *out = sb_admin_store_list (self->store, "settings");
        return *out ? 0 : s_store_fail (self, e);
    }
    if (name && method == SB_ADMIN_GET) {
        json_t *value = sb_admin_store_get (self->store, "settings", name);
        if (!value) return s_fail (e, 404, "not_found", NULL, "No setting named \"%s\"", name);
        *out = json_pack ("{s:s, s:o}", "name", name, "value", value);
        return 0;
    }
    if (method == SB_ADMIN_DELETE && name) {
        if (s_begin (self, e)) return -1;
        int rc = sb_admin_store_delete (self->store, "settings", name);
        if (rc != 0) {
            sb_admin_store_rollback (self->store);
            return rc == 1 ? s_fail (e, 404, "not_found", NULL, "No setting named \"%s\"", name)
                           : s_store_fail (self, e);
        }
        if (s_commit (self, 409, e)) return -1;
        *out = json_pack ("{s:s, s:s, s:b}", "id", name, "object", "settings", "deleted", 1);
        return 0;
    }
    bool put = method == SB_ADMIN_PUT, patch = method == SB_ADMIN_PATCH;
    if (!put && !(patch && !name))
        return s_fail (e, 405, "method_not_allowed", NULL, "Method not allowed here");
    //  The name first: it comes from the path (any bytes), not from parsed JSON.
    if (name && s_check_setting (name, json_true (), e)) return -1;
    json_t *given = s_parse_body (body, len, e);
    if (!given) return -1;
    int rc = -1;
    //  PUT /settings/{name} takes {"value": v}; PUT /settings replaces all of them,
    //  PATCH /settings merges (null removes a setting).
    json_t *changes = name ? json_pack ("{s:O?}", name, json_object_get (given, "value")) : given;
    if (!changes) {
        s_fail (e, 500, "internal_error", NULL, "Out of memory");
        goto cleanup;
    }
    if (name && !json_object_get (given, "value")) {
        s_fail (e, 400, "missing_field", "value", "value is required");
        goto cleanup;
    }
    if (!name && json_object_size (given) > S_MAX_SETTINGS) {
        s_fail (e, 400, "limit_reached", NULL, "At most %d settings", S_MAX_SETTINGS);
        goto cleanup;
    }
    const char *k;
    json_t *v;
    json_object_foreach (changes, k, v)
    {
        if (!(patch && json_is_null (v)) && s_check_setting (k, v, e)) goto cleanup;
    }
    if (s_begin (self, e)) goto cleanup;
    if (put && !name && sb_admin_store_delete_all (self->store, "settings")) {
        s_store_fail (self, e);
        sb_admin_store_rollback (self->store);
        goto cleanup;
    }
    json_object_foreach (changes, k, v)
    {
        int src = patch && json_is_null (v) ? sb_admin_store_delete (self->store, "settings", k)
                                            : sb_admin_store_upsert (self->store, "settings", k, v);
        if (src < 0) {
            s_store_fail (self, e);
            sb_admin_store_rollback (self->store);
            goto cleanup;
        }
    }
    if (sb_admin_store_count (self->store, "settings") > S_MAX_SETTINGS) {
        sb_admin_store_rollback (self->store);
        s_fail (e, 400, "limit_reached", NULL, "At most %d settings", S_MAX_SETTINGS);
        goto cleanup;
    }
    if (s_commit (self, 400, e)) goto cleanup;
    if (name)
        *out = json_pack ("{s:s, s:O}", "name", name, "value", json_object_get (given, "value"));
    else
        *out = sb_admin_store_list (self->store, "settings");
    rc = *out ? 0 : s_store_fail (self, e);

cleanup:
    if (changes != given) json_decref (changes);
    json_decref (given);
    return rc;
}

//  -------------------------------------------------------------------------

sb_admin_api_t *
sb_admin_api_new (sb_admin_store_t *store, sb_admin_publish_fn *publish, void *arg)
{
    sb_admin_api_t *self = calloc (1, sizeof *self);
    if (!self) return NULL;
    self->store = store;
    self->publish = publish;
    self->publish_arg = arg;
    return self;
}

void
sb_admin_api_destroy (sb_admin_api_t **self_p)
{
    if (!self_p || !*self_p) return;
    free (*self_p);
    *self_p = NULL;
}

int
sb_admin_api_seed (sb_admin_api_t *self, const json_t *seed, char *err, size_t err_size)
{
    s_err_t e = {0};
    if (seed) {
        //  The seed's own check first: its messages name the seed's fields.
        sb_config_t *check = sb_config_from_json (seed, err, err_size);
        if (!check) return -1;
        sb_config_destroy (&check);
    }
    if (s_begin (self, &e)) goto fail;
    for (size_t i = 0; seed && i < S_KIND_COUNT; i++) {
        const json_t *list = json_object_get (seed, s_kinds[i].kind);
        if (list && !json_is_array (list)) {
            s_fail (&e, 400, "invalid_type", s_kinds[i].kind, "%s must be an array",
                    s_kinds[i].kind);
            goto rollback;
        }
        size_t index;
        json_t *item;
        json_array_foreach (list, index, item)
        {
            if (!json_is_object (item)) {
                s_fail (&e, 400, "invalid_type", s_kinds[i].kind, "%s[%zu] must be an object",
                        s_kinds[i].kind, index);
                goto rollback;
            }
            json_t *doc = json_deep_copy (item);
            s_change_t change = {.body = item, .op = S_CREATE, .trusted = true};
            int rc = s_insert (self, &s_kinds[i], doc, &change, &e);
            OPENSSL_cleanse (change.secret, sizeof change.secret);
            json_decref (doc);
            if (rc) {
                //  Name the seed entry: "channels[2]: base_url must be ...".
                char what[sizeof e.message];
                int n = snprintf (what, sizeof what, "%s[%zu]: ", s_kinds[i].kind, index);
                if (n > 0 && (size_t)n < sizeof what)
                    memcpy (what + n, e.message, sizeof what - (size_t)n - 1);
                what[sizeof what - 1] = '\0';
                memcpy (e.message, what, sizeof what);
                goto rollback;
            }
        }
    }
    const json_t *settings = seed ? json_object_get (seed, "settings") : NULL;
    if (settings && !json_is_object (settings)) {
        s_fail (&e, 400, "invalid_type", "settings", "settings must be an object");
        goto rollback;
    }
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)settings, k, v)
    {
        if (s_check_setting (k, v, &e)) goto rollback;
        if (sb_admin_store_upsert (self->store, "settings", k, v)) {
            s_store_fail (self, &e);
            goto rollback;
        }
    }
    if (sb_admin_store_mark_initialized (self->store)) {
        s_store_fail (self, &e);
        goto rollback;
    }
    if (s_commit (self, 400, &e)) goto fail;
    return 0;

rollback:
    sb_admin_store_rollback (self->store);
fail:
    snprintf (err, err_size, "%s", e.message);
    return -1;
}

//  Copies text into buf with every byte that is not part of a valid UTF-8
//  sequence replaced by '?': messages quote request paths, which are arbitrary
//  bytes, and may be cut in the middle of a character.
static const char *
s_utf8_clean (const char *text, char *buf, size_t size)
{
    size_t n = 0, len = strlen (text);
    for (size_t i = 0; i < len && n + 1 < size;) {
        unsigned char c = (unsigned char)text[i];
        size_t k = c < 0x80             ? 1
                   : (c & 0xe0) == 0xc0 ? 2
                   : (c & 0xf0) == 0xe0 ? 3
                   : (c & 0xf8) == 0xf0 ? 4
                                        : 0;
        bool ok = k > 0 && i + k <= len && n + k < size;
        for (size_t j = 1; ok && j < k; j++)
            ok = ((unsigned char)text[i + j] & 0xc0) == 0x80;
        //  Overlong forms, surrogates and values past U+10FFFF are invalid too.
        if (ok && k == 2) ok = c >= 0xc2;
        if (ok && k == 3) {
            unsigned char c1 = (unsigned char)text[i + 1];
            ok = !(c == 0xe0 && c1 < 0xa0) && !(c == 0xed && c1 >= 0xa0);
        }
        if (ok && k == 4) {
            unsigned char c1 = (unsigned char)text[i + 1];
            ok = c <= 0xf4 && !(c == 0xf0 && c1 < 0x90) && !(c == 0xf4 && c1 >= 0x90);
        }
        if (!ok) {
            buf[n++] = '?';
            i++;
            continue;
        }
        memcpy (buf + n, text + i, k);
        n += k;
        i += k;
    }
    buf[n] = '\0';
    return buf;
}

void
sb_admin_api_error_reply (sb_admin_reply_t *reply, int status, const char *message,
                          const char *code, const char *param)
{
    char clean_message[1024], clean_param[256];
    s_utf8_clean (message, clean_message, sizeof clean_message);
    s_utf8_clean (param ? param : "", clean_param, sizeof clean_param);
    json_t *body = json_pack ("{s:{s:s, s:s, s:s, s:s?}}", "error", "message", clean_message,
                              "type", sb_oai_error_type (status), "code", code, "param",
                              *clean_param ? clean_param : NULL);
    reply->status = status;
    reply->body = body ? json_dumps (body, JSON_COMPACT) : NULL;
    reply->len = reply->body ? strlen (reply->body) : 0;
    json_decref (body);
}

//  Splits "kind/id/action" (each part without '/'; a trailing '/' is ignored).
//  Returns the number of parts, or -1 when there are more than three or a part is
//  too long.
static int
s_split (const char *path, char parts[3][S_MAX_ID + 1])
{
    int n = 0;
    const char *p = path;
    while (*p) {
        const char *slash = strchr (p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen (p);
        if (len == 0 && !slash) break;
        if (n == 3 || len > S_MAX_ID || len == 0) return -1;
        memcpy (parts[n], p, len);
        parts[n][len] = '\0';
        n++;
        p += len + (slash ? 1 : 0);
    }
    return n;
}

static int
s_route (sb_admin_api_t *self, sb_admin_method_t method, const char *path, const char *body,
         size_t len, json_t **out, int *status, s_err_t *e)
{
    char parts[3][S_MAX_ID + 1];
    int n = s_split (path, parts);
    if (n <= 0) return s_fail (e, 404, "unknown_url", NULL, "Unknown API path /api/%.200s", path);
    const char *id = n >= 2 ? parts[1] : NULL;
    if (strcmp (parts[0], "settings") == 0 && n <= 2)
        return s_settings (self, method, id, body, len, out, e);
    if (strcmp (parts[0], "config") == 0 && n == 1) {
        if (method != SB_ADMIN_GET)
            return s_fail (e, 405, "method_not_allowed", NULL, "Use GET for /api/config");
        json_t *config = s_build_config (self, false);
        if (!config) return s_store_fail (self, e);
        *out = json_pack ("{s:I, s:o}", "seq", (json_int_t)sb_admin_store_seq (self->store),
                          "config", config);
        return 0;
    }
    const s_kind_t *kind = s_kind_by_segment (parts[0]);
    if (!kind) return s_fail (e, 404, "unknown_url", NULL, "Unknown API path /api/%.200s", path);
    if (n == 1) {
        if (method == SB_ADMIN_GET) return s_list (self, kind, out, e);
        if (method == SB_ADMIN_POST) return s_create (self, kind, body, len, out, status, e);
        return s_fail (e, 405, "method_not_allowed", NULL, "Use GET or POST for /api/%s",
                       kind->kind);
    }
    if (n == 3) {
        if (strcmp (kind->kind, "api_keys") == 0 && strcmp (parts[2], "rotate") == 0) {
            if (method != SB_ADMIN_POST)
                return s_fail (e, 405, "method_not_allowed", NULL, "Use POST to rotate a key");
            return s_rotate (self, kind, id, body, len, out, e);
        }
        return s_fail (e, 404, "unknown_url", NULL, "Unknown API path /api/%.200s", path);
    }
    switch (method) {
        case SB_ADMIN_GET:
            return s_get (self, kind, id, out, e);
        case SB_ADMIN_PUT:
        case SB_ADMIN_PATCH:
            return s_update (self, kind, id, method == SB_ADMIN_PATCH, body, len, out, e);
        case SB_ADMIN_DELETE:
            return s_delete (self, kind, id, out, e);
        default:
            return s_fail (e, 405, "method_not_allowed", NULL,
                           "Use GET, PUT, PATCH or DELETE for /api/%s/{%s}", kind->kind,
                           kind->id_field);
    }
}

void
sb_admin_api_handle (sb_admin_api_t *self, sb_admin_method_t method, const char *path,
                     const char *body, size_t body_len, sb_admin_reply_t *reply)
{
    s_err_t e = {0};
    json_t *out = NULL;
    int status = 200;
    if (s_route (self, method, path, body, body_len, &out, &status, &e) != 0 || !out) {
        json_decref (out);
        if (!e.status) s_fail (&e, 500, "internal_error", NULL, "Out of memory");
        sb_admin_api_error_reply (reply, e.status, e.message, e.code, e.param);
        return;
    }
    reply->status = status;
    reply->body = json_dumps (out, JSON_COMPACT);
    //  The body may hold a secret shown once: wipe the tree's copy of it.
    json_t *key = json_object_get (out, "key");
    if (json_is_string (key))
        OPENSSL_cleanse ((void *)json_string_value (key), json_string_length (key));
    json_decref (out);
    if (!reply->body) {
        sb_admin_api_error_reply (reply, 500, "Out of memory", "internal_error", NULL);
        return;
    }
    reply->len = strlen (reply->body);
}
