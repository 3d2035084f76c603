/*  sb_validator_job — one validation job: each tool call is matched to its tool in
    the request's own `tools` (exact name, else the single case-insensitive match),
    its schema is compiled once per worker (sb_schema_cache), and AutoFix validates
    it (validate_only) or repairs it (auto_fix). The answer lists every call with a
    state — valid, fixed or invalid — and the arguments to release.  */

#include "sb_validator_job.h"
#include "sb_autofix.h"
#include "sb_schema_cache.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define S_SCHEMA_CACHE_ENTRIES 256

struct _sb_validator_job_t {
    sb_schema_cache_t *cache; // compiled schemas, this worker thread only
};

sb_validator_job_t *
sb_validator_job_new (void)
{
    sb_validator_job_t *self = calloc (1, sizeof *self);
    if (!self) return NULL;
    self->cache = sb_schema_cache_new (S_SCHEMA_CACHE_ENTRIES);
    if (!self->cache) {
        free (self);
        return NULL;
    }
    return self;
}

void
sb_validator_job_destroy (sb_validator_job_t **self_p)
{
    if (!self_p || !*self_p) return;
    sb_schema_cache_destroy (&(*self_p)->cache);
    free (*self_p);
    *self_p = NULL;
}

const char *
sb_validator_job_engine (void)
{
    return "sb_autofix + sb_schema";
}

//  The tool named `name` in the request's tools: exact match, else the only
//  case-insensitive one (*renamed set). NULL when none (or several) match.
static json_t *
s_find_tool (json_t *tools, const char *name, bool *renamed)
{
    *renamed = false;
    json_t *folded = NULL;
    int folded_count = 0;
    size_t i;
    json_t *tool;
    json_array_foreach (tools, i, tool)
    {
        json_t *fn = json_object_get (tool, "function");
        const char *tname = json_string_value (json_object_get (fn, "name"));
        if (!tname) continue;
        if (strcmp (tname, name) == 0) return fn;
        if (strcasecmp (tname, name) == 0) {
            folded = fn;
            folded_count++;
        }
    }
    if (folded_count == 1) {
        *renamed = true;
        return folded;
    }
    return NULL;
}

static json_t *
s_error_entry (const char *keyword, const char *message)
{
    return json_pack ("{s:s,s:s,s:s}", "path", "", "keyword", keyword, "message", message);
}

int
sb_validator_job_run (sb_validator_job_t *self, const sb_validate_job_t *job, char **calls_out,
                      size_t *calls_len, char **report_out, size_t *report_len)
{
    json_error_t jerr;
    json_t *tools = json_loadb (job->tools.data ? job->tools.data : "", job->tools.size, 0, &jerr);
    json_t *calls = json_loadb (job->calls.data ? job->calls.data : "", job->calls.size, 0, &jerr);
    int status = 0;
    json_t *out = json_array ();
    json_t *entries = json_array ();
    if (!json_is_array (calls)) {
        status = 2;
        goto done;
    }
    sb_autofix_mode_t mode = job->mode == 1 ? SB_AUTOFIX_VALIDATE_ONLY : SB_AUTOFIX_AUTO_FIX;
    size_t i;
    json_t *call;
    json_array_foreach (calls, i, call)
    {
        const char *name = json_string_value (json_object_get (call, "name"));
        const char *args = json_string_value (json_object_get (call, "arguments"));
        json_t *entry = json_pack (
            "{s:O?,s:O?,s:O?,s:s?}", "choice", json_object_get (call, "choice"), "index",
            json_object_get (call, "index"), "id", json_object_get (call, "id"), "name", name);
        bool renamed = false;
        json_t *fn = name ? s_find_tool (tools, name, &renamed) : NULL;
        if (!fn) {
            json_object_set_new (entry, "state", json_string ("invalid"));
            json_object_set_new (
                entry, "errors",
                json_pack ("[o]", s_error_entry ("tool", "the call names a tool the "
                                                         "request did not declare")));
            json_object_set_new (entry, "fixes", json_array ());
            json_array_append (out, entry);
            json_array_append_new (entries, entry);
            continue;
        }
        json_t *schema = json_object_get (fn, "parameters");
        json_t *owned = NULL;
        if (!schema) schema = owned = json_pack ("{s:s}", "type", "object");
        char err[256] = "";
        sb_schema_t *compiled = sb_schema_cache_get (self->cache, schema, err, sizeof err);
        json_decref (owned);
        if (!compiled) {
            //  The client's own schema is broken: nothing to check against.
            json_object_set_new (entry, "state", json_string ("unchecked"));
            json_object_set_new (entry, "errors", json_pack ("[o]", s_error_entry ("schema", err)));
            json_object_set_new (entry, "fixes", json_array ());
            json_array_append (out, entry);
            json_array_append_new (entries, entry);
            continue;
        }
        sb_autofix_report_t *report = NULL;
        if (sb_autofix_run (args ? args : "", args ? strlen (args) : 0, compiled, mode, &report) !=
            0) {
            status = 1;
            json_decref (entry);
            goto done;
        }
        bool valid = sb_autofix_report_valid (report);
        bool unchanged = sb_autofix_report_unchanged (report);
        const char *state = !valid ? "invalid" : (unchanged && !renamed) ? "valid" : "fixed";
        json_object_set_new (entry, "state", json_string (state));
        if (renamed && mode == SB_AUTOFIX_AUTO_FIX)
            json_object_set (entry, "name", json_object_get (fn, "name"));
        size_t alen = 0;
        const char *fixed = sb_autofix_report_arguments (report, &alen);
        if (valid && fixed) json_object_set_new (entry, "arguments", json_stringn (fixed, alen));
        json_t *detail = sb_autofix_report_json (report);
        json_object_set (entry, "fixes", json_object_get (detail, "fixes"));
        json_object_set (entry, "errors", json_object_get (detail, "errors"));
        if (renamed)
            json_array_append_new (json_object_get (entry, "fixes"),
                                   json_pack ("{s:s,s:s}", "kind", "tool_name", "path", ""));
        json_decref (detail);
        json_array_append (out, entry);
        json_array_append_new (entries, entry);
        sb_autofix_report_destroy (&report);
    }

done:;
    json_t *report = json_pack ("{s:s,s:o}", "mode", job->mode == 1 ? "validate_only" : "auto_fix",
                                "calls", entries);
    *calls_out = json_dumps (out, JSON_COMPACT);
    *report_out = json_dumps (report, JSON_COMPACT);
    *calls_len = *calls_out ? strlen (*calls_out) : 0;
    *report_len = *report_out ? strlen (*report_out) : 0;
    json_decref (report);
    json_decref (out);
    json_decref (tools);
    json_decref (calls);
    return status;
}
