/*  test_sb_config — the seed format loads, keys match by secret only, models
    resolve through the key's groups, and bad configs name the bad field.  */

#include "sb_config.h"
#include "sb_test.h"

static const char *s_good =
    "{\"channels\":["
    " {\"name\":\"a\",\"type\":\"openai\",\"base_url\":\"http://127.0.0.1:1/v1/"
    "\",\"api_key\":\"k\","
    "  \"models\":[\"gpt-4o\"],\"weight\":10,\"priority\":1,\"model_map\":{\"gpt-4\":\"gpt-4o\"},"
    "  \"headers\":{\"x-extra\":\"v\"},\"timeouts\":{\"connect_ms\":3000,\"idle_ms\":500}},"
    " {\"name\":\"b\",\"type\":\"anthropic\",\"base_url\":\"https://api.anthropic.com\","
    "  \"models\":[\"claude\"]}],"
    "\"model_groups\":["
    " {\"name\":\"prod\",\"channels\":[\"a\",\"b\"],\"models\":[\"gpt-4o\",\"claude\"],"
    "  \"load_balance_strategy\":\"weighted\",\"timeout_seconds\":30,"
    "  \"enable_tool_validation\":true,\"tool_validation_mode\":\"validate_only\","
    "  "
    "\"toon_optimization\":\"full\",\"billing_mode\":\"cost_multiplier\",\"cost_multiplier\":1.5},"
    " {\"name\":\"cheap\",\"channels\":[\"a\"],\"models\":[\"gpt-4o-mini\"]}],"
    "\"api_keys\":["
    " {\"name\":\"k1\",\"key\":\"sb-one\",\"model_groups\":[\"prod\"],\"rpm\":60},"
    " {\"name\":\"k2\",\"key\":\"sb-two\",\"model_groups\":[\"cheap\",\"prod\"]}],"
    "\"settings\":{\"auto_detect_tools\":true}}";

static void
s_expect_error (const char *text, const char *fragment)
{
    char err[256] = "";
    sb_config_t *c = sb_config_from_text (text, strlen (text), err, sizeof err);
    CHECK (c == NULL);
    if (!strstr (err, fragment)) {
        fprintf (stderr, "error '%s' does not mention '%s'\n", err, fragment);
        CHECK (0);
    }
    sb_config_destroy (&c);
}

int
main (void)
{
    char err[256] = "";
    sb_config_t *c = sb_config_from_text (s_good, strlen (s_good), err, sizeof err);
    CHECK (c != NULL);
    if (!c) {
        fprintf (stderr, "%s\n", err);
        return 1;
    }
    CHECK (sb_config_channel_count (c) == 2);
    const sb_channel_t *a = sb_config_channel (c, 0);
    CHECK_STR (a->base_url, "http://127.0.0.1:1/v1");
    CHECK (a->weight == 10 && a->timeouts.connect_ms == 3000 && a->timeouts.idle_ms == 500);
    CHECK_STR (sb_channel_map_model (a, "gpt-4"), "gpt-4o");
    CHECK_STR (sb_channel_map_model (a, "other"), "other");
    CHECK (sb_channel_serves (a, "gpt-4", 5) && sb_channel_serves (a, "gpt-4o", 6));
    CHECK (!sb_channel_serves (a, "claude", 6));
    CHECK (sb_config_channel (c, 1)->type == SB_CHANNEL_ANTHROPIC);

    const sb_group_t *prod = sb_config_group_by_name (c, "prod", 4);
    CHECK (prod && prod->channel_count == 2 && prod->tool_mode == SB_TOOLS_VALIDATE_ONLY);
    CHECK (prod && prod->toon == SB_TOON_FULL && prod->billing == SB_BILL_MULTIPLIER);
    CHECK (prod && prod->cost_multiplier == 1.5 && prod->timeouts.total_ms == 30000);
    CHECK (sb_config_auto_detect_tools (c));

    const sb_key_t *k1 = sb_config_key_by_secret (c, "sb-one", 6);
    CHECK (k1 && strcmp (k1->name, "k1") == 0 && k1->rpm == 60);
    CHECK (sb_config_key_by_secret (c, "sb-on", 5) == NULL);
    CHECK (sb_config_key_by_secret (c, "sb-one ", 7) == NULL);
    const sb_key_t *k2 = sb_config_key_by_secret (c, "sb-two", 6);
    CHECK (k2 && k2->group_count == 2);

    //  Model resolution: by group name or by a model of one of the key's groups.
    CHECK (sb_config_resolve_model (c, k1, "prod", 4) == prod);
    CHECK (sb_config_resolve_model (c, k1, "claude", 6) == prod);
    CHECK (sb_config_resolve_model (c, k1, "gpt-4o-mini", 11) == NULL); // not k1's group
    CHECK (sb_config_resolve_model (c, k2, "gpt-4o-mini", 11) ==
           sb_config_group_by_name (c, "cheap", 5));
    CHECK (sb_config_resolve_model (c, k2, "nope", 4) == NULL);
    sb_config_destroy (&c);
    CHECK (c == NULL);

    sb_config_t *demo = sb_config_load_file ("config/demo.json", err, sizeof err);
    CHECK (demo != NULL);
    sb_config_destroy (&demo);

    s_expect_error ("[]", "config must be a JSON object");
    s_expect_error ("{\"channels\":[],\"model_groups\":[{\"name\":\"g\",\"channels\":[\"x\"]}]}",
                    "model_groups[g].channels[0]: no channel named \"x\"");
    s_expect_error (
        "{\"channels\":[{\"name\":\"a\",\"base_url\":\"ftp://x\"}],\"model_groups\":[]}",
        "channels[a].base_url");
    s_expect_error ("{\"channels\":[{\"name\":\"a\",\"base_url\":\"http://x\",\"type\":\"foo\"}],"
                    "\"model_groups\":[]}",
                    "channels[a].type");
    s_expect_error ("{\"channels\":[{\"name\":\"a\",\"base_url\":\"http://x\"}],\"model_groups\":"
                    "[{\"name\":\"g\",\"channels\":[\"a\"],\"tool_validation_mode\":\"fix\"}]}",
                    "model_groups[g].tool_validation_mode");
    s_expect_error ("{\"channels\":[{\"name\":\"a\",\"base_url\":\"http://x\",\"weight\":-1}],"
                    "\"model_groups\":[]}",
                    "channels[a].weight");
    s_expect_error ("{\"channels\":[{\"name\":\"a\",\"base_url\":\"http://x\"}],\"model_groups\":"
                    "[{\"name\":\"g\",\"channels\":[\"a\"]}],\"api_keys\":[{\"name\":\"k\",\"key\":"
                    "\"s\",\"model_groups\":[\"h\"]}]}",
                    "api_keys[k].model_groups[0]: no group \"h\"");
    s_expect_error ("{\"channels\":[{\"name\":\"a\",\"base_url\":\"http://x\"},{\"name\":\"a\","
                    "\"base_url\":\"http://y\"}],\"model_groups\":[]}",
                    "duplicate name \"a\"");
    s_expect_error ("{\"channels\":[{\"name\":\"a\",\"base_url\":\"http://x\"}],\"model_groups\":"
                    "[{\"name\":\"g\",\"channels\":[\"a\",\"a\"]}]}",
                    "model_groups[g].channels[1]: \"a\" is listed twice");
    s_expect_error ("{\"channels\":[{\"name\":\"a\",\"base_url\":\"http://x\"}],\"model_groups\":"
                    "[{\"name\":\"g\",\"channels\":[\"a\"],\"failover_on\":[700]}]}",
                    "model_groups[g].failover_on[0]");
    //  failover_on: default rule, and a group's own list.
    const char *fo = "{\"channels\":[{\"name\":\"a\",\"base_url\":\"http://x\"}],\"model_groups\":"
                     "[{\"name\":\"d\",\"channels\":[\"a\"]},"
                     "{\"name\":\"g\",\"channels\":[\"a\"],\"failover_on\":[503,429]}]}";
    sb_config_t *foc = sb_config_from_text (fo, strlen (fo), err, sizeof err);
    CHECK (foc != NULL);
    if (foc) {
        const sb_group_t *d = sb_config_group_by_name (foc, "d", 1);
        const sb_group_t *g = sb_config_group_by_name (foc, "g", 1);
        CHECK (sb_group_fails_over (d, 500) && sb_group_fails_over (d, 429) &&
               sb_group_fails_over (d, 408) && !sb_group_fails_over (d, 400) &&
               !sb_group_fails_over (d, 404));
        CHECK (sb_group_fails_over (g, 503) && sb_group_fails_over (g, 429) &&
               !sb_group_fails_over (g, 500));
    }
    sb_config_destroy (&foc);

    //  Cost by billing mode.
    const char *pc = "{\"channels\":[{\"name\":\"a\",\"base_url\":\"http://x\"}],\"model_groups\":["
                     "{\"name\":\"t\",\"channels\":[\"a\"]},"
                     "{\"name\":\"r\",\"channels\":[\"a\"],\"billing_mode\":\"request_based\"},"
                     "{\"name\":\"m\",\"channels\":[\"a\"],\"billing_mode\":\"cost_multiplier\","
                     "\"cost_multiplier\":2}],"
                     "\"prices\":[{\"model\":\"gpt\",\"input_per_1m\":2.5,\"output_per_1m\":10,"
                     "\"per_request\":0.01}]}";
    sb_config_t *pcc = sb_config_from_text (pc, strlen (pc), err, sizeof err);
    CHECK (pcc != NULL);
    if (pcc) {
        bool known = false;
        double cost = sb_config_cost (pcc, sb_config_group_by_name (pcc, "t", 1), "gpt", 1000000,
                                      100000, &known);
        CHECK (known && cost > 3.4999 && cost < 3.5001);
        cost = sb_config_cost (pcc, sb_config_group_by_name (pcc, "r", 1), "gpt", 5, 5, &known);
        CHECK (known && cost > 0.0099 && cost < 0.0101);
        cost = sb_config_cost (pcc, sb_config_group_by_name (pcc, "m", 1), "gpt", 1000000, 100000,
                               &known);
        CHECK (known && cost > 6.9999 && cost < 7.0001);
        cost = sb_config_cost (pcc, sb_config_group_by_name (pcc, "t", 1), "other", 10, 10, &known);
        CHECK (!known && cost == 0);
    }
    sb_config_destroy (&pcc);
    return SB_TEST_DONE ();
}
