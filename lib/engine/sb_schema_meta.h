/*  sb_schema_meta — embedded metaschemas (draft 2020-12 and its vocabularies,
    draft-07), found by URI when a $ref or a custom $schema needs one and the
    registry has no document of that name.  */

#ifndef SB_SCHEMA_META_H_INCLUDED
#define SB_SCHEMA_META_H_INCLUDED

#include <stddef.h>

//  The JSON text of the metaschema at `uri` (uri_len bytes, without fragment;
//  the https:// spelling of draft-07 is not its $id and is not found), or NULL.
//  The text is static.
const char *sb_schema_meta_text (const char *uri, size_t uri_len);

#endif
