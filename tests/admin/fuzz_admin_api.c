/*  fuzz_admin_api — admin's REST semantics under arbitrary requests: each input is
    up to 8 requests separated by NUL bytes, each "<method byte><path>\n<body>",
    served by sb_admin_api over a fresh in-memory store seeded with a small config.
    Checks: never a crash, every answer is a JSON object with a known status, no
    500 (an in-memory store does not fail), and every change that was answered
    2xx was published with the next seq as a config that loads.  */

#include "sb_admin_api.h"
#include "sb_admin_store.h"
#include "sb_config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char s_seed[] =
    "{\"channels\":[{\"name\":\"a\",\"base_url\":\"http://127.0.0.1:1/v1\",\"api_key\":"
    "\"sk-fuzz-provider-secret-1\",\"models\":[\"m\"]},{\"name\":\"b\",\"type\":\"anthropic\","
    "\"base_url\":\"https://x.example\"}],\"model_groups\":[{\"name\":\"g\",\"channels\":[\"a\","
    "\"b\"],\"models\":[\"m\"],\"load_balance_strategy\":\"weighted\"}],\"api_keys\":[{\"name\":"
    "\"k\",\"key\":\"sb-fuzz\",\"model_groups\":[\"g\"],\"rpm\":5}],\"tools\":[{\"name\":\"t\","
    "\"parameters\":{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"integer\"}}}}],"
    "\"prices\":[{\"model\":\"m\",\"input_per_1m\":1}],\"settings\":{\"auto_detect_tools\":true}}";

//  A broken invariant: say which, then crash so the fuzzer keeps the input.
#define S_ASSERT(cond)                                                                             \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf (stderr, "fuzz_admin_api:%d: %s\n", __LINE__, #cond);                          \
            abort ();                                                                              \
        }                                                                                          \
    } while (0)

static uint64_t s_published_seq;
static int s_published;

static void
s_on_publish (void *arg, uint64_t seq, const char *json, size_t len)
{
    //  What reaches the services must always load.
    sb_config_t *config = sb_config_from_text (json, len, NULL, 0);
    S_ASSERT (config != NULL);
    sb_config_destroy (&config);
    S_ASSERT (seq == s_published_seq + 1 || !s_published);
    s_published_seq = seq;
    s_published++;
}

static void
s_check_reply (const sb_admin_reply_t *reply, int method, const char *path, const char *req,
               size_t blen)
{
    switch (reply->status) {
        case 200:
        case 201:
        case 400:
        case 404:
        case 405:
        case 409:
            break;
        default:
            fprintf (stderr, "fuzz_admin_api: %d /api/%s %.*s -> %d: %.*s\n", method, path,
                     (int)blen, req, reply->status, (int)reply->len,
                     reply->body ? reply->body : "");
            abort ();
    }
    json_t *body = reply->body ? json_loadb (reply->body, reply->len, 0, NULL) : NULL;
    S_ASSERT (json_is_object (body));
    S_ASSERT (reply->status < 400 ||
              json_is_string (json_object_get (json_object_get (body, "error"), "message")));
    json_decref (body);
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char err[256];
    sb_admin_store_t *store = sb_admin_store_new (":memory:", err, sizeof err);
    S_ASSERT (store != NULL);
    s_published = 0;
    s_published_seq = 0;
    sb_admin_api_t *api = sb_admin_api_new (store, s_on_publish, NULL);
    json_t *seed = json_loads (s_seed, 0, NULL);
    if (!api || !seed || sb_admin_api_seed (api, seed, err, sizeof err)) {
        fprintf (stderr, "fuzz_admin_api: seed: %s\n", err);
        abort ();
    }
    json_decref (seed);

    const uint8_t *p = data, *end = data + size;
    for (int n = 0; n < 8 && p < end; n++) {
        const uint8_t *stop = memchr (p, 0, (size_t)(end - p));
        if (!stop) stop = end;
        if (stop > p) {
            sb_admin_method_t method = (sb_admin_method_t)(p[0] % 6);
            const uint8_t *nl = memchr (p + 1, '\n', (size_t)(stop - p - 1));
            const uint8_t *path_end = nl ? nl : stop;
            char path[1100];
            size_t plen = (size_t)(path_end - p - 1);
            if (plen >= sizeof path) plen = sizeof path - 1;
            memcpy (path, p + 1, plen);
            path[plen] = '\0';
            const char *body = nl ? (const char *)nl + 1 : "";
            size_t blen = nl ? (size_t)(stop - nl - 1) : 0;
            int before = s_published;
            sb_admin_reply_t reply = {0};
            sb_admin_api_handle (api, method, path, body, blen, &reply);
            s_check_reply (&reply, (int)method, path, body, blen);
            //  Only a successful change publishes, exactly once.
            bool change = method != SB_ADMIN_GET && reply.status < 300;
            S_ASSERT (s_published == before + (change ? 1 : 0));
            free (reply.body);
        }
        p = stop + 1;
    }
    sb_admin_api_destroy (&api);
    sb_admin_store_destroy (&store);
    return 0;
}
