/*  sb_autofix — the AutoFix pipeline and its report (see sb_autofix.h).

    auto_fix: lenient parse -> validate; only if that fails, coerce -> validate
    again. The arguments are the input itself when nothing had to change, so a
    valid call is released byte for byte; otherwise the repaired tree is printed.
    validate_only: a strict parse (any repair needed is an error) -> validate.  */

#include "sb_autofix.h"
#include "sb_coerce.h"
#include "sb_jrepair.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    sb_fix_kind_t kind;
    char *path;
} s_fix_t;

typedef struct {
    char *path;
    char *keyword;
    char *message;
} s_error_t;

//  Invariant: arguments != NULL iff valid (in auto_fix) or the input was valid
//  (validate_only); nfixes, nerrors <= SB_AUTOFIX_MAX_REPORTED.
struct _sb_autofix_report_t {
    int valid;
    int unchanged;
    char *arguments; // NUL-terminated
    size_t arguments_len;
    s_fix_t fixes[SB_AUTOFIX_MAX_REPORTED];
    size_t nfixes, fix_total;
    s_error_t errors[SB_AUTOFIX_MAX_REPORTED];
    size_t nerrors;
    int oom;
};

const char *
sb_autofix_mode_name (sb_autofix_mode_t mode)
{
    return mode == SB_AUTOFIX_VALIDATE_ONLY ? "validate_only" : "auto_fix";
}

int
sb_autofix_mode_from_name (const char *name, sb_autofix_mode_t *mode)
{
    if (name && strcmp (name, "auto_fix") == 0)
        *mode = SB_AUTOFIX_AUTO_FIX;
    else if (name && strcmp (name, "validate_only") == 0)
        *mode = SB_AUTOFIX_VALIDATE_ONLY;
    else
        return -1;
    return 0;
}

//  Length of the valid UTF-8 sequence at s (n bytes left), or 0.
static size_t
s_utf8_seq (const unsigned char *s, size_t n)
{
    if (s[0] < 0x80) return 1;
    size_t len = s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 ? 2 : 0;
    if (len == 0 || len > n) return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return len;
}

//  A copy of at most `max` bytes of s, cut on a character boundary, with any byte
//  that is not UTF-8 replaced by '?' (paths and messages may quote the input, and
//  the report must stay JSON).
static char *
s_strndup (const char *s, size_t max)
{
    size_t n = strnlen (s, max);
    char *d = malloc (n + 1);
    if (!d) return NULL;
    size_t i = 0;
    while (i < n) {
        size_t len = s_utf8_seq ((const unsigned char *)s + i, n - i);
        if (len == 0)
            d[i++] = '?';
        else {
            memcpy (d + i, s + i, len);
            i += len;
        }
    }
    d[n] = 0;
    return d;
}

static void
s_on_fix (void *arg, sb_fix_kind_t kind, const char *path)
{
    sb_autofix_report_t *self = arg;
    self->fix_total++;
    if (self->nfixes == SB_AUTOFIX_MAX_REPORTED) return;
    char *p = s_strndup (path, 4096);
    if (!p) {
        self->oom = 1;
        return;
    }
    self->fixes[self->nfixes].kind = kind;
    self->fixes[self->nfixes++].path = p;
}

static void
s_add_error (sb_autofix_report_t *self, const char *path, const char *keyword, const char *message)
{
    if (self->nerrors == SB_AUTOFIX_MAX_REPORTED) return;
    s_error_t *e = &self->errors[self->nerrors];
    e->path = s_strndup (path ? path : "", 4096);
    e->keyword = s_strndup (keyword ? keyword : "", 64);
    e->message = s_strndup (message ? message : "", SB_AUTOFIX_MAX_MESSAGE);
    if (!e->path || !e->keyword || !e->message) {
        free (e->path);
        free (e->keyword);
        free (e->message);
        self->oom = 1;
        return;
    }
    self->nerrors++;
}

static void
s_clear_errors (sb_autofix_report_t *self)
{
    for (size_t i = 0; i < self->nerrors; i++) {
        free (self->errors[i].path);
        free (self->errors[i].keyword);
        free (self->errors[i].message);
    }
    self->nerrors = 0;
}

static void
s_on_error (void *arg, const char *instance_pointer, const char *keyword, const char *message)
{
    s_add_error (arg, instance_pointer, keyword, message);
}

void
sb_autofix_report_destroy (sb_autofix_report_t **self_p)
{
    if (!self_p || !*self_p) return;
    sb_autofix_report_t *self = *self_p;
    s_clear_errors (self);
    for (size_t i = 0; i < self->nfixes; i++)
        free (self->fixes[i].path);
    free (self->arguments);
    free (self);
    *self_p = NULL;
}

static const char *
s_type_name (sb_jval_type_t t)
{
    static const char *const names[] = {"null", "boolean", "number", "string", "array", "object"};
    return names[t];
}

//  Validates the tree: 1 valid, 0 invalid, -1 failure (error added). Errors are
//  collected only on request: the messages cost more than the check, and only the
//  last verdict's are reported.
static int
s_validate (sb_autofix_report_t *self, sb_schema_t *schema, const json_t *instance, int collect)
{
    int rc = sb_schema_validate (schema, instance, collect ? s_on_error : NULL, self);
    if (rc < 0) s_add_error (self, "", "limit", "the validator gave up (depth or memory limit)");
    return rc;
}

static json_t *
s_instance (sb_autofix_report_t *self, const sb_jval_t *root)
{
    json_t *instance = sb_jval_to_jansson (root);
    if (!instance) s_add_error (self, "", "syntax", "a number is out of range (or memory ran out)");
    return instance;
}

static int
s_set_arguments (sb_autofix_report_t *self, const char *text, size_t len)
{
    self->arguments = malloc (len + 1);
    if (!self->arguments) return -1;
    memcpy (self->arguments, text, len);
    self->arguments[len] = 0;
    self->arguments_len = len;
    return 0;
}

static void
s_run (sb_autofix_report_t *self, const char *args, size_t len, sb_schema_t *schema,
       sb_autofix_mode_t mode)
{
    char err[256];
    if (len > SB_AUTOFIX_MAX_INPUT) {
        snprintf (err, sizeof err, "the arguments are longer than %zu bytes",
                  (size_t)SB_AUTOFIX_MAX_INPUT);
        s_add_error (self, "", "size", err);
        return;
    }
    //  Room for the tree of the worst input (every byte a value) and coercion.
    sb_jdoc_t *doc = sb_jdoc_new (64 * len + ((size_t)1 << 20));
    if (!doc) {
        self->oom = 1;
        return;
    }
    int strict = mode == SB_AUTOFIX_VALIDATE_ONLY;
    unsigned flags = strict ? SB_JREPAIR_STRICT : SB_JREPAIR_EXTRACT | SB_JREPAIR_TRUNCATION;
    sb_jval_t *root = sb_jrepair_parse (doc, args, len, flags, "", strict ? NULL : s_on_fix, self,
                                        err, sizeof err);
    if (!root) {
        s_add_error (self, "", "syntax", err);
        goto done;
    }
    if (sb_jval_type (root) != SB_JVAL_OBJECT) {
        snprintf (err, sizeof err, "the arguments must be a JSON object, not %s",
                  s_type_name (sb_jval_type (root)));
        s_add_error (self, "", "type", err);
        goto done;
    }
    json_t *instance = s_instance (self, root);
    if (!instance) goto done;
    int rc = s_validate (self, schema, instance, 0);
    if (rc == 0 && !strict) {
        //  Coerce only what the schema rejects, then judge the result afresh.
        int n = sb_coerce_apply (doc, root, sb_schema_document (schema), s_on_fix, self);
        if (n < 0)
            self->oom = 1;
        else if (n > 0) {
            json_decref (instance);
            instance = s_instance (self, root);
            rc = instance ? s_validate (self, schema, instance, 0) : -1;
        }
    }
    if (rc == 0) s_validate (self, schema, instance, 1);
    json_decref (instance);
    if (rc != 1) goto done;
    self->valid = 1;
    if (self->fix_total == 0) {
        self->unchanged = 1;
        if (s_set_arguments (self, args, len)) self->oom = 1;
    } else {
        size_t out_len;
        char *out = sb_jval_to_json (root, &out_len);
        if (!out) self->oom = 1;
        self->arguments = out;
        self->arguments_len = out_len;
    }
done:
    if (self->oom) {
        self->valid = 0;
        free (self->arguments);
        self->arguments = NULL;
    }
    sb_jdoc_destroy (&doc);
}

int
sb_autofix_run (const char *args, size_t len, sb_schema_t *schema, sb_autofix_mode_t mode,
                sb_autofix_report_t **report)
{
    assert (schema && report);
    *report = NULL;
    sb_autofix_report_t *self = calloc (1, sizeof *self);
    if (!self) return -1;
    s_run (self, args ? args : "", args ? len : 0, schema, mode);
    if (self->oom) {
        sb_autofix_report_destroy (&self);
        return -1;
    }
    *report = self;
    return 0;
}

int
sb_autofix_report_valid (const sb_autofix_report_t *self)
{
    assert (self);
    return self->valid;
}

const char *
sb_autofix_report_arguments (const sb_autofix_report_t *self, size_t *len)
{
    assert (self);
    if (len) *len = self->arguments ? self->arguments_len : 0;
    return self->arguments;
}

int
sb_autofix_report_unchanged (const sb_autofix_report_t *self)
{
    assert (self);
    return self->unchanged;
}

size_t
sb_autofix_report_fix_count (const sb_autofix_report_t *self)
{
    assert (self);
    return self->nfixes;
}

size_t
sb_autofix_report_fix_total (const sb_autofix_report_t *self)
{
    assert (self);
    return self->fix_total;
}

const char *
sb_autofix_report_fix_kind (const sb_autofix_report_t *self, size_t index)
{
    assert (self);
    return index < self->nfixes ? sb_fix_kind_name (self->fixes[index].kind) : NULL;
}

const char *
sb_autofix_report_fix_path (const sb_autofix_report_t *self, size_t index)
{
    assert (self);
    return index < self->nfixes ? self->fixes[index].path : NULL;
}

size_t
sb_autofix_report_error_count (const sb_autofix_report_t *self)
{
    assert (self);
    return self->nerrors;
}

const char *
sb_autofix_report_error_path (const sb_autofix_report_t *self, size_t index)
{
    assert (self);
    return index < self->nerrors ? self->errors[index].path : NULL;
}

const char *
sb_autofix_report_error_keyword (const sb_autofix_report_t *self, size_t index)
{
    assert (self);
    return index < self->nerrors ? self->errors[index].keyword : NULL;
}

const char *
sb_autofix_report_error_message (const sb_autofix_report_t *self, size_t index)
{
    assert (self);
    return index < self->nerrors ? self->errors[index].message : NULL;
}

json_t *
sb_autofix_report_json (const sb_autofix_report_t *self)
{
    assert (self);
    json_t *fixes = json_array ();
    json_t *errors = json_array ();
    for (size_t i = 0; fixes && i < self->nfixes; i++) {
        json_t *f = json_pack ("{s:s, s:s}", "kind", sb_fix_kind_name (self->fixes[i].kind), "path",
                               self->fixes[i].path);
        if (json_array_append_new (fixes, f)) {
            json_decref (fixes);
            fixes = NULL;
        }
    }
    for (size_t i = 0; errors && i < self->nerrors; i++) {
        const s_error_t *e = &self->errors[i];
        json_t *o = json_pack ("{s:s, s:s, s:s}", "path", e->path, "keyword", e->keyword, "message",
                               e->message);
        if (json_array_append_new (errors, o)) {
            json_decref (errors);
            errors = NULL;
        }
    }
    json_t *args =
        self->arguments ? json_stringn (self->arguments, self->arguments_len) : json_null ();
    //  "o" hands each reference to the result, on failure too.
    return json_pack ("{s:b, s:o, s:o, s:o}", "valid", self->valid, "arguments", args, "fixes",
                      fixes, "errors", errors);
}

//  A growable text buffer for the report (bounded: the report holds at most
//  SB_AUTOFIX_MAX_REPORTED fixes and errors of bounded length, and the arguments).
typedef struct {
    char *data;
    size_t len, cap;
    int oom;
} s_text_t;

static void
s_put (s_text_t *t, const char *s, size_t n)
{
    if (t->oom) return;
    if (t->cap - t->len <= n) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap - t->len <= n)
            cap *= 2;
        char *d = realloc (t->data, cap);
        if (!d) {
            t->oom = 1;
            return;
        }
        t->data = d;
        t->cap = cap;
    }
    memcpy (t->data + t->len, s, n);
    t->len += n;
    t->data[t->len] = 0;
}

static void
s_put_cstr (s_text_t *t, const char *s)
{
    s_put (t, s, strlen (s));
}

//  A JSON string: escapes '"', '\\' and control characters, as json_dumps does.
static void
s_put_string (s_text_t *t, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    s_put (t, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        s_put (t, s + run, i - run);
        run = i + 1;
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        const char *two = c == '"'    ? "\\\""
                          : c == '\\' ? "\\\\"
                          : c == '\n' ? "\\n"
                          : c == '\r' ? "\\r"
                          : c == '\t' ? "\\t"
                          : c == '\b' ? "\\b"
                          : c == '\f' ? "\\f"
                                      : NULL;
        if (two)
            s_put (t, two, 2);
        else
            s_put (t, esc, 6);
    }
    s_put (t, s + run, n - run);
    s_put (t, "\"", 1);
}

char *
sb_autofix_report_to_json (const sb_autofix_report_t *self, size_t *len)
{
    assert (self);
    //  Written by hand rather than through jansson: it is on every call's path and
    //  costs several times less this way (same bytes as json_dumps compact).
    s_text_t t = {NULL, 0, 0, 0};
    s_put_cstr (&t,
                self->valid ? "{\"valid\":true,\"arguments\":" : "{\"valid\":false,\"arguments\":");
    if (self->arguments)
        s_put_string (&t, self->arguments, self->arguments_len);
    else
        s_put_cstr (&t, "null");
    s_put_cstr (&t, ",\"fixes\":[");
    for (size_t i = 0; i < self->nfixes; i++) {
        s_put_cstr (&t, i ? ",{\"kind\":\"" : "{\"kind\":\"");
        s_put_cstr (&t, sb_fix_kind_name (self->fixes[i].kind));
        s_put_cstr (&t, "\",\"path\":");
        s_put_string (&t, self->fixes[i].path, strlen (self->fixes[i].path));
        s_put_cstr (&t, "}");
    }
    s_put_cstr (&t, "],\"errors\":[");
    for (size_t i = 0; i < self->nerrors; i++) {
        const s_error_t *e = &self->errors[i];
        s_put_cstr (&t, i ? ",{\"path\":" : "{\"path\":");
        s_put_string (&t, e->path, strlen (e->path));
        s_put_cstr (&t, ",\"keyword\":");
        s_put_string (&t, e->keyword, strlen (e->keyword));
        s_put_cstr (&t, ",\"message\":");
        s_put_string (&t, e->message, strlen (e->message));
        s_put_cstr (&t, "}");
    }
    s_put_cstr (&t, "]}");
    if (t.oom) {
        free (t.data);
        return NULL;
    }
    if (len) *len = t.len;
    return t.data;
}
