/*  sb_router_gen — one generation of the router's configuration: the config
    snapshot, the per-channel curl state (parsed URL, header list) and one channel
    picker per model group. A request holds the generation it started with, so a
    new config (from admin, through sb_clone) never pulls pointers from under a
    request in flight; a retired generation is freed by its last request.  */

#include "sb_router.h"
#include "sb_anthropic.h"
#include "sb_channel_picker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
s_destroy (sb_rgen_t *gen)
{
    for (size_t i = 0; gen->channels && i < gen->channel_count; i++) {
        curl_url_cleanup (gen->channels[i].url);
        curl_slist_free_all (gen->channels[i].headers);
    }
    for (size_t g = 0; gen->pickers && g < gen->group_count; g++)
        sb_picker_destroy (&gen->pickers[g]);
    free (gen->channels);
    free (gen->pickers);
    sb_config_destroy (&gen->config);
    free (gen);
}

sb_rgen_t *
sb_rgen_new (sb_config_t **config_p)
{
    sb_rgen_t *gen = calloc (1, sizeof *gen);
    if (!gen) return NULL;
    gen->config = *config_p;
    *config_p = NULL;
    size_t n = sb_config_channel_count (gen->config);
    gen->channel_count = n;
    gen->channels = calloc (n ? n : 1, sizeof (sb_rchannel_t));
    if (!gen->channels) goto fail;
    for (size_t i = 0; i < n; i++) {
        const sb_channel_t *ch = sb_config_channel (gen->config, i);
        sb_rchannel_t *rc = &gen->channels[i];
        char url[2048];
        size_t blen = strlen (ch->base_url);
        if (ch->type == SB_CHANNEL_ANTHROPIC) {
            //  "https://api.anthropic.com" or ".../v1": both reach /v1/messages.
            bool has_v1 = blen >= 3 && strcmp (ch->base_url + blen - 3, "/v1") == 0;
            snprintf (url, sizeof url, "%s%s", ch->base_url,
                      has_v1 ? "/messages" : sb_anthropic_path ());
        } else
            snprintf (url, sizeof url, "%s/chat/completions", ch->base_url);
        rc->url = curl_url ();
        if (curl_url_set (rc->url, CURLUPART_URL, url, 0) != CURLUE_OK) {
            fprintf (stderr, "router: channel %s: bad base_url\n", ch->name);
            goto fail;
        }
        char line[4096];
        if (ch->type == SB_CHANNEL_ANTHROPIC) {
            sb_anthropic_header_t hdrs[SB_ANTHROPIC_HEADER_COUNT];
            size_t nh = sb_anthropic_headers (ch->api_key, hdrs);
            for (size_t h = 0; h < nh; h++) {
                snprintf (line, sizeof line, "%s: %s", hdrs[h].name, hdrs[h].value);
                rc->headers = curl_slist_append (rc->headers, line);
            }
        } else {
            snprintf (line, sizeof line, "Authorization: Bearer %s", ch->api_key);
            rc->headers = curl_slist_append (NULL, line);
            rc->headers = curl_slist_append (rc->headers, "Content-Type: application/json");
        }
        rc->headers = curl_slist_append (rc->headers, "Expect:"); // no 100-continue round trip
        for (size_t h = 0; h < ch->header_count; h++) {
            snprintf (line, sizeof line, "%s: %s", ch->headers[h].from, ch->headers[h].to);
            rc->headers = curl_slist_append (rc->headers, line);
        }
        memset (line, 0, sizeof line);
    }

    n = sb_config_group_count (gen->config);
    gen->group_count = n;
    gen->pickers = calloc (n ? n : 1, sizeof (sb_picker_t *));
    if (!gen->pickers) goto fail;
    sb_config_t *config = gen->config;
    for (size_t g = 0; g < n; g++) {
        const sb_group_t *group = sb_config_group (config, g);
        sb_lb_strategy_t strategy = SB_LB_ROUND_ROBIN;
        sb_lb_strategy_from_name (group->strategy, &strategy);
        sb_picker_config_t pc;
        sb_picker_config_default (&pc);
        if (group->cb_failure_threshold >= 0)
            pc.breaker.failure_threshold = group->cb_failure_threshold;
        if (group->cb_window_size >= 0) pc.breaker.window_size = group->cb_window_size;
        if (group->cb_window_min_requests >= 0)
            pc.breaker.window_min_requests = group->cb_window_min_requests;
        if (group->cb_error_ratio > 0) pc.breaker.error_ratio = group->cb_error_ratio;
        if (group->cb_cooldown_ms) pc.breaker.cooldown_ms = group->cb_cooldown_ms;
        if (group->cb_cooldown_max_ms) pc.breaker.cooldown_max_ms = group->cb_cooldown_max_ms;
        if (pc.breaker.cooldown_max_ms < pc.breaker.cooldown_ms)
            pc.breaker.cooldown_max_ms = pc.breaker.cooldown_ms;
        char perr[128];
        if (sb_picker_config_check (&pc, perr, sizeof perr) != 0) {
            fprintf (stderr, "router: group %s: circuit_breaker: %s; using defaults\n", group->name,
                     perr);
            sb_picker_config_default (&pc);
        }
        gen->pickers[g] = sb_picker_new (strategy, 0x5eed0000u + g, &pc);
        for (size_t i = 0; i < group->channel_count && i < 64; i++) {
            const sb_channel_t *ch = sb_config_channel (config, group->channels[i]);
            if (sb_picker_add_channel (gen->pickers[g], ch->name, ch->weight, ch->priority) < 0)
                fprintf (stderr, "router: group %s: channel %s not added to its picker\n",
                         group->name, ch->name);
        }
    }
    return gen;

fail:
    s_destroy (gen);
    return NULL;
}

sb_picker_t *
sb_rgen_picker (sb_rgen_t *gen, size_t group_index)
{
    return group_index < gen->group_count ? gen->pickers[group_index] : NULL;
}

void
sb_rgen_release (sb_rgen_t *gen)
{
    if (!gen) return;
    gen->refs--;
    if (gen->refs == 0 && gen->retired) s_destroy (gen);
}

static const sb_channel_t *
s_channel_named (const sb_config_t *config, const char *name, size_t *index)
{
    for (size_t i = 0; i < sb_config_channel_count (config); i++) {
        const sb_channel_t *ch = sb_config_channel (config, i);
        if (strcmp (ch->name, name) == 0) {
            if (index) *index = i;
            return ch;
        }
    }
    return NULL;
}

typedef struct {
    const sb_config_t *old, *fresh;
} s_pair_t;

//  A namesake in both configs is the same endpoint when its type and URL are.
static bool
s_same_endpoint (const char *name, void *arg)
{
    const s_pair_t *pair = arg;
    const sb_channel_t *a = s_channel_named (pair->old, name, NULL);
    const sb_channel_t *b = s_channel_named (pair->fresh, name, NULL);
    return a && b && a->type == b->type && strcmp (a->base_url, b->base_url) == 0;
}

//  What the old generation learnt about channels the new one keeps (breakers,
//  latency, a provider's Retry-After) carries over: a config change elsewhere must
//  not send traffic back to a channel that is failing.
static void
s_inherit (sb_rgen_t *gen, const sb_rgen_t *old)
{
    s_pair_t pair = {old->config, gen->config};
    for (size_t i = 0; i < gen->channel_count; i++) {
        const sb_channel_t *ch = sb_config_channel (gen->config, i);
        size_t j;
        if (s_channel_named (old->config, ch->name, &j) && s_same_endpoint (ch->name, &pair)) {
            gen->channels[i].unavailable_until_us = old->channels[j].unavailable_until_us;
            gen->channels[i].ewma_ms = old->channels[j].ewma_ms;
        }
    }
    for (size_t g = 0; g < gen->group_count; g++) {
        const sb_group_t *group = sb_config_group (gen->config, g);
        const sb_group_t *was =
            sb_config_group_by_name (old->config, group->name, strlen (group->name));
        if (!was || !gen->pickers[g]) continue;
        size_t og = (size_t)(was - sb_config_group (old->config, 0));
        if (og < old->group_count && old->pickers[og])
            sb_picker_inherit (gen->pickers[g], old->pickers[og], s_same_endpoint, &pair);
    }
}

int
sb_router_install_config (sb_config_t **config_p)
{
    sb_rgen_t *gen = sb_rgen_new (config_p);
    if (!gen) return -1;
    sb_rgen_t *old = sb_router.gen;
    if (old) s_inherit (gen, old);
    sb_router.gen = gen;
    if (old) {
        old->retired = true;
        if (old->refs == 0) s_destroy (old);
    }
    return 0;
}
