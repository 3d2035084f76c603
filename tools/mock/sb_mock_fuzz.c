/*  fuzz_sb_mock — fuzz target over sb-mock's request handling without a socket. Input:
    a knob list as in /x/<knobs>/ up to the first newline, then a request body. The
    knobs are merged as the server does (model defaults, list, body "mock") and a
    reply is built for each API, with fail_rate hit and missed; every script must come
    out whole. Seeds: tools/mock/fuzz_corpus.  */

#include "sb_mock_knobs.h"
#include "sb_mock_reply.h"
#include "sb_mock_script.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nl = memchr (text, '\n', size);
    size_t list_len = nl ? (size_t)(nl - text) : size;
    const char *body = nl ? nl + 1 : NULL;
    size_t body_len = nl ? size - list_len - 1 : 0;

    json_t *json = body_len ? json_loadb (body, body_len, 0, NULL) : NULL;
    sb_mock_knobs_t knobs;
    char err[160];
    sb_mock_knobs_init (&knobs);
    sb_mock_knobs_apply_model (&knobs, json_string_value (json_object_get (json, "model")));
    sb_mock_knobs_apply_list (&knobs, text, list_len, err, sizeof (err));
    json_t *mock = json_object_get (json, "mock");
    if (mock) sb_mock_knobs_apply_json (&knobs, mock, err, sizeof (err));

    for (int api = SB_MOCK_API_CHAT; api <= SB_MOCK_API_MODELS; api++)
        for (int hit = 0; hit < 2; hit++) {
            sb_mock_request_t req = {
                .api = (sb_mock_api_t)api,
                .body_len = body_len,
                .json = json,
                .knobs = &knobs,
                .faults_apply = !sb_mock_knobs_is_set (&knobs, SB_MOCK_KNOB_FAIL_RATE) || hit,
                .fail_rate_hit = hit,
                .keep_alive = hit == 0,
                .seq = size,
                .now = 1700000000,
            };
            sb_mock_script_t *script = sb_mock_reply_build (&req, 16);
            if (!script) abort (); // only out of memory may fail, and inputs are small
            for (size_t i = 0; i < sb_mock_script_count (script); i++) {
                size_t len = 0;
                uint8_t *step = sb_mock_script_get (script, i, NULL, &len);
                if (len && !step) abort ();
            }
            sb_mock_script_destroy (&script);
        }
    sb_mock_knobs_release (&knobs);
    json_decref (json);
    return 0;
}
