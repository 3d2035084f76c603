/*  sb_config — builds an immutable snapshot from the JSON config (seed file or
    admin snapshot). Validation names the offending field; nothing half-built
    escapes: on any error the partial snapshot is destroyed.  */

#include "sb_config.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _sb_config_t {
    json_t *root;
    sb_channel_t *channels;
    size_t channel_count;
    sb_group_t *groups;
    size_t group_count;
    sb_key_t *keys; // sorted by hash, for bsearch
    size_t key_count;
    bool auto_detect_tools;
    struct {
        char *model;
        double input, output, per_request;
    } * prices;
    size_t price_count;
};

#define S_MAX_CHANNELS 1024
#define S_MAX_GROUPS   1024
#define S_MAX_KEYS     100000

static int
s_error (char *err, size_t err_size, const char *fmt, ...)
{
    if (err && err_size) {
        va_list args;
        va_start (args, fmt);
        vsnprintf (err, err_size, fmt, args);
        va_end (args);
    }
    return -1;
}

static const char *
s_get_string (const json_t *obj, const char *field, const char *fallback)
{
    const json_t *v = json_object_get (obj, field);
    return json_is_string (v) ? json_string_value (v) : fallback;
}

static int
s_string_list (const json_t *arr, char ***out, size_t *count, const char *where, char *err,
               size_t err_size)
{
    *out = NULL;
    *count = 0;
    if (!arr) return 0;
    if (!json_is_array (arr))
        return s_error (err, err_size, "%s must be an array of strings", where);
    size_t n = json_array_size (arr);
    *out = calloc (n ? n : 1, sizeof (char *));
    if (!*out) return s_error (err, err_size, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get (arr, i);
        if (!json_is_string (v))
            return s_error (err, err_size, "%s[%zu] must be a string", where, i);
        (*out)[i] = strdup (json_string_value (v));
        (*count)++;
    }
    return 0;
}

static int
s_pairs (const json_t *obj, sb_pair_t **out, size_t *count, const char *where, char *err,
         size_t err_size)
{
    *out = NULL;
    *count = 0;
    if (!obj) return 0;
    if (!json_is_object (obj))
        return s_error (err, err_size, "%s must be an object of strings", where);
    *out = calloc (json_object_size (obj) + 1, sizeof (sb_pair_t));
    if (!*out) return s_error (err, err_size, "out of memory");
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)obj, k, v)
    {
        if (!json_is_string (v)) return s_error (err, err_size, "%s.%s must be a string", where, k);
        (*out)[*count].from = strdup (k);
        (*out)[*count].to = strdup (json_string_value (v));
        (*count)++;
    }
    return 0;
}

static int
s_uint (const json_t *obj, const char *field, uint32_t *out, uint32_t max, const char *where,
        char *err, size_t err_size)
{
    const json_t *v = json_object_get (obj, field);
    if (!v || json_is_null (v)) return 0;
    if (!json_is_integer (v) || json_integer_value (v) < 0 || json_integer_value (v) > max)
        return s_error (err, err_size, "%s.%s must be an integer from 0 to %u", where, field, max);
    *out = (uint32_t)json_integer_value (v);
    return 0;
}

static int
s_timeouts (const json_t *obj, sb_timeouts_t *t, const char *where, char *err, size_t err_size)
{
    if (!obj) return 0;
    if (!json_is_object (obj))
        return s_error (err, err_size, "%s.timeouts must be an object", where);
    const uint32_t day = 86400000u;
    if (s_uint (obj, "connect_ms", &t->connect_ms, day, where, err, err_size) ||
        s_uint (obj, "first_byte_ms", &t->first_byte_ms, day, where, err, err_size) ||
        s_uint (obj, "idle_ms", &t->idle_ms, day, where, err, err_size) ||
        s_uint (obj, "total_ms", &t->total_ms, day, where, err, err_size))
        return -1;
    return 0;
}

static int
s_parse_channel (const json_t *c, sb_channel_t *ch, size_t index, char *err, size_t err_size)
{
    char where[320];
    if (!json_is_object (c))
        return s_error (err, err_size, "channels[%zu] must be an object", index);
    const char *name = s_get_string (c, "name", NULL);
    if (!name || !*name) return s_error (err, err_size, "channels[%zu].name is required", index);
    snprintf (where, sizeof where, "channels[%s]", name);
    ch->name = strdup (name);
    const char *type = s_get_string (c, "type", "openai");
    if (strcmp (type, "anthropic") == 0)
        ch->type = SB_CHANNEL_ANTHROPIC;
    else if (strcmp (type, "openai") == 0 || strcmp (type, "openai_compatible") == 0 ||
             strcmp (type, "openai-compatible") == 0 || strcmp (type, "custom") == 0)
        ch->type = SB_CHANNEL_OPENAI;
    else
        return s_error (err, err_size, "%s.type: unknown type \"%s\"", where, type);
    const char *base = s_get_string (c, "base_url", NULL);
    if (!base || (strncmp (base, "http://", 7) != 0 && strncmp (base, "https://", 8) != 0))
        return s_error (err, err_size, "%s.base_url must be an http(s) URL", where);
    ch->base_url = strdup (base);
    size_t n = strlen (ch->base_url);
    while (n > 0 && ch->base_url[n - 1] == '/')
        ch->base_url[--n] = '\0';
    ch->api_key = strdup (s_get_string (c, "api_key", ""));
    if (s_string_list (json_object_get (c, "models"), &ch->models, &ch->model_count, where, err,
                       err_size))
        return -1;
    uint32_t weight = 1, priority = 1;
    if (s_uint (c, "weight", &weight, 1000000, where, err, err_size) ||
        s_uint (c, "priority", &priority, 1000000, where, err, err_size))
        return -1;
    ch->weight = weight ? (int)weight : 1;
    ch->priority = (int)priority;
    if (s_pairs (json_object_get (c, "model_map"), &ch->model_map, &ch->model_map_count, where, err,
                 err_size) ||
        s_pairs (json_object_get (c, "headers"), &ch->headers, &ch->header_count, where, err,
                 err_size) ||
        s_timeouts (json_object_get (c, "timeouts"), &ch->timeouts, where, err, err_size))
        return -1;
    return 0;
}

static ssize_t
s_channel_index (const sb_config_t *self, const char *name)
{
    for (size_t i = 0; i < self->channel_count; i++)
        if (strcmp (self->channels[i].name, name) == 0) return (ssize_t)i;
    return -1;
}

static int
s_enum (const json_t *g, const char *field, const char *const *names, int count, int fallback,
        int *out, const char *where, char *err, size_t err_size)
{
    const json_t *v = json_object_get (g, field);
    *out = fallback;
    if (!v || json_is_null (v)) return 0;
    const char *s = json_string_value (v);
    for (int i = 0; s && i < count; i++)
        if (strcmp (s, names[i]) == 0) {
            *out = i;
            return 0;
        }
    return s_error (err, err_size, "%s.%s: unknown value", where, field);
}

static int
s_parse_group (sb_config_t *self, const json_t *g, sb_group_t *grp, size_t index, char *err,
               size_t err_size)
{
    char where[320];
    if (!json_is_object (g))
        return s_error (err, err_size, "model_groups[%zu] must be an object", index);
    const char *name = s_get_string (g, "name", NULL);
    if (!name || !*name)
        return s_error (err, err_size, "model_groups[%zu].name is required", index);
    snprintf (where, sizeof where, "model_groups[%s]", name);
    grp->name = strdup (name);

    const json_t *chans = json_object_get (g, "channels");
    if (!json_is_array (chans) || json_array_size (chans) == 0)
        return s_error (err, err_size, "%s.channels must list at least one channel", where);
    //  The router's channel picker keeps per-request exclusions in 64 bits.
    if (json_array_size (chans) > 64)
        return s_error (err, err_size, "%s.channels: at most 64 channels per group", where);
    grp->channels = calloc (json_array_size (chans), sizeof (size_t));
    if (!grp->channels) return s_error (err, err_size, "out of memory");
    for (size_t i = 0; i < json_array_size (chans); i++) {
        const char *cn = json_string_value (json_array_get (chans, i));
        ssize_t ci = cn ? s_channel_index (self, cn) : -1;
        if (ci < 0)
            return s_error (err, err_size, "%s.channels[%zu]: no channel named \"%s\"", where, i,
                            cn ? cn : "?");
        for (size_t k = 0; k < grp->channel_count; k++)
            if (grp->channels[k] == (size_t)ci)
                return s_error (err, err_size, "%s.channels[%zu]: \"%s\" is listed twice", where, i,
                                cn);
        grp->channels[grp->channel_count++] = (size_t)ci;
    }
    if (s_string_list (json_object_get (g, "models"), &grp->models, &grp->model_count, where, err,
                       err_size))
        return -1;

    static const char *const strategies[] = {"round_robin", "weighted", "random", "least_latency"};
    int strategy;
    if (s_enum (g, "load_balance_strategy", strategies, 4, 0, &strategy, where, err, err_size))
        return -1;
    grp->strategy = strdup (strategies[strategy]);

    uint32_t timeout_s = 60;
    if (s_uint (g, "timeout_seconds", &timeout_s, 86400, where, err, err_size)) return -1;
    grp->timeouts.total_ms = timeout_s * 1000u;
    if (s_timeouts (json_object_get (g, "timeouts"), &grp->timeouts, where, err, err_size))
        return -1;

    const json_t *tv = json_object_get (g, "enable_tool_validation");
    grp->tool_validation = json_is_true (tv);
    static const char *const tool_modes[] = {"disabled", "validate_only", "auto_fix"};
    int mode;
    if (s_enum (g, "tool_validation_mode", tool_modes, 3, grp->tool_validation ? 2 : 0, &mode,
                where, err, err_size))
        return -1;
    grp->tool_mode = grp->tool_validation ? (sb_tool_mode_t)mode : SB_TOOLS_DISABLED;

    static const char *const toon_modes[] = {"disabled", "tool_results", "full"};
    int toon;
    if (s_enum (g, "toon_optimization", toon_modes, 3, 0, &toon, where, err, err_size)) return -1;
    grp->toon = (sb_toon_mode_t)toon;

    static const char *const billing[] = {"token_based", "request_based", "cost_multiplier"};
    int bill;
    if (s_enum (g, "billing_mode", billing, 3, 0, &bill, where, err, err_size)) return -1;
    grp->billing = (sb_billing_t)bill;
    const json_t *mult = json_object_get (g, "cost_multiplier");
    grp->cost_multiplier = json_is_number (mult) ? json_number_value (mult) : 1.0;

    uint32_t attempts = 3;
    if (s_uint (g, "max_attempts", &attempts, 16, where, err, err_size)) return -1;
    grp->max_attempts = attempts ? attempts : 1;
    grp->cb_failure_threshold = grp->cb_window_size = grp->cb_window_min_requests = -1;
    grp->cb_error_ratio = -1;
    const json_t *cb = json_object_get (g, "circuit_breaker");
    if (cb) {
        uint32_t v;
        if (!json_is_object (cb))
            return s_error (err, err_size, "%s.circuit_breaker must be an object", where);
        char cbwhere[360];
        snprintf (cbwhere, sizeof cbwhere, "%s.circuit_breaker", where);
        if (json_object_get (cb, "failure_threshold")) {
            if (s_uint (cb, "failure_threshold", &v, 1000, cbwhere, err, err_size)) return -1;
            grp->cb_failure_threshold = (int)v;
        }
        if (json_object_get (cb, "window_size")) {
            if (s_uint (cb, "window_size", &v, 64, cbwhere, err, err_size)) return -1;
            grp->cb_window_size = (int)v;
        }
        if (json_object_get (cb, "window_min_requests")) {
            if (s_uint (cb, "window_min_requests", &v, 64, cbwhere, err, err_size)) return -1;
            grp->cb_window_min_requests = (int)v;
        }
        const json_t *ratio = json_object_get (cb, "error_ratio");
        if (ratio) {
            if (!json_is_number (ratio) || json_number_value (ratio) <= 0 ||
                json_number_value (ratio) > 1)
                return s_error (err, err_size, "%s.error_ratio must be in (0, 1]", cbwhere);
            grp->cb_error_ratio = json_number_value (ratio);
        }
        if (s_uint (cb, "cooldown_ms", &grp->cb_cooldown_ms, 3600000, cbwhere, err, err_size) ||
            s_uint (cb, "cooldown_max_ms", &grp->cb_cooldown_max_ms, 3600000, cbwhere, err,
                    err_size))
            return -1;
    }
    const json_t *fo = json_object_get (g, "failover_on");
    if (fo) {
        if (!json_is_array (fo) || json_array_size (fo) > 32)
            return s_error (err, err_size, "%s.failover_on must be an array of HTTP statuses",
                            where);
        for (size_t i = 0; i < json_array_size (fo); i++) {
            const json_t *v = json_array_get (fo, i);
            if (!json_is_integer (v) || json_integer_value (v) < 100 ||
                json_integer_value (v) > 599)
                return s_error (err, err_size, "%s.failover_on[%zu] must be an HTTP status", where,
                                i);
            grp->failover_on[grp->failover_on_count++] = (uint16_t)json_integer_value (v);
        }
    }
    return 0;
}

static ssize_t
s_group_index (const sb_config_t *self, const char *name)
{
    for (size_t i = 0; i < self->group_count; i++)
        if (strcmp (self->groups[i].name, name) == 0) return (ssize_t)i;
    return -1;
}

//  SHA-256 of a key. OpenSSL 3's one-shot SHA256() looks the algorithm up on every
//  call (most of its cost for a short key, and this runs for every request): it is
//  fetched once here.
static EVP_MD *s_sha256;
static pthread_once_t s_sha256_once = PTHREAD_ONCE_INIT;

static void
s_sha256_fetch (void)
{
    s_sha256 = EVP_MD_fetch (NULL, "SHA256", NULL);
}

static void
s_hash_secret (const char *secret, size_t len, unsigned char out[32])
{
    pthread_once (&s_sha256_once, s_sha256_fetch);
    unsigned int n = 0;
    if (!s_sha256 || !EVP_Digest (secret, len, out, &n, s_sha256, NULL) || n != 32)
        SHA256 ((const unsigned char *)secret, len, out);
}

static int
s_parse_key (sb_config_t *self, const json_t *k, sb_key_t *key, size_t index, char *err,
             size_t err_size)
{
    if (!json_is_object (k))
        return s_error (err, err_size, "api_keys[%zu] must be an object", index);
    const char *name = s_get_string (k, "name", NULL);
    if (!name || !*name) return s_error (err, err_size, "api_keys[%zu].name is required", index);
    key->name = strdup (name);
    //  A plain "key" (seed files) is hashed here; admin snapshots carry "key_sha256".
    const char *secret = s_get_string (k, "key", NULL);
    const char *hex = s_get_string (k, "key_sha256", NULL);
    if (secret && *secret)
        s_hash_secret (secret, strlen (secret), key->hash);
    else if (hex && strlen (hex) == 64) {
        for (int i = 0; i < 32; i++) {
            unsigned int byte;
            if (sscanf (hex + 2 * i, "%2x", &byte) != 1)
                return s_error (err, err_size, "api_keys[%s].key_sha256 is not hex", name);
            key->hash[i] = (unsigned char)byte;
        }
    } else
        return s_error (err, err_size, "api_keys[%s].key is required", name);

    const json_t *groups = json_object_get (k, "model_groups");
    if (!json_is_array (groups) || json_array_size (groups) == 0)
        return s_error (err, err_size, "api_keys[%s].model_groups must list a group", name);
    key->groups = calloc (json_array_size (groups), sizeof (size_t));
    if (!key->groups) return s_error (err, err_size, "out of memory");
    for (size_t i = 0; i < json_array_size (groups); i++) {
        const char *gn = json_string_value (json_array_get (groups, i));
        ssize_t gi = gn ? s_group_index (self, gn) : -1;
        if (gi < 0)
            return s_error (err, err_size, "api_keys[%s].model_groups[%zu]: no group \"%s\"", name,
                            i, gn ? gn : "?");
        key->groups[key->group_count++] = (size_t)gi;
    }
    if (s_uint (k, "rpm", &key->rpm, 100000000, "api_keys", err, err_size) ||
        s_uint (k, "tpm", &key->tpm, 4000000000u, "api_keys", err, err_size))
        return -1;
    return 0;
}

static int
s_key_cmp (const void *a, const void *b)
{
    return memcmp (((const sb_key_t *)a)->hash, ((const sb_key_t *)b)->hash, 32);
}

sb_config_t *
sb_config_from_json (const json_t *root, char *err, size_t err_size)
{
    if (!json_is_object (root)) {
        s_error (err, err_size, "config must be a JSON object");
        return NULL;
    }
    sb_config_t *self = calloc (1, sizeof *self);
    if (!self) return NULL;
    self->root = json_deep_copy (root);

    const json_t *channels = json_object_get (root, "channels");
    const json_t *groups = json_object_get (root, "model_groups");
    const json_t *keys = json_object_get (root, "api_keys");
    if (!json_is_array (channels) || json_array_size (channels) > S_MAX_CHANNELS) {
        s_error (err, err_size, "channels must be an array of at most %d", S_MAX_CHANNELS);
        goto fail;
    }
    if (!json_is_array (groups) || json_array_size (groups) > S_MAX_GROUPS) {
        s_error (err, err_size, "model_groups must be an array of at most %d", S_MAX_GROUPS);
        goto fail;
    }
    if (keys && (!json_is_array (keys) || json_array_size (keys) > S_MAX_KEYS)) {
        s_error (err, err_size, "api_keys must be an array of at most %d", S_MAX_KEYS);
        goto fail;
    }
    self->channels = calloc (json_array_size (channels) + 1, sizeof (sb_channel_t));
    self->groups = calloc (json_array_size (groups) + 1, sizeof (sb_group_t));
    self->keys = calloc (json_array_size (keys) + 1, sizeof (sb_key_t));
    if (!self->channels || !self->groups || !self->keys) goto fail;
    for (size_t i = 0; i < json_array_size (channels); i++) {
        self->channel_count++;
        if (s_parse_channel (json_array_get (channels, i), &self->channels[i], i, err, err_size))
            goto fail;
        if (s_channel_index (self, self->channels[i].name) != (ssize_t)i) {
            s_error (err, err_size, "channels: duplicate name \"%s\"", self->channels[i].name);
            goto fail;
        }
    }
    for (size_t i = 0; i < json_array_size (groups); i++) {
        self->group_count++;
        if (s_parse_group (self, json_array_get (groups, i), &self->groups[i], i, err, err_size))
            goto fail;
        if (s_group_index (self, self->groups[i].name) != (ssize_t)i) {
            s_error (err, err_size, "model_groups: duplicate name \"%s\"", self->groups[i].name);
            goto fail;
        }
    }
    for (size_t i = 0; i < json_array_size (keys); i++) {
        self->key_count++;
        if (s_parse_key (self, json_array_get (keys, i), &self->keys[i], i, err, err_size))
            goto fail;
    }
    qsort (self->keys, self->key_count, sizeof (sb_key_t), s_key_cmp);
    for (size_t i = 1; i < self->key_count; i++)
        if (memcmp (self->keys[i - 1].hash, self->keys[i].hash, 32) == 0) {
            s_error (err, err_size, "api_keys: two keys share one secret");
            goto fail;
        }
    const json_t *prices = json_object_get (root, "prices");
    if (prices && !json_is_array (prices)) {
        s_error (err, err_size, "prices must be an array");
        goto fail;
    }
    self->prices = calloc (json_array_size (prices) + 1, sizeof *self->prices);
    if (!self->prices) goto fail;
    for (size_t i = 0; i < json_array_size (prices); i++) {
        const json_t *pr = json_array_get (prices, i);
        const char *model = s_get_string (pr, "model", NULL);
        if (!model) {
            s_error (err, err_size, "prices[%zu].model is required", i);
            goto fail;
        }
        self->prices[self->price_count].model = strdup (model);
        self->prices[self->price_count].input =
            json_number_value (json_object_get (pr, "input_per_1m"));
        self->prices[self->price_count].output =
            json_number_value (json_object_get (pr, "output_per_1m"));
        self->prices[self->price_count].per_request =
            json_number_value (json_object_get (pr, "per_request"));
        self->price_count++;
    }
    const json_t *settings = json_object_get (root, "settings");
    self->auto_detect_tools = json_is_true (json_object_get (settings, "auto_detect_tools"));
    return self;

fail:
    sb_config_destroy (&self);
    return NULL;
}

sb_config_t *
sb_config_from_text (const char *text, size_t len, char *err, size_t err_size)
{
    json_error_t jerr;
    json_t *root = json_loadb (text, len, 0, &jerr);
    if (!root) {
        s_error (err, err_size, "config is not valid JSON: %s (line %d)", jerr.text, jerr.line);
        return NULL;
    }
    sb_config_t *self = sb_config_from_json (root, err, err_size);
    json_decref (root);
    return self;
}

sb_config_t *
sb_config_load_file (const char *path, char *err, size_t err_size)
{
    json_error_t jerr;
    json_t *root = json_load_file (path, 0, &jerr);
    if (!root) {
        s_error (err, err_size, "%s: %s (line %d)", path, jerr.text, jerr.line);
        return NULL;
    }
    sb_config_t *self = sb_config_from_json (root, err, err_size);
    json_decref (root);
    return self;
}

static void
s_free_list (char **list, size_t n)
{
    for (size_t i = 0; list && i < n; i++)
        free (list[i]);
    free (list);
}

static void
s_free_pairs (sb_pair_t *pairs, size_t n)
{
    for (size_t i = 0; pairs && i < n; i++) {
        free (pairs[i].from);
        free (pairs[i].to);
    }
    free (pairs);
}

void
sb_config_destroy (sb_config_t **self_p)
{
    if (!self_p || !*self_p) return;
    sb_config_t *self = *self_p;
    for (size_t i = 0; self->channels && i < self->channel_count; i++) {
        sb_channel_t *c = &self->channels[i];
        free (c->name);
        free (c->base_url);
        if (c->api_key) OPENSSL_cleanse (c->api_key, strlen (c->api_key));
        free (c->api_key);
        s_free_list (c->models, c->model_count);
        s_free_pairs (c->model_map, c->model_map_count);
        s_free_pairs (c->headers, c->header_count);
    }
    for (size_t i = 0; self->groups && i < self->group_count; i++) {
        sb_group_t *g = &self->groups[i];
        free (g->name);
        free (g->channels);
        s_free_list (g->models, g->model_count);
        free (g->strategy);
    }
    for (size_t i = 0; self->keys && i < self->key_count; i++) {
        free (self->keys[i].name);
        free (self->keys[i].groups);
    }
    for (size_t i = 0; self->prices && i < self->price_count; i++)
        free (self->prices[i].model);
    free (self->prices);
    free (self->channels);
    free (self->groups);
    free (self->keys);
    json_decref (self->root);
    free (self);
    *self_p = NULL;
}

const json_t *
sb_config_json (const sb_config_t *self)
{
    return self->root;
}

size_t
sb_config_channel_count (const sb_config_t *self)
{
    return self->channel_count;
}

const sb_channel_t *
sb_config_channel (const sb_config_t *self, size_t index)
{
    return index < self->channel_count ? &self->channels[index] : NULL;
}

size_t
sb_config_group_count (const sb_config_t *self)
{
    return self->group_count;
}

const sb_group_t *
sb_config_group (const sb_config_t *self, size_t index)
{
    return index < self->group_count ? &self->groups[index] : NULL;
}

static bool
s_eq (const char *a, const char *b, size_t blen)
{
    return strlen (a) == blen && memcmp (a, b, blen) == 0;
}

const sb_group_t *
sb_config_group_by_name (const sb_config_t *self, const char *name, size_t len)
{
    for (size_t i = 0; i < self->group_count; i++)
        if (s_eq (self->groups[i].name, name, len)) return &self->groups[i];
    return NULL;
}

bool
sb_config_auto_detect_tools (const sb_config_t *self)
{
    return self->auto_detect_tools;
}

const sb_key_t *
sb_config_key_by_secret (const sb_config_t *self, const char *secret, size_t len)
{
    sb_key_t probe;
    s_hash_secret (secret, len, probe.hash);
    //  The search order depends only on the digest, which says nothing useful about
    //  the secret; the final equality is checked in constant time.
    size_t lo = 0, hi = self->key_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp (probe.hash, self->keys[mid].hash, 32);
        if (c == 0)
            lo = hi = mid;
        else if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    if (lo < self->key_count && CRYPTO_memcmp (probe.hash, self->keys[lo].hash, 32) == 0)
        return &self->keys[lo];
    return NULL;
}

bool
sb_channel_serves (const sb_channel_t *channel, const char *model, size_t len)
{
    if (channel->model_count == 0) return true;
    for (size_t i = 0; i < channel->model_count; i++)
        if (s_eq (channel->models[i], model, len)) return true;
    for (size_t i = 0; i < channel->model_map_count; i++)
        if (s_eq (channel->model_map[i].from, model, len)) return true;
    return false;
}

bool
sb_group_fails_over (const sb_group_t *group, long status)
{
    if (group->failover_on_count == 0) return status == 408 || status == 429 || status >= 500;
    for (size_t i = 0; i < group->failover_on_count; i++)
        if (group->failover_on[i] == status) return true;
    return false;
}

const char *
sb_channel_map_model (const sb_channel_t *channel, const char *model)
{
    for (size_t i = 0; i < channel->model_map_count; i++)
        if (strcmp (channel->model_map[i].from, model) == 0) return channel->model_map[i].to;
    return model;
}

const sb_group_t *
sb_config_resolve_model (const sb_config_t *self, const sb_key_t *key, const char *model,
                         size_t len)
{
    for (size_t i = 0; i < key->group_count; i++) {
        const sb_group_t *g = &self->groups[key->groups[i]];
        if (s_eq (g->name, model, len)) return g;
    }
    for (size_t i = 0; i < key->group_count; i++) {
        const sb_group_t *g = &self->groups[key->groups[i]];
        for (size_t m = 0; m < g->model_count; m++)
            if (s_eq (g->models[m], model, len)) return g;
    }
    return NULL;
}

int
sb_config_price (const sb_config_t *self, const char *model, double *input_per_1m,
                 double *output_per_1m, double *per_request)
{
    for (size_t i = 0; i < self->price_count; i++)
        if (strcmp (self->prices[i].model, model) == 0) {
            *input_per_1m = self->prices[i].input;
            *output_per_1m = self->prices[i].output;
            *per_request = self->prices[i].per_request;
            return 0;
        }
    return -1;
}

double
sb_config_cost (const sb_config_t *self, const sb_group_t *group, const char *model,
                uint64_t prompt_tokens, uint64_t completion_tokens, bool *known)
{
    double in = 0, out = 0, per = 0;
    *known = sb_config_price (self, model, &in, &out, &per) == 0;
    if (!*known) return 0;
    double tokens = ((double)prompt_tokens * in + (double)completion_tokens * out) / 1e6;
    switch (group->billing) {
        case SB_BILL_REQUESTS:
            return per;
        case SB_BILL_MULTIPLIER:
            return tokens * group->cost_multiplier;
        default:
            return tokens;
    }
}
