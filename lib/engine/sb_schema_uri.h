/*  sb_schema_uri — the URI arithmetic JSON Schema's $id and $ref need: reference
    resolution against a base (RFC 3986 section 5.2, with dot-segment removal) and
    percent-decoding of fragments. Used while compiling a schema only, so results
    are plain heap strings.  */

#ifndef SB_SCHEMA_URI_H_INCLUDED
#define SB_SCHEMA_URI_H_INCLUDED

#include <stddef.h>

//  Resolves the URI-reference `ref` against `base`. Either may be relative or
//  empty (a schema without an absolute $id has the empty base; the result is then
//  relative too, which is consistent as long as every URI goes through here).
//  Returns a new string (caller frees), or NULL when memory runs out.
char *sb_schema_uri_resolve (const char *base, const char *ref);

//  Length of `uri` without its fragment (the bytes before the first '#').
size_t sb_schema_uri_without_fragment (const char *uri);

//  Percent-decodes `len` bytes of `text` into a new NUL-terminated string (caller
//  frees), its length into *out_len. A '%' not followed by two hex digits is kept
//  as it is. Returns NULL when memory runs out.
char *sb_schema_uri_unescape (const char *text, size_t len, size_t *out_len);

#endif
