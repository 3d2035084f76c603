/*  sb_config — one immutable snapshot of the gateway's configuration: channels,
    model groups, API keys and settings, in the field names of the reference
    gateway (see DESIGN.md). Services read config only through a snapshot; a new
    snapshot (from the seed file now, from admin's Clone stream later) replaces the
    old one whole, so a request sees one consistent config from start to end.  */

#ifndef SB_CONFIG_H_INCLUDED
#define SB_CONFIG_H_INCLUDED

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _sb_config_t sb_config_t;

typedef enum { SB_CHANNEL_OPENAI = 1, SB_CHANNEL_ANTHROPIC = 2 } sb_channel_type_t;
typedef enum {
    SB_TOOLS_DISABLED = 0,
    SB_TOOLS_VALIDATE_ONLY = 1,
    SB_TOOLS_AUTO_FIX = 2
} sb_tool_mode_t;
typedef enum { SB_TOON_DISABLED = 0, SB_TOON_TOOL_RESULTS = 1, SB_TOON_FULL = 2 } sb_toon_mode_t;
typedef enum { SB_BILL_TOKENS = 0, SB_BILL_REQUESTS = 1, SB_BILL_MULTIPLIER = 2 } sb_billing_t;

typedef struct {
    uint32_t connect_ms, first_byte_ms, idle_ms, total_ms; // 0 = inherit
} sb_timeouts_t;

typedef struct {
    char *from, *to;
} sb_pair_t;

//  A provider endpoint. Invariant: name, base_url non-empty; base_url has no
//  trailing slash; weight >= 1.
typedef struct {
    char *name;
    sb_channel_type_t type;
    char *base_url;
    char *api_key; // secret: never logged or returned by any API
    char **models;
    size_t model_count;
    int weight;
    int priority; // lower serves first
    sb_pair_t *model_map;
    size_t model_map_count;
    sb_pair_t *headers;
    size_t header_count;
    sb_timeouts_t timeouts;
} sb_channel_t;

//  A model group. channels[] index into the snapshot's channel array.
typedef struct {
    char *name;
    size_t *channels;
    size_t channel_count;
    char **models;
    size_t model_count;
    char *strategy;         // round_robin | weighted | random | least_latency
    sb_timeouts_t timeouts; // from timeout_seconds (total) + optional "timeouts"
    bool tool_validation;
    sb_tool_mode_t tool_mode;
    sb_toon_mode_t toon;
    sb_billing_t billing;
    double cost_multiplier;
    uint32_t max_attempts;
    //  HTTP statuses that fail over to another channel (failover_on); default
    //  408, 429 and every 5xx. Transport errors and timeouts always fail over.
    uint16_t failover_on[32];
    size_t failover_on_count; // 0 = the default rule
    //  circuit_breaker: per-channel breaker settings of this group (-1 / 0 = the
    //  router's defaults, see sb_breaker.h)
    int cb_failure_threshold, cb_window_size, cb_window_min_requests;
    double cb_error_ratio;
    uint32_t cb_cooldown_ms, cb_cooldown_max_ms;
} sb_group_t;

typedef struct {
    char *name;
    unsigned char hash[32]; // SHA-256 of the secret
    size_t *groups;         // indexes into the snapshot's groups
    size_t group_count;
    uint32_t rpm, tpm; // 0 = unlimited
} sb_key_t;

//  Loads a seed file / a JSON document. Returns NULL and writes a reason naming
//  the bad field into err when the config is invalid. Caller owns the result.
sb_config_t *sb_config_load_file (const char *path, char *err, size_t err_size);
sb_config_t *sb_config_from_json (const json_t *root, char *err, size_t err_size);
sb_config_t *sb_config_from_text (const char *text, size_t len, char *err, size_t err_size);
void sb_config_destroy (sb_config_t **self_p);

//  The JSON the snapshot was built from (borrowed), e.g. to cache it on disk.
const json_t *sb_config_json (const sb_config_t *self);

size_t sb_config_channel_count (const sb_config_t *self);
const sb_channel_t *sb_config_channel (const sb_config_t *self, size_t index);
size_t sb_config_group_count (const sb_config_t *self);
const sb_group_t *sb_config_group (const sb_config_t *self, size_t index);
const sb_group_t *sb_config_group_by_name (const sb_config_t *self, const char *name, size_t len);
bool sb_config_auto_detect_tools (const sb_config_t *self);

//  Finds the key whose secret is `secret` (hash lookup, constant-time compare of
//  the digest). Returns NULL when none matches.
const sb_key_t *sb_config_key_by_secret (const sb_config_t *self, const char *secret, size_t len);

//  Resolves a request's model for a key: a group name the key reaches, or a model
//  served by one of the key's groups (first such group in the key's order).
//  Returns the group, or NULL (unknown model → 404).
const sb_group_t *sb_config_resolve_model (const sb_config_t *self, const sb_key_t *key,
                                           const char *model, size_t len);

//  True if the channel serves `model` (its models list, or its model_map keys;
//  an empty models list serves every model).
bool sb_channel_serves (const sb_channel_t *channel, const char *model, size_t len);

//  The price of a model (from the config's `prices`: USD per million tokens and per
//  request). Returns 0 and fills the out-values, or -1 when the model has none.
int sb_config_price (const sb_config_t *self, const char *model, double *input_per_1m,
                     double *output_per_1m, double *per_request);

//  The cost of a request by the group's billing mode: token_based = tokens × prices;
//  request_based = the per-request price; cost_multiplier = token cost × the group's
//  multiplier. Sets *known to whether a price applied; returns the cost in USD.
double sb_config_cost (const sb_config_t *self, const sb_group_t *group, const char *model,
                       uint64_t prompt_tokens, uint64_t completion_tokens, bool *known);

//  True if an upstream HTTP status should fail over to another channel.
bool sb_group_fails_over (const sb_group_t *group, long status);

//  The provider-side model name for a client model (model_map, else unchanged).
const char *sb_channel_map_model (const sb_channel_t *channel, const char *model);

#endif
