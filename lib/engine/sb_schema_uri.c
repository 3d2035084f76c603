/*  sb_schema_uri — RFC 3986 reference resolution for $id / $ref, and fragment
    percent-decoding. Works on any string: a malformed URI is split as well as
    the grammar allows and resolved anyway, because $ref values come from
    untrusted schemas and "cannot resolve" is reported later by the caller.  */

#include "sb_schema_uri.h"

#include <stdlib.h>
#include <string.h>

//  One component of a split URI; `present` distinguishes "" from absent, which
//  matters for the query and the authority.
typedef struct {
    const char *text;
    size_t len;
    int present;
} s_part_t;

typedef struct {
    s_part_t scheme, authority, path, query, fragment;
} s_uri_t;

static int
s_is_alpha (char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static void
s_split (const char *uri, s_uri_t *out)
{
    memset (out, 0, sizeof *out);
    const char *p = uri;
    //  scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":"
    if (s_is_alpha (*p)) {
        const char *q = p + 1;
        while (s_is_alpha (*q) || (*q >= '0' && *q <= '9') || *q == '+' || *q == '-' || *q == '.')
            q++;
        if (*q == ':') {
            out->scheme = (s_part_t){p, (size_t)(q - p), 1};
            p = q + 1;
        }
    }
    if (p[0] == '/' && p[1] == '/') {
        const char *q = p + 2;
        while (*q && *q != '/' && *q != '?' && *q != '#')
            q++;
        out->authority = (s_part_t){p + 2, (size_t)(q - p - 2), 1};
        p = q;
    }
    const char *q = p;
    while (*q && *q != '?' && *q != '#')
        q++;
    out->path = (s_part_t){p, (size_t)(q - p), 1};
    p = q;
    if (*p == '?') {
        q = p + 1;
        while (*q && *q != '#')
            q++;
        out->query = (s_part_t){p + 1, (size_t)(q - p - 1), 1};
        p = q;
    }
    if (*p == '#') out->fragment = (s_part_t){p + 1, strlen (p + 1), 1};
}

//  RFC 3986 5.2.4 over `path` (len bytes), written to out (at least len + 1
//  bytes). Returns the output length.
static size_t
s_remove_dot_segments (const char *path, size_t len, char *out)
{
    size_t n = 0;
    size_t i = 0;
    while (i < len) {
        const char *in = path + i;
        size_t left = len - i;
        if (left >= 3 && memcmp (in, "../", 3) == 0)
            i += 3;
        else if (left >= 2 && memcmp (in, "./", 2) == 0)
            i += 2;
        else if (left >= 3 && memcmp (in, "/./", 3) == 0)
            i += 2; // keep the second '/'
        else if (left == 2 && memcmp (in, "/.", 2) == 0) {
            out[n++] = '/';
            i += 2;
        } else if ((left >= 4 && memcmp (in, "/../", 4) == 0) ||
                   (left == 3 && memcmp (in, "/..", 3) == 0)) {
            //  Drop the last output segment and its preceding '/'.
            while (n > 0 && out[n - 1] != '/')
                n--;
            if (n > 0) n--;
            if (left == 3) {
                out[n++] = '/';
                i += 3;
            } else
                i += 3; // the '/' that starts the rest stays in the input
        } else if ((left == 1 && in[0] == '.') || (left == 2 && memcmp (in, "..", 2) == 0))
            i += left;
        else {
            //  Move the first segment (with its leading '/', if any) to the output.
            size_t j = 0;
            if (in[0] == '/') j = 1;
            while (j < left && in[j] != '/')
                j++;
            memcpy (out + n, in, j);
            n += j;
            i += j;
        }
    }
    out[n] = 0;
    return n;
}

static char *
s_append (char *at, const char *text, size_t len)
{
    memcpy (at, text, len);
    return at + len;
}

char *
sb_schema_uri_resolve (const char *base, const char *ref)
{
    if (!base) base = "";
    s_uri_t b, r;
    s_split (base, &b);
    s_split (ref, &r);

    //  Target components; the path is built in `merged` then dot-cleaned.
    s_part_t scheme, authority, query;
    size_t cap = strlen (base) + strlen (ref) + 8;
    char *merged = malloc (cap);
    char *path = malloc (cap);
    char *result = malloc (cap + 8);
    if (!merged || !path || !result) {
        free (merged);
        free (path);
        free (result);
        return NULL;
    }
    size_t merged_len = 0;
    if (r.scheme.present) {
        scheme = r.scheme;
        authority = r.authority;
        query = r.query;
        memcpy (merged, r.path.text, r.path.len);
        merged_len = r.path.len;
    } else {
        scheme = b.scheme;
        if (r.authority.present) {
            authority = r.authority;
            query = r.query;
            memcpy (merged, r.path.text, r.path.len);
            merged_len = r.path.len;
        } else {
            authority = b.authority;
            if (r.path.len == 0) {
                memcpy (merged, b.path.text, b.path.len);
                merged_len = b.path.len;
                query = r.query.present ? r.query : b.query;
            } else {
                query = r.query;
                if (r.path.text[0] == '/') {
                    memcpy (merged, r.path.text, r.path.len);
                    merged_len = r.path.len;
                } else {
                    //  RFC 3986 5.2.3: base path up to its last '/', then the reference.
                    if (b.authority.present && b.path.len == 0)
                        merged[merged_len++] = '/';
                    else {
                        size_t keep = b.path.len;
                        while (keep > 0 && b.path.text[keep - 1] != '/')
                            keep--;
                        memcpy (merged, b.path.text, keep);
                        merged_len = keep;
                    }
                    memcpy (merged + merged_len, r.path.text, r.path.len);
                    merged_len += r.path.len;
                }
            }
        }
    }
    size_t path_len = s_remove_dot_segments (merged, merged_len, path);

    char *at = result;
    if (scheme.present) {
        at = s_append (at, scheme.text, scheme.len);
        *at++ = ':';
    }
    if (authority.present) {
        at = s_append (at, "//", 2);
        at = s_append (at, authority.text, authority.len);
    }
    at = s_append (at, path, path_len);
    if (query.present) {
        *at++ = '?';
        at = s_append (at, query.text, query.len);
    }
    if (r.fragment.present) {
        *at++ = '#';
        at = s_append (at, r.fragment.text, r.fragment.len);
    }
    *at = 0;
    free (merged);
    free (path);
    return result;
}

size_t
sb_schema_uri_without_fragment (const char *uri)
{
    const char *hash = strchr (uri, '#');
    return hash ? (size_t)(hash - uri) : strlen (uri);
}

static int
s_hex (char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

char *
sb_schema_uri_unescape (const char *text, size_t len, size_t *out_len)
{
    char *out = malloc (len + 1);
    if (!out) return NULL;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '%' && i + 2 < len) {
            int hi = s_hex (text[i + 1]);
            int lo = s_hex (text[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out[n++] = (char)(hi * 16 + lo);
                i += 2;
                continue;
            }
        }
        out[n++] = text[i];
    }
    out[n] = 0;
    if (out_len) *out_len = n;
    return out;
}
