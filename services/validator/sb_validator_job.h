/*  sb_validator_job — what a validator worker does with one job: find each tool
    call's schema in the request's own `tools`, run the engine (validate, or
    repair in auto_fix mode), and answer with the calls as they should be released
    plus a report for the log. One instance per worker thread (it caches schemas).  */

#ifndef SB_VALIDATOR_JOB_H_INCLUDED
#define SB_VALIDATOR_JOB_H_INCLUDED

#include "sb_msg.h"

typedef struct _sb_validator_job_t sb_validator_job_t;

sb_validator_job_t *sb_validator_job_new (void);
void sb_validator_job_destroy (sb_validator_job_t **self_p);

//  Runs one job. Sets *calls / *report to JSON texts the caller frees. Returns the
//  result status: 0 done, 1 engine unavailable (the router passes through), 2 bad job.
int sb_validator_job_run (sb_validator_job_t *self, const sb_validate_job_t *job, char **calls,
                          size_t *calls_len, char **report, size_t *report_len);

//  Name of the engine linked in, for the start-up line.
const char *sb_validator_job_engine (void);

#endif
