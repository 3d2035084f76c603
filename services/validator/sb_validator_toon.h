/*  sb_validator_toon — the TOON job: re-encodes the JSON content of a chat
    request's messages as TOON where that is smaller — `role: "tool"` messages
    (tool_results) or every message whose content is pure JSON (full). Tool
    definitions and response_format are never touched.  */

#ifndef SB_VALIDATOR_TOON_H_INCLUDED
#define SB_VALIDATOR_TOON_H_INCLUDED

#include "sb_msg.h"

//  Returns 0 with *body (caller frees) when the request was rewritten, 1 when
//  nothing got smaller (no body), 2 when the body is not a chat request.
int sb_validator_toon_run (const sb_toon_job_t *job, char **body, size_t *len, uint64_t *saved);

#endif
