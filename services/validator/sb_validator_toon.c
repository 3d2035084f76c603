/*  sb_validator_toon — see the header. The body is re-serialised with reals in
    their shortest round-trip form (sb_anthropic_dumps), so numbers elsewhere in
    the request keep their values and, for the usual short decimals, their text.  */

#include "sb_validator_toon.h"
#include "sb_anthropic.h"
#include "sb_toon.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int
sb_validator_toon_run (const sb_toon_job_t *job, char **body, size_t *len, uint64_t *saved)
{
    *body = NULL;
    *len = 0;
    *saved = 0;
    json_error_t jerr;
    json_t *doc = json_loadb (job->body.data ? job->body.data : "", job->body.size, 0, &jerr);
    json_t *messages = json_object_get (doc, "messages");
    if (!json_is_array (messages)) {
        json_decref (doc);
        return 2;
    }
    bool full = job->mode == 2;
    uint64_t total = 0;
    size_t i;
    json_t *msg;
    json_array_foreach (messages, i, msg)
    {
        const char *role = json_string_value (json_object_get (msg, "role"));
        if (!role || (!full && strcmp (role, "tool") != 0)) continue;
        json_t *content = json_object_get (msg, "content");
        if (!json_is_string (content)) continue;
        char *toon = NULL;
        size_t toon_len = 0, won = 0;
        if (sb_toon_maybe_compress (json_string_value (content), json_string_length (content), NULL,
                                    &toon, &toon_len, &won) == 1) {
            json_object_set_new (msg, "content", json_stringn (toon, toon_len));
            total += won;
        }
        free (toon);
    }
    int rc = 1;
    if (total > 0) {
        *body = sb_anthropic_dumps (doc, len);
        if (*body) {
            *saved = total;
            rc = 0;
        }
    }
    json_decref (doc);
    return rc;
}
