/*  schema_suite — plays the official JSON-Schema-Test-Suite against sb_schema:
    draft2020-12 and draft7, required tests (not optional/), with every file of
    remotes/ preloaded into a registry as http://localhost:1234/<path>. Prints the
    score per draft and fails when a test not listed in tests/data/schema-skips.txt
    fails (or a listed one passes, so that the list stays true). Each test is
    validated twice, without and with an error callback, and both must agree
    (and the callback must fire exactly when the instance is invalid).

    Suite directory, first found: argv[1]; $SB_CONFORMANCE_DIR/json-schema or
    $SB_CONFORMANCE_DIR itself; the path compiled in as SB_SCHEMA_CONFORMANCE_DIR;
    ../shared/conformance/json-schema from the working directory.  */

#include "sb_schema.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef SB_SCHEMA_CONFORMANCE_DIR
#define SB_SCHEMA_CONFORMANCE_DIR "../shared/conformance/json-schema"
#endif
#ifndef SB_SCHEMA_SKIPS
#define SB_SCHEMA_SKIPS "tests/data/schema-skips.txt"
#endif

#define S_MAX_SKIPS 256
#define S_PATH_MAX  4096

typedef struct {
    char *name; // "draft7/ref.json | group | test"
    int seen;
} s_skip_t;

static s_skip_t s_skips[S_MAX_SKIPS];
static size_t s_skip_count;

typedef struct {
    size_t total, passed, skipped, failed, unexpected_pass;
} s_score_t;

static int
s_is_dir (const char *path)
{
    struct stat st;
    return stat (path, &st) == 0 && S_ISDIR (st.st_mode);
}

static const char *
s_suite_dir (int argc, char **argv, char *buf, size_t size)
{
    if (argc > 1) return argv[1];
    const char *env = getenv ("SB_CONFORMANCE_DIR");
    if (env && *env) {
        snprintf (buf, size, "%s/json-schema", env);
        if (s_is_dir (buf)) return buf;
        return env;
    }
    if (s_is_dir (SB_SCHEMA_CONFORMANCE_DIR)) return SB_SCHEMA_CONFORMANCE_DIR;
    return "../shared/conformance/json-schema";
}

//  Skip list: "name | reason" per line, name = "draft/file.json | group | test";
//  '#' starts a comment line.
static int
s_load_skips (const char *path)
{
    FILE *f = fopen (path, "r");
    if (!f) return 0; // no list: nothing skipped
    char line[2048];
    while (fgets (line, sizeof line, f)) {
        line[strcspn (line, "\r\n")] = 0;
        if (line[0] == '#' || line[0] == 0) continue;
        //  The reason follows the third " | ".
        char *cut = line;
        for (int i = 0; i < 3 && cut; i++) {
            cut = strstr (cut, " | ");
            if (cut && i < 2) cut += 3;
        }
        if (!cut) {
            fprintf (stderr, "schema_suite: %s: no reason on line: %s\n", path, line);
            fclose (f);
            return -1;
        }
        *cut = 0;
        if (s_skip_count == S_MAX_SKIPS) {
            fprintf (stderr, "schema_suite: more than %d skips\n", S_MAX_SKIPS);
            fclose (f);
            return -1;
        }
        s_skips[s_skip_count++].name = strdup (line);
    }
    fclose (f);
    return 0;
}

static s_skip_t *
s_find_skip (const char *name)
{
    for (size_t i = 0; i < s_skip_count; i++)
        if (strcmp (s_skips[i].name, name) == 0) return &s_skips[i];
    return NULL;
}

static int
s_compare_names (const void *a, const void *b)
{
    return strcmp (*(char *const *)a, *(char *const *)b);
}

//  The *.json entries of a directory, sorted; *count entries, caller frees.
static char **
s_list_json (const char *dir, size_t *count, int want_dirs)
{
    DIR *d = opendir (dir);
    *count = 0;
    if (!d) return NULL;
    char **names = NULL;
    size_t capacity = 0;
    struct dirent *entry;
    while ((entry = readdir (d))) {
        if (entry->d_name[0] == '.') continue;
        char path[S_PATH_MAX];
        if (snprintf (path, sizeof path, "%s/%s", dir, entry->d_name) >= (int)sizeof path) continue;
        int is_dir = s_is_dir (path);
        size_t len = strlen (entry->d_name);
        if (!(want_dirs && is_dir) && !(len > 5 && strcmp (entry->d_name + len - 5, ".json") == 0))
            continue;
        if (*count == capacity) {
            capacity = capacity ? capacity * 2 : 64;
            names = realloc (names, capacity * sizeof *names);
            if (!names) break;
        }
        names[(*count)++] = strdup (entry->d_name);
    }
    closedir (d);
    if (names) qsort (names, *count, sizeof *names, s_compare_names);
    return names;
}

static void
s_free_list (char **names, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free (names[i]);
    free (names);
}

//  Adds every remote under dir as http://localhost:1234/<prefix><name>.
static int
s_load_remotes (sb_schema_registry_t *registry, const char *dir, const char *prefix)
{
    size_t count;
    char **names = s_list_json (dir, &count, 1);
    int loaded = 0;
    for (size_t i = 0; i < count; i++) {
        char path[S_PATH_MAX], rel[S_PATH_MAX];
        if (snprintf (path, sizeof path, "%s/%s", dir, names[i]) >= (int)sizeof path ||
            snprintf (rel, sizeof rel, "%s%s", prefix, names[i]) >= (int)sizeof rel)
            continue;
        if (s_is_dir (path)) {
            char sub[S_PATH_MAX];
            if (snprintf (sub, sizeof sub, "%s/", rel) >= (int)sizeof sub) continue;
            loaded += s_load_remotes (registry, path, sub);
            continue;
        }
        json_error_t error;
        json_t *doc = json_load_file (path, 0, &error);
        if (!doc) {
            fprintf (stderr, "schema_suite: %s: %s\n", path, error.text);
            continue;
        }
        char uri[S_PATH_MAX + 32];
        snprintf (uri, sizeof uri, "http://localhost:1234/%s", rel);
        if (sb_schema_registry_add (registry, uri, doc) == 0) loaded++;
        json_decref (doc);
    }
    s_free_list (names, count);
    return loaded;
}

static void
s_count_error (void *arg, const char *pointer, const char *keyword, const char *message)
{
    (void)pointer;
    (void)message;
    //  Every report names a keyword; count it so that the caller can compare.
    if (keyword && *keyword) (*(size_t *)arg)++;
}

//  Runs one test; returns 1 when the outcome matches the expectation.
static int
s_run_test (sb_schema_t *schema, json_t *test, const char **why)
{
    json_t *data = json_object_get (test, "data");
    int expected = json_is_true (json_object_get (test, "valid"));
    if (!schema) {
        *why = "schema did not compile";
        return 0;
    }
    int fast = sb_schema_validate (schema, data, NULL, NULL);
    size_t errors = 0;
    int full = sb_schema_validate (schema, data, s_count_error, &errors);
    if (fast < 0 || full < 0) {
        *why = "internal error";
        return 0;
    }
    if (fast != full) {
        *why = "results differ with and without an error callback";
        return 0;
    }
    if ((full == 0) != (errors > 0)) {
        *why = full ? "errors reported for a valid instance" : "invalid but no error reported";
        return 0;
    }
    *why = expected ? "should be valid" : "should be invalid";
    return fast == expected;
}

static void
s_run_file (const char *dir, const char *draft_name, const char *file, sb_draft_t draft,
            sb_schema_registry_t *registry, s_score_t *score, int verbose_failures)
{
    char path[S_PATH_MAX];
    if (snprintf (path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path) return;
    json_error_t error;
    json_t *groups = json_load_file (path, JSON_ALLOW_NUL, &error);
    if (!groups && verbose_failures == 0)
        //  optional/bignum.json has integers beyond int64, which jansson refuses
        //  unless they become doubles.
        groups = json_load_file (path, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &error);
    if (!json_is_array (groups)) {
        fprintf (stderr, "schema_suite: %s: %s\n", path, error.text);
        score->failed++;
        json_decref (groups);
        return;
    }
    size_t g;
    json_t *group;
    json_array_foreach (groups, g, group)
    {
        char err[256] = "";
        sb_schema_t *schema =
            sb_schema_new (json_object_get (group, "schema"), draft, registry, err, sizeof err);
        const char *group_name = json_string_value (json_object_get (group, "description"));
        size_t t;
        json_t *test;
        json_array_foreach (json_object_get (group, "tests"), t, test)
        {
            char name[1024];
            snprintf (name, sizeof name, "%s/%s | %s | %s", draft_name, file, group_name,
                      json_string_value (json_object_get (test, "description")));
            const char *why = "";
            int ok = s_run_test (schema, test, &why);
            s_skip_t *skip = s_find_skip (name);
            score->total++;
            if (skip) {
                skip->seen = 1;
                score->skipped++;
                if (ok) {
                    score->unexpected_pass++;
                    fprintf (stderr, "UNEXPECTED PASS (remove from skips): %s\n", name);
                }
                continue;
            }
            if (ok)
                score->passed++;
            else {
                score->failed++;
                if (verbose_failures)
                    fprintf (stderr, "FAIL %s: %s%s%s\n", name, why, schema ? "" : ": ",
                             schema ? "" : err);
            }
        }
        sb_schema_destroy (&schema);
    }
    json_decref (groups);
}

static void
s_run_dir (const char *suite, const char *draft_name, const char *sub, sb_draft_t draft,
           sb_schema_registry_t *registry, s_score_t *score, int verbose_failures)
{
    char dir[S_PATH_MAX];
    if (snprintf (dir, sizeof dir, "%s/%s%s", suite, draft_name, sub) >= (int)sizeof dir) return;
    size_t count;
    char **files = s_list_json (dir, &count, 0);
    if (!files) fprintf (stderr, "schema_suite: cannot read %s\n", dir);
    char label[256];
    snprintf (label, sizeof label, "%s%s", draft_name, sub);
    for (size_t i = 0; i < count; i++)
        s_run_file (dir, label, files[i], draft, registry, score, verbose_failures);
    s_free_list (files, count);
}

int
main (int argc, char **argv)
{
    char buf[S_PATH_MAX];
    const char *suite = s_suite_dir (argc, argv, buf, sizeof buf);
    if (!s_is_dir (suite)) {
        fprintf (stderr, "schema_suite: no JSON-Schema-Test-Suite at %s\n", suite);
        return 1;
    }
    if (s_load_skips (SB_SCHEMA_SKIPS) != 0) return 1;
    sb_schema_registry_t *registry = sb_schema_registry_new ();
    char remotes[S_PATH_MAX];
    if (snprintf (remotes, sizeof remotes, "%s/remotes", suite) >= (int)sizeof remotes) return 1;
    int loaded = s_load_remotes (registry, remotes, "");
    printf ("suite: %s (%d remotes, %zu skips listed)\n", suite, loaded, s_skip_count);

    static const struct {
        const char *dir;
        sb_draft_t draft;
    } drafts[] = {
        //  2020-12 schemas say so in $schema (vocabulary.json needs it read);
        //  draft7 ones mostly say nothing, so the draft is given.
        {"draft2020-12", SB_DRAFT_AUTO},
        {"draft7", SB_DRAFT_7},
    };
    int status = 0;
    for (size_t d = 0; d < sizeof drafts / sizeof drafts[0]; d++) {
        s_score_t score = {0};
        s_run_dir (suite, drafts[d].dir, "", drafts[d].draft, registry, &score, 1);
        printf ("%-13s required: %zu/%zu passed, %zu skipped, %zu failed\n", drafts[d].dir,
                score.passed, score.total, score.skipped, score.failed);
        if (score.failed || score.unexpected_pass || score.total == 0) status = 1;
        //  Optional tests (bignum, float-overflow, non-bmp-regex; not format
        //  assertion): for information only.
        s_score_t optional = {0};
        s_run_dir (suite, drafts[d].dir, "/optional", drafts[d].draft, registry, &optional, 0);
        printf ("%-13s optional (informational): %zu/%zu passed\n", drafts[d].dir, optional.passed,
                optional.total);
    }
    for (size_t i = 0; i < s_skip_count; i++) {
        if (!s_skips[i].seen) {
            fprintf (stderr, "schema_suite: skip names no test: %s\n", s_skips[i].name);
            status = 1;
        }
        free (s_skips[i].name);
    }
    sb_schema_registry_destroy (&registry);
    printf ("%s\n", status ? "FAILED" : "OK");
    return status;
}
