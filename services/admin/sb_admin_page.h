/*  sb_admin_page — the dashboard's static files (HTML, JS, CSS from
    services/admin/dashboard/), compiled into the binary by embed.cmake so
    admin serves them with no install step and no network: one self-contained
    page, no CDN.  */

#ifndef SB_ADMIN_PAGE_H_INCLUDED
#define SB_ADMIN_PAGE_H_INCLUDED

#include <stddef.h>

typedef struct {
    const char *path;         // "/", "/dashboard.js", ...
    const char *content_type; // with charset for text
    const unsigned char *data;
    size_t len;
} sb_admin_page_file_t;

//  Generated (sb_admin_page_data.c); ends with a NULL path.
extern const sb_admin_page_file_t sb_admin_page_files[];

//  The file served at `path` ("/index.html" is "/"), or NULL.
const sb_admin_page_file_t *sb_admin_page_find (const char *path);

#endif
