/*  test_sb_schema — the validator's contract beyond the conformance suite: which
    keyword and which instance pointer each failure reports, compile errors,
    draft selection, the registry, number semantics, and the depth / step limits
    that keep hostile schemas and instances from crashing or stalling a worker.  */

#include "sb_schema.h"
#include "sb_test.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#define S_MAX_ERRORS 16

typedef struct {
    size_t count;
    char pointer[S_MAX_ERRORS][128];
    char keyword[S_MAX_ERRORS][32];
    char message[S_MAX_ERRORS][256];
} s_errors_t;

static void
s_collect (void *arg, const char *pointer, const char *keyword, const char *message)
{
    s_errors_t *errors = arg;
    if (errors->count < S_MAX_ERRORS) {
        snprintf (errors->pointer[errors->count], 128, "%s", pointer);
        snprintf (errors->keyword[errors->count], 32, "%s", keyword);
        snprintf (errors->message[errors->count], 256, "%s", message);
    }
    errors->count++;
}

static json_t *
s_json (const char *text)
{
    json_error_t error;
    json_t *json = json_loads (text, JSON_DECODE_ANY, &error);
    if (!json) fprintf (stderr, "bad test JSON: %s: %s\n", text, error.text);
    return json;
}

static sb_schema_t *
s_schema (const char *text, sb_draft_t draft)
{
    json_t *doc = s_json (text);
    char err[256];
    sb_schema_t *schema = sb_schema_new (doc, draft, NULL, err, sizeof err);
    if (!schema) fprintf (stderr, "schema did not compile: %s: %s\n", text, err);
    json_decref (doc); // the schema keeps its own reference
    return schema;
}

//  Validates with and without the callback; both must agree.
static int
s_validate (sb_schema_t *schema, const char *instance_text, s_errors_t *errors)
{
    json_t *instance = s_json (instance_text);
    memset (errors, 0, sizeof *errors);
    int full = sb_schema_validate (schema, instance, s_collect, errors);
    int fast = sb_schema_validate (schema, instance, NULL, NULL);
    CHECK (full == fast);
    json_decref (instance);
    return full;
}

//  Index of the error with this pointer and keyword, or -1.
static int
s_find (const s_errors_t *errors, const char *pointer, const char *keyword)
{
    for (size_t i = 0; i < errors->count && i < S_MAX_ERRORS; i++)
        if (strcmp (errors->pointer[i], pointer) == 0 && strcmp (errors->keyword[i], keyword) == 0)
            return (int)i;
    return -1;
}

static void
test_tool_schema_errors (void)
{
    printf ("errors: a tool schema reports each failure with its keyword and pointer\n");
    sb_schema_t *schema =
        s_schema ("{\"type\": \"object\","
                  " \"properties\": {"
                  "   \"city\": {\"type\": \"string\", \"minLength\": 2},"
                  "   \"days\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 14},"
                  "   \"units\": {\"enum\": [\"c\", \"f\"]},"
                  "   \"tags\": {\"type\": \"array\", \"items\": {\"type\": \"string\"}}},"
                  " \"required\": [\"city\", \"days\"],"
                  " \"additionalProperties\": false}",
                  SB_DRAFT_AUTO);
    CHECK (schema != NULL);
    s_errors_t e;
    CHECK (s_validate (schema, "{\"city\": \"Paris\", \"days\": 3, \"tags\": [\"a\"]}", &e) == 1);
    CHECK (e.count == 0);

    CHECK (s_validate (schema,
                       "{\"city\": \"X\", \"days\": 0, \"units\": \"k\", \"extra\": 1,"
                       " \"tags\": [\"a\", 2]}",
                       &e) == 0);
    CHECK (e.count == 5);
    CHECK (s_find (&e, "/city", "minLength") >= 0);
    CHECK (s_find (&e, "/days", "minimum") >= 0);
    CHECK (s_find (&e, "/units", "enum") >= 0);
    CHECK (s_find (&e, "/extra", "additionalProperties") >= 0);
    CHECK (s_find (&e, "/tags/1", "type") >= 0);
    int i = s_find (&e, "/tags/1", "type");
    if (i >= 0) CHECK_STR (e.message[i], "expected string, got integer");

    CHECK (s_validate (schema, "{}", &e) == 0);
    CHECK (e.count == 2);
    i = s_find (&e, "", "required");
    CHECK (i >= 0);
    if (i >= 0) CHECK_STR (e.message[i], "missing required property \"city\"");
    CHECK (strstr (e.message[1], "\"days\"") != NULL);

    CHECK (s_validate (schema, "[]", &e) == 0);
    CHECK (e.count == 1 && s_find (&e, "", "type") == 0);
    sb_schema_destroy (&schema);
    CHECK (schema == NULL);
    sb_schema_destroy (&schema); // NULL is fine
}

static void
test_pointers (void)
{
    printf ("errors: pointers escape ~ and /, index arrays, follow $ref\n");
    sb_schema_t *schema =
        s_schema ("{\"properties\": {\"a/b~c\": {\"type\": \"number\"},"
                  " \"list\": {\"items\": {\"$ref\": \"#/$defs/item\"}}},"
                  " \"$defs\": {\"item\": {\"properties\": {\"n\": {\"type\": \"number\"}}}}}",
                  SB_DRAFT_AUTO);
    s_errors_t e;
    CHECK (s_validate (schema, "{\"a/b~c\": \"x\", \"list\": [{\"n\": 1}, {\"n\": \"y\"}]}", &e) ==
           0);
    CHECK (e.count == 2);
    CHECK (s_find (&e, "/a~1b~0c", "type") >= 0);
    CHECK (s_find (&e, "/list/1/n", "type") >= 0);
    sb_schema_destroy (&schema);

    schema =
        s_schema ("{\"prefixItems\": [{\"type\": \"integer\"}], \"items\": false}", SB_DRAFT_AUTO);
    CHECK (s_validate (schema, "[1, 2, 3]", &e) == 0);
    CHECK (e.count == 2 && s_find (&e, "/1", "items") >= 0 && s_find (&e, "/2", "items") >= 0);
    CHECK (s_validate (schema, "[\"x\"]", &e) == 0);
    CHECK (e.count == 1 && s_find (&e, "/0", "type") >= 0);
    sb_schema_destroy (&schema);
}

static void
test_composition_errors (void)
{
    printf ("errors: anyOf / oneOf / not / contains sum up as one error each\n");
    s_errors_t e;
    sb_schema_t *schema =
        s_schema ("{\"anyOf\": [{\"type\": \"string\"}, {\"type\": \"integer\", \"minimum\": 5}]}",
                  SB_DRAFT_AUTO);
    CHECK (s_validate (schema, "3", &e) == 0);
    CHECK (e.count == 1 && s_find (&e, "", "anyOf") == 0);
    CHECK (s_validate (schema, "7", &e) == 1);
    sb_schema_destroy (&schema);

    schema = s_schema ("{\"oneOf\": [{\"type\": \"integer\"}, {\"minimum\": 0}]}", SB_DRAFT_AUTO);
    CHECK (s_validate (schema, "3", &e) == 0);
    CHECK (e.count == 1 && s_find (&e, "", "oneOf") == 0);
    CHECK (strstr (e.message[0], "0 and 1") != NULL);
    CHECK (s_validate (schema, "-3", &e) == 1);
    CHECK (s_validate (schema, "2.5", &e) == 1);
    sb_schema_destroy (&schema);

    schema =
        s_schema ("{\"not\": {\"type\": \"null\"}, \"contains\": {\"const\": 1}}", SB_DRAFT_AUTO);
    CHECK (s_validate (schema, "null", &e) == 0);
    CHECK (e.count == 1 && s_find (&e, "", "not") == 0);
    CHECK (s_validate (schema, "[2, 3]", &e) == 0);
    CHECK (e.count == 1 && s_find (&e, "", "contains") == 0);
    CHECK (s_validate (schema, "[2, 1.0]", &e) == 1);
    sb_schema_destroy (&schema);

    schema = s_schema ("{\"propertyNames\": {\"pattern\": \"^[a-z]+$\"}}", SB_DRAFT_AUTO);
    CHECK (s_validate (schema, "{\"ok\": 1, \"Bad\": 2}", &e) == 0);
    CHECK (e.count == 1 && s_find (&e, "/Bad", "propertyNames") == 0);
    sb_schema_destroy (&schema);
}

static void
test_unevaluated (void)
{
    printf ("unevaluated: sees through allOf/$ref, not into cousins, reports extra members\n");
    s_errors_t e;
    sb_schema_t *schema =
        s_schema ("{\"properties\": {\"a\": true},"
                  " \"allOf\": [{\"properties\": {\"b\": true}}, {\"$ref\": \"#/$defs/c\"}],"
                  " \"$defs\": {\"c\": {\"properties\": {\"c\": true}}},"
                  " \"unevaluatedProperties\": false}",
                  SB_DRAFT_AUTO);
    CHECK (s_validate (schema, "{\"a\": 1, \"b\": 2, \"c\": 3}", &e) == 1);
    CHECK (s_validate (schema, "{\"a\": 1, \"d\": 4, \"b\": 2, \"e\": 5}", &e) == 0);
    CHECK (e.count == 2);
    CHECK (s_find (&e, "/d", "unevaluatedProperties") >= 0);
    CHECK (s_find (&e, "/e", "unevaluatedProperties") >= 0);
    sb_schema_destroy (&schema);

    //  More members than the on-stack marks hold.
    schema = s_schema ("{\"patternProperties\": {\"^p\": true}, \"unevaluatedProperties\": false}",
                       SB_DRAFT_AUTO);
    json_t *big = json_object ();
    char key[32];
    for (int k = 0; k < 300; k++) {
        snprintf (key, sizeof key, "p%d", k);
        json_object_set_new (big, key, json_integer (k));
    }
    CHECK (sb_schema_validate (schema, big, NULL, NULL) == 1);
    json_object_set_new (big, "q", json_null ());
    memset (&e, 0, sizeof e);
    CHECK (sb_schema_validate (schema, big, s_collect, &e) == 0);
    CHECK (e.count == 1 && s_find (&e, "/q", "unevaluatedProperties") == 0);
    json_decref (big);
    sb_schema_destroy (&schema);

    schema = s_schema ("{\"prefixItems\": [true], \"contains\": {\"type\": \"string\"},"
                       " \"unevaluatedItems\": false}",
                       SB_DRAFT_AUTO);
    CHECK (s_validate (schema, "[1, \"a\", \"b\"]", &e) == 1);
    CHECK (s_validate (schema, "[1, \"a\", 2]", &e) == 0);
    CHECK (e.count == 1 && s_find (&e, "/2", "unevaluatedItems") == 0);
    sb_schema_destroy (&schema);
}

static void
test_numbers (void)
{
    printf ("numbers: 1.0 is an integer, equal to 1; big integers compare exactly\n");
    s_errors_t e;
    sb_schema_t *schema = s_schema ("{\"type\": \"integer\"}", SB_DRAFT_AUTO);
    CHECK (s_validate (schema, "1.0", &e) == 1);
    CHECK (s_validate (schema, "1.5", &e) == 0);
    CHECK (s_validate (schema, "-9223372036854775808", &e) == 1);
    sb_schema_destroy (&schema);

    schema = s_schema ("{\"const\": 1, \"enum\": [1, \"1\"]}", SB_DRAFT_AUTO);
    CHECK (s_validate (schema, "1.0", &e) == 1);
    CHECK (s_validate (schema, "\"1\"", &e) == 0);
    CHECK (e.count == 1 && s_find (&e, "", "const") == 0);
    sb_schema_destroy (&schema);

    schema = s_schema ("{\"uniqueItems\": true}", SB_DRAFT_AUTO);
    CHECK (s_validate (schema, "[1, {\"a\": [1]}, {\"a\": [1.0]}]", &e) == 0);
    CHECK (e.count == 1 && s_find (&e, "", "uniqueItems") == 0);
    CHECK_STR (e.message[0], "items 1 and 2 are equal");
    sb_schema_destroy (&schema);

    schema = s_schema ("{\"maximum\": 9007199254740992}", SB_DRAFT_AUTO);
    CHECK (s_validate (schema, "9007199254740993", &e) == 0); // a double would round it
    CHECK (s_validate (schema, "9007199254740992.0", &e) == 1);
    sb_schema_destroy (&schema);

    schema = s_schema ("{\"multipleOf\": 0.01, \"exclusiveMinimum\": 0}", SB_DRAFT_AUTO);
    CHECK (s_validate (schema, "19.99", &e) == 1);
    CHECK (s_validate (schema, "19.995", &e) == 0);
    CHECK (s_find (&e, "", "multipleOf") == 0);
    CHECK (s_validate (schema, "0", &e) == 0);
    CHECK (s_find (&e, "", "exclusiveMinimum") == 0);
    sb_schema_destroy (&schema);

    schema = s_schema ("{\"maxLength\": 3, \"minLength\": 2.0}", SB_DRAFT_AUTO);
    CHECK (s_validate (schema, "\"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\"", &e) ==
           1);                                                    // 3 code points
    CHECK (s_validate (schema, "\"\xf0\x9f\x98\x80\"", &e) == 0); // 1 code point
    CHECK (e.count == 1 && s_find (&e, "", "minLength") == 0);
    sb_schema_destroy (&schema);
}

static void
test_compile_errors (void)
{
    printf ("compile: invalid schemas fail with a reason\n");
    static const char *bad[][2] = {
        {"{\"type\": \"strin\"}", "type"},
        {"{\"pattern\": \"(\"}", "pattern"},
        {"{\"$ref\": \"#/nowhere\"}", "points to nothing"},
        {"{\"$ref\": \"#nowhere\"}", "no anchor"},
        {"{\"$ref\": \"http://example.com/x.json\"}", "cannot resolve"},
        {"{\"minLength\": -1}", "minLength"},
        {"{\"multipleOf\": 0}", "multipleOf"},
        {"{\"$schema\": \"http://example.com/my-dialect\"}", "unknown $schema"},
        {"{\"$schema\": \"http://json-schema.org/draft-04/schema#\"}", "unsupported"},
        {"{\"items\": [{}]}", "prefixItems"},
        {"{\"allOf\": []}", "allOf"},
        {"{\"properties\": {\"a\": 5}}", "object or a boolean"},
        {"{\"required\": [1]}", "required"},
        {"42", "object or a boolean"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *doc = s_json (bad[i][0]);
        char err[256] = "";
        sb_schema_t *schema = sb_schema_new (doc, SB_DRAFT_AUTO, NULL, err, sizeof err);
        CHECK (schema == NULL);
        if (!strstr (err, bad[i][1])) fprintf (stderr, "  %s: got \"%s\"\n", bad[i][0], err);
        CHECK (strstr (err, bad[i][1]) != NULL);
        sb_schema_destroy (&schema);
        json_decref (doc);
    }
    CHECK (sb_schema_new (NULL, SB_DRAFT_AUTO, NULL, NULL, 0) == NULL);

    //  Nesting beyond the compile limit fails cleanly.
    json_t *deep = json_object ();
    for (int i = 0; i < 400; i++) {
        json_t *outer = json_object ();
        json_object_set_new (outer, "not", deep);
        deep = outer;
    }
    char err[256];
    CHECK (sb_schema_new (deep, SB_DRAFT_AUTO, NULL, err, sizeof err) == NULL);
    CHECK (strstr (err, "nested") != NULL);
    json_decref (deep);
}

static void
test_drafts (void)
{
    printf ("drafts: $schema picks, the argument overrides, draft-07 rules apply\n");
    s_errors_t e;
    const char *tuple = "{\"items\": [{\"type\": \"integer\"}], \"additionalItems\": false}";
    sb_schema_t *schema = s_schema (tuple, SB_DRAFT_7);
    CHECK (schema != NULL);
    CHECK (s_validate (schema, "[1]", &e) == 1);
    CHECK (s_validate (schema, "[1, 2]", &e) == 0);
    CHECK (e.count == 1 && s_find (&e, "/1", "additionalItems") == 0);
    sb_schema_destroy (&schema);
    //  The same document in 2020-12 is invalid (items must be a schema).
    CHECK (s_schema (tuple, SB_DRAFT_AUTO) == NULL);
    char with_schema[256];
    snprintf (with_schema, sizeof with_schema,
              "{\"$schema\": \"http://json-schema.org/draft-07/schema#\", %s", tuple + 1);
    schema = s_schema (with_schema, SB_DRAFT_AUTO);
    CHECK (schema != NULL);
    sb_schema_destroy (&schema);

    //  draft-07: $ref ignores its siblings; 2020-12: it does not.
    const char *ref = "{\"$defs\": {\"n\": {\"type\": \"number\"}},"
                      " \"properties\": {\"x\": {\"$ref\": \"#/$defs/n\", \"maximum\": 3}}}";
    schema = s_schema (ref, SB_DRAFT_7);
    CHECK (s_validate (schema, "{\"x\": 5}", &e) == 1);
    CHECK (s_validate (schema, "{\"x\": \"a\"}", &e) == 0);
    sb_schema_destroy (&schema);
    schema = s_schema (ref, SB_DRAFT_2020_12);
    CHECK (s_validate (schema, "{\"x\": 5}", &e) == 0);
    CHECK (e.count == 1 && s_find (&e, "/x", "maximum") == 0);
    sb_schema_destroy (&schema);

    //  format is an annotation only.
    schema = s_schema ("{\"format\": \"email\"}", SB_DRAFT_AUTO);
    CHECK (s_validate (schema, "\"not an email\"", &e) == 1);
    sb_schema_destroy (&schema);

    //  Validating a schema against the embedded metaschema.
    schema =
        s_schema ("{\"$ref\": \"https://json-schema.org/draft/2020-12/schema\"}", SB_DRAFT_AUTO);
    CHECK (schema != NULL);
    CHECK (s_validate (schema, "{\"type\": \"object\", \"properties\": {\"a\": {\"minimum\": 1}}}",
                       &e) == 1);
    CHECK (s_validate (schema, "{\"properties\": {\"a\": {\"minLength\": -1}}}", &e) == 0);
    CHECK (s_find (&e, "/properties/a/minLength", "minimum") >= 0);
    sb_schema_destroy (&schema);
}

static void
test_registry (void)
{
    printf ("registry: references to preloaded documents resolve, relative to their URI\n");
    sb_schema_registry_t *registry = sb_schema_registry_new ();
    json_t *remote =
        s_json ("{\"$defs\": {\"id\": {\"type\": \"string\", \"pattern\": \"^call_\"}},"
                " \"properties\": {\"next\": {\"$ref\": \"other.json\"}}}");
    json_t *other = s_json ("{\"type\": \"integer\"}");
    CHECK (sb_schema_registry_add (registry, "https://tools.example/common.json", remote) == 0);
    CHECK (sb_schema_registry_add (registry, "https://tools.example/other.json#", other) == 0);
    CHECK (sb_schema_registry_add (registry, "", other) == -1);
    json_decref (remote);
    json_decref (other);

    json_t *doc = s_json (
        "{\"properties\": {\"id\": {\"$ref\": \"https://tools.example/common.json#/$defs/id\"},"
        " \"link\": {\"$ref\": \"https://tools.example/common.json\"}}}");
    char err[256];
    sb_schema_t *schema = sb_schema_new (doc, SB_DRAFT_AUTO, registry, err, sizeof err);
    CHECK (schema != NULL);
    CHECK (sb_schema_document (schema) == doc);
    json_decref (doc);
    s_errors_t e;
    CHECK (s_validate (schema, "{\"id\": \"call_1\", \"link\": {\"next\": 3}}", &e) == 1);
    CHECK (s_validate (schema, "{\"id\": \"fn_1\", \"link\": {\"next\": \"x\"}}", &e) == 0);
    CHECK (e.count == 2);
    CHECK (s_find (&e, "/id", "pattern") >= 0);
    CHECK (s_find (&e, "/link/next", "type") >= 0);
    sb_schema_destroy (&schema);
    //  Without the registry the same schema cannot compile.
    doc = s_json ("{\"$ref\": \"https://tools.example/common.json\"}");
    CHECK (sb_schema_new (doc, SB_DRAFT_AUTO, NULL, err, sizeof err) == NULL);
    json_decref (doc);
    sb_schema_registry_destroy (&registry);
    CHECK (registry == NULL);
}

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
test_limits (void)
{
    printf ("limits: endless $ref loops, deep instances and exponential schemas end in -1\n");
    sb_schema_t *schema = s_schema ("{\"$ref\": \"#\"}", SB_DRAFT_AUTO);
    json_t *one = json_integer (1);
    CHECK (sb_schema_validate (schema, one, NULL, NULL) == -1);
    sb_schema_destroy (&schema);

    schema = s_schema (
        "{\"$defs\": {\"a\": {\"$ref\": \"#/$defs/b\"}, \"b\": {\"$ref\": \"#/$defs/a\"}},"
        " \"$ref\": \"#/$defs/a\"}",
        SB_DRAFT_AUTO);
    CHECK (sb_schema_validate (schema, one, NULL, NULL) == -1);
    sb_schema_destroy (&schema);

    //  A recursive schema over a deep instance: fine at 100 levels, -1 far deeper.
    schema = s_schema ("{\"type\": \"array\", \"items\": {\"$ref\": \"#\"}}", SB_DRAFT_AUTO);
    json_t *deep = json_array ();
    for (int i = 0; i < 100; i++) {
        json_t *outer = json_array ();
        json_array_append_new (outer, deep);
        deep = outer;
    }
    CHECK (sb_schema_validate (schema, deep, NULL, NULL) == 1);
    for (int i = 0; i < 2000; i++) {
        json_t *outer = json_array ();
        json_array_append_new (outer, deep);
        deep = outer;
    }
    CHECK (sb_schema_validate (schema, deep, NULL, NULL) == -1);
    s_errors_t e = {0};
    CHECK (sb_schema_validate (schema, deep, s_collect, &e) == -1);
    json_decref (deep);
    sb_schema_destroy (&schema);

    //  2^40 paths through allOf: the step budget stops it in well under a second.
    json_t *doc = json_object ();
    json_t *defs = json_object ();
    char name[32], target[64];
    for (int i = 0; i < 40; i++) {
        snprintf (name, sizeof name, "d%d", i);
        snprintf (target, sizeof target, "#/$defs/d%d", i + 1);
        json_t *def = json_pack ("{s:[{s:s},{s:s}]}", "allOf", "$ref", target, "$ref", target);
        json_object_set_new (defs, name, def);
    }
    json_object_set_new (defs, "d40", json_pack ("{s:s}", "type", "integer"));
    json_object_set_new (doc, "$defs", defs);
    json_object_set_new (doc, "$ref", json_string ("#/$defs/d0"));
    char err[256];
    schema = sb_schema_new (doc, SB_DRAFT_AUTO, NULL, err, sizeof err);
    CHECK (schema != NULL);
    double start = s_now ();
    CHECK (sb_schema_validate (schema, one, NULL, NULL) == -1);
    double elapsed = s_now () - start;
    printf ("  exponential schema stopped after %.3f s\n", elapsed);
    CHECK (elapsed < 5.0);
    sb_schema_destroy (&schema);
    json_decref (doc);
    json_decref (one);
}

typedef struct {
    sb_schema_t *schema;
    json_t *good, *bad;
    int mismatches;
} s_worker_t;

static void *
s_worker (void *arg)
{
    s_worker_t *w = arg;
    for (int i = 0; i < 2000; i++) {
        s_errors_t e = {0};
        if (sb_schema_validate (w->schema, w->good, NULL, NULL) != 1 ||
            sb_schema_validate (w->schema, w->bad, s_collect, &e) != 0 || e.count != 3)
            w->mismatches++;
    }
    return NULL;
}

static void
test_threads (void)
{
    printf ("threads: one compiled schema validates from 4 threads at once\n");
    sb_schema_t *schema = s_schema ("{\"properties\": {\"id\": {\"pattern\": \"^call_[0-9a-f]+$\"},"
                                    " \"n\": {\"multipleOf\": 3}},"
                                    " \"patternProperties\": {\"^x-\": {\"type\": \"string\"}},"
                                    " \"unevaluatedProperties\": false}",
                                    SB_DRAFT_AUTO);
    json_t *good = s_json ("{\"id\": \"call_9f\", \"n\": 9, \"x-a\": \"s\"}");
    json_t *bad = s_json ("{\"id\": \"fn\", \"n\": 9, \"x-a\": 1, \"y\": 0}");
    s_worker_t workers[4];
    pthread_t threads[4];
    for (int i = 0; i < 4; i++) {
        workers[i] = (s_worker_t){schema, good, bad, 0};
        CHECK (pthread_create (&threads[i], NULL, s_worker, &workers[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join (threads[i], NULL);
        CHECK (workers[i].mismatches == 0);
    }
    json_decref (good);
    json_decref (bad);
    sb_schema_destroy (&schema);
}

int
main (void)
{
    test_tool_schema_errors ();
    test_pointers ();
    test_composition_errors ();
    test_unevaluated ();
    test_numbers ();
    test_compile_errors ();
    test_drafts ();
    test_registry ();
    test_limits ();
    test_threads ();
    return SB_TEST_DONE ();
}
