/*  sb_validator_job — pass-through until the engine is linked in: every call is
    reported as not validated, so the router releases it unchanged.  */

#include "sb_validator_job.h"

#include <stdlib.h>
#include <string.h>

struct _sb_validator_job_t {
    int unused;
};

sb_validator_job_t *
sb_validator_job_new (void)
{
    return calloc (1, sizeof (sb_validator_job_t));
}

void
sb_validator_job_destroy (sb_validator_job_t **self_p)
{
    if (!self_p || !*self_p) return;
    free (*self_p);
    *self_p = NULL;
}

const char *
sb_validator_job_engine (void)
{
    return "pass-through";
}

int
sb_validator_job_run (sb_validator_job_t *self, const sb_validate_job_t *job, char **calls,
                      size_t *calls_len, char **report, size_t *report_len)
{
    *calls = strdup ("[]");
    *calls_len = 2;
    *report = strdup ("{\"engine\":\"pass-through\"}");
    *report_len = strlen (*report);
    return 1;
}
