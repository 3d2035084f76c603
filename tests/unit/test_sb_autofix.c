/*  test_sb_autofix — the AutoFix API: the report (accessors and JSON), both modes,
    the unchanged guarantee, limits on input and on what a report keeps, and the
    absence of shared state (the same calls from several threads at once).  */

#include "sb_autofix.h"
#include "sb_coerce.h"
#include "sb_jrepair.h"
#include "sb_test.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char s_weather[] =
    "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"},"
    "\"max_items\":{\"type\":\"integer\"}},\"required\":[\"city\",\"max_items\"],"
    "\"additionalProperties\":false}";

static sb_schema_t *
s_schema (const char *text)
{
    json_t *doc = json_loads (text, 0, NULL);
    char err[256] = "";
    sb_schema_t *schema = sb_schema_new (doc, SB_DRAFT_AUTO, NULL, err, sizeof err);
    json_decref (doc);
    if (!schema) fprintf (stderr, "schema: %s\n", err);
    return schema;
}

//  The report of one run as JSON text (static buffer).
static const char *
s_run (sb_schema_t *schema, const char *in, sb_autofix_mode_t mode)
{
    static char out[8192];
    sb_autofix_report_t *r = NULL;
    if (sb_autofix_run (in, strlen (in), schema, mode, &r)) return "(oom)";
    char *j = sb_autofix_report_to_json (r, NULL);
    snprintf (out, sizeof out, "%s", j ? j : "(null)");
    free (j);
    sb_autofix_report_destroy (&r);
    return out;
}

static void
s_test_issue_example (sb_schema_t *schema)
{
    printf ("the issue's example, through the accessors and the JSON\n");
    const char *in = "{'city': 'New York', max_items: '10'}";
    sb_autofix_report_t *r = NULL;
    CHECK (sb_autofix_run (in, strlen (in), schema, SB_AUTOFIX_AUTO_FIX, &r) == 0 && r);
    CHECK (sb_autofix_report_valid (r));
    CHECK (!sb_autofix_report_unchanged (r));
    size_t len;
    CHECK_STR (sb_autofix_report_arguments (r, &len), "{\"city\":\"New York\",\"max_items\":10}");
    CHECK (len == strlen ("{\"city\":\"New York\",\"max_items\":10}"));
    CHECK (sb_autofix_report_fix_count (r) == 4 && sb_autofix_report_fix_total (r) == 4);
    CHECK_STR (sb_autofix_report_fix_kind (r, 0), "single_quotes");
    CHECK_STR (sb_autofix_report_fix_path (r, 0), "/city");
    CHECK_STR (sb_autofix_report_fix_kind (r, 3), "string_to_number");
    CHECK_STR (sb_autofix_report_fix_path (r, 3), "/max_items");
    CHECK (sb_autofix_report_fix_kind (r, 4) == NULL);
    CHECK (sb_autofix_report_error_count (r) == 0);
    json_t *j = sb_autofix_report_json (r);
    CHECK (json_is_true (json_object_get (j, "valid")));
    CHECK (json_is_string (json_object_get (j, "arguments")));
    CHECK (json_array_size (json_object_get (j, "fixes")) == 4);
    json_decref (j);
    sb_autofix_report_destroy (&r);
    CHECK (r == NULL);
    sb_autofix_report_destroy (&r);
    sb_autofix_report_destroy (NULL);
    CHECK_STR (
        s_run (schema, in, SB_AUTOFIX_AUTO_FIX),
        "{\"valid\":true,\"arguments\":\"{\\\"city\\\":\\\"New York\\\",\\\"max_items\\\":10}"
        "\",\"fixes\":[{\"kind\":\"single_quotes\",\"path\":\"/city\"},{\"kind\":"
        "\"unquoted_key\",\"path\":\"/max_items\"},{\"kind\":\"single_quotes\",\"path\":"
        "\"/max_items\"},{\"kind\":\"string_to_number\",\"path\":\"/max_items\"}],"
        "\"errors\":[]}");
}

static void
s_test_modes (sb_schema_t *schema)
{
    printf ("validate_only changes nothing; auto_fix keeps valid input byte for byte\n");
    const char *valid = "  {\"city\" : \"Oslo\",\n \"max_items\": 1.0}\n";
    sb_autofix_report_t *r = NULL;
    CHECK (sb_autofix_run (valid, strlen (valid), schema, SB_AUTOFIX_VALIDATE_ONLY, &r) == 0);
    CHECK (sb_autofix_report_valid (r) && sb_autofix_report_unchanged (r));
    CHECK_STR (sb_autofix_report_arguments (r, NULL), valid);
    sb_autofix_report_destroy (&r);
    CHECK (sb_autofix_run (valid, strlen (valid), schema, SB_AUTOFIX_AUTO_FIX, &r) == 0);
    CHECK_STR (sb_autofix_report_arguments (r, NULL), valid);
    CHECK (sb_autofix_report_fix_count (r) == 0);
    sb_autofix_report_destroy (&r);

    CHECK_STR (
        s_run (schema, "{\"city\": \"Oslo\", \"max_items\": \"1\"}", SB_AUTOFIX_VALIDATE_ONLY),
        "{\"valid\":false,\"arguments\":null,\"fixes\":[],\"errors\":[{\"path\":\"/"
        "max_items\",\"keyword\":\"type\",\"message\":\"expected integer, got string\"}]}");
    const char *out = s_run (schema, "{'city': 'Oslo', 'max_items': 1}", SB_AUTOFIX_VALIDATE_ONLY);
    CHECK (strstr (out, "\"keyword\":\"syntax\"") && strstr (out, "single_quotes"));
    out = s_run (schema, "[]", SB_AUTOFIX_VALIDATE_ONLY);
    CHECK (strstr (out, "\"keyword\":\"type\"") && strstr (out, "not array"));

    sb_autofix_mode_t m;
    CHECK (sb_autofix_mode_from_name ("validate_only", &m) == 0 && m == SB_AUTOFIX_VALIDATE_ONLY);
    CHECK (sb_autofix_mode_from_name ("auto_fix", &m) == 0 && m == SB_AUTOFIX_AUTO_FIX);
    CHECK (sb_autofix_mode_from_name ("AUTO_FIX", &m) == -1);
    CHECK (sb_autofix_mode_from_name (NULL, &m) == -1);
    CHECK_STR (sb_autofix_mode_name (SB_AUTOFIX_VALIDATE_ONLY), "validate_only");
    CHECK_STR (sb_autofix_mode_name (SB_AUTOFIX_AUTO_FIX), "auto_fix");
}

static void
s_test_rejections (sb_schema_t *schema)
{
    printf ("rejections carry errors and no arguments\n");
    const char *out = s_run (schema, "{\"city\": \"Oslo\"}", SB_AUTOFIX_AUTO_FIX);
    CHECK_STR (out, "{\"valid\":false,\"arguments\":null,\"fixes\":[],\"errors\":[{\"path\":\"\","
                    "\"keyword\":\"required\",\"message\":\"missing required property "
                    "\\\"max_items\\\"\"}]}");
    out = s_run (schema, "I'm sorry, I can't do that.", SB_AUTOFIX_AUTO_FIX);
    CHECK (strstr (out, "\"arguments\":null") && strstr (out, "refusal"));
    sb_autofix_report_t *r = NULL;
    CHECK (sb_autofix_run (NULL, 0, schema, SB_AUTOFIX_AUTO_FIX, &r) == 0);
    CHECK (!sb_autofix_report_valid (r) && sb_autofix_report_arguments (r, NULL) == NULL);
    CHECK_STR (sb_autofix_report_error_keyword (r, 0), "syntax");
    CHECK_STR (sb_autofix_report_error_path (r, 0), "");
    CHECK (strstr (sb_autofix_report_error_message (r, 0), "empty") != NULL);
    CHECK (sb_autofix_report_error_keyword (r, 1) == NULL);
    sb_autofix_report_destroy (&r);
}

static void
s_test_limits (sb_schema_t *schema)
{
    printf ("input limit and report limits\n");
    size_t big = SB_AUTOFIX_MAX_INPUT + 1;
    char *text = malloc (big);
    memset (text, ' ', big);
    text[0] = '{';
    text[big - 1] = '}';
    sb_autofix_report_t *r = NULL;
    CHECK (sb_autofix_run (text, big, schema, SB_AUTOFIX_AUTO_FIX, &r) == 0);
    CHECK (!sb_autofix_report_valid (r));
    CHECK_STR (sb_autofix_report_error_keyword (r, 0), "size");
    sb_autofix_report_destroy (&r);
    free (text);

    //  300 repaired members: the report keeps the first SB_AUTOFIX_MAX_REPORTED fixes
    //  and counts them all.
    sb_schema_t *any = s_schema ("{\"type\":\"object\"}");
    char *many = malloc (300 * 16 + 8);
    size_t n = 0;
    many[n++] = '{';
    for (int i = 0; i < 300; i++)
        n += (size_t)snprintf (many + n, 16, "%s'k%d': 1", i ? "," : "", i);
    many[n++] = '}';
    CHECK (sb_autofix_run (many, n, any, SB_AUTOFIX_AUTO_FIX, &r) == 0);
    CHECK (sb_autofix_report_valid (r));
    CHECK (sb_autofix_report_fix_count (r) == SB_AUTOFIX_MAX_REPORTED);
    CHECK (sb_autofix_report_fix_total (r) == 300);
    sb_autofix_report_destroy (&r);
    free (many);
    sb_schema_destroy (&any);
}

typedef struct {
    sb_schema_t *schema;
    const char *const *inputs;
    const char **expected;
    int failures;
} s_thread_arg_t;

static const char *const s_inputs[] = {
    "{'city': 'New York', max_items: '10'}",
    "```json\n{\"city\": \"Paris\", \"max_items\": 3,}\n```",
    "{\"city\": \"Oslo\"}",
    "{\"city\": \"He said \"hi\" there\", \"max_items\": 1}",
    "\"{\\\"city\\\": \\\"Rome\\\", \\\"max_items\\\": \\\"2\\\"}\"",
    "<html>no</html>",
    NULL};

static void *
s_thread (void *arg)
{
    s_thread_arg_t *t = arg;
    for (int round = 0; round < 300; round++)
        for (int i = 0; t->inputs[i]; i++) {
            sb_autofix_report_t *r = NULL;
            if (sb_autofix_run (t->inputs[i], strlen (t->inputs[i]), t->schema, SB_AUTOFIX_AUTO_FIX,
                                &r)) {
                t->failures++;
                continue;
            }
            char *j = sb_autofix_report_to_json (r, NULL);
            if (!j || strcmp (j, t->expected[i]) != 0) t->failures++;
            free (j);
            sb_autofix_report_destroy (&r);
        }
    return NULL;
}

static void
s_test_threads (sb_schema_t *schema)
{
    printf ("four threads share one schema and get the single-threaded reports\n");
    const char *expected[8] = {0};
    char *owned[8] = {0};
    for (int i = 0; s_inputs[i]; i++) {
        owned[i] = strdup (s_run (schema, s_inputs[i], SB_AUTOFIX_AUTO_FIX));
        expected[i] = owned[i];
    }
    pthread_t th[4];
    s_thread_arg_t args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (s_thread_arg_t){schema, s_inputs, expected, 0};
        CHECK (pthread_create (&th[i], NULL, s_thread, &args[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join (th[i], NULL);
        CHECK (args[i].failures == 0);
    }
    for (int i = 0; i < 8; i++)
        free (owned[i]);
}

static void
s_test_schema_bomb (void)
{
    printf ("coercion on a schema whose $refs fan out exponentially ends quickly\n");
    //  x -> anyOf [y, y, integer], y -> anyOf [x, x]: 2^depth paths without a budget.
    json_t *bomb = json_loads (
        "{\"type\":\"object\",\"properties\":{\"a\":{\"$ref\":\"#/$defs/x\"}},\"$defs\":{"
        "\"x\":{\"anyOf\":[{\"$ref\":\"#/$defs/y\"},{\"$ref\":\"#/$defs/y\"},{\"type\":"
        "\"integer\"}]},\"y\":{\"anyOf\":[{\"$ref\":\"#/$defs/x\"},{\"$ref\":\"#/$defs/x\"}]}}}",
        0, NULL);
    CHECK (bomb != NULL);
    sb_jdoc_t *doc = sb_jdoc_new (0);
    const char *in = "{\"a\": \"5\"}";
    sb_jval_t *root = sb_jrepair_parse (doc, in, strlen (in), 0, NULL, NULL, NULL, NULL, 0);
    CHECK (root != NULL);
    clock_t t0 = clock ();
    int n = sb_coerce_apply (doc, root, bomb, NULL, NULL);
    double secs = (double)(clock () - t0) / CLOCKS_PER_SEC;
    printf ("  %d coercion(s) in %.3f s\n", n, secs);
    CHECK (n >= 0);
    CHECK (secs < 2.0);
    //  Past the budget every answer is "anything goes": the string is left alone
    //  rather than coerced on a partial view of the schema.
    char *out = sb_jval_to_json (root, NULL);
    CHECK (out && (strcmp (out, "{\"a\":\"5\"}") == 0 || strcmp (out, "{\"a\":5}") == 0));
    free (out);
    sb_jdoc_destroy (&doc);
    json_decref (bomb);
}

int
main (void)
{
    sb_schema_t *schema = s_schema (s_weather);
    CHECK (schema != NULL);
    if (!schema) return SB_TEST_DONE ();
    s_test_issue_example (schema);
    s_test_modes (schema);
    s_test_rejections (schema);
    s_test_limits (schema);
    s_test_threads (schema);
    s_test_schema_bomb ();
    sb_schema_destroy (&schema);
    return SB_TEST_DONE ();
}
