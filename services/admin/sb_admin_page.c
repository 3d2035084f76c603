/*  sb_admin_page — looks up the embedded dashboard files by path.  */

#include "sb_admin_page.h"

#include <string.h>

const sb_admin_page_file_t *
sb_admin_page_find (const char *path)
{
    if (strcmp (path, "/index.html") == 0) path = "/";
    for (const sb_admin_page_file_t *f = sb_admin_page_files; f->path; f++)
        if (strcmp (f->path, path) == 0) return f;
    return NULL;
}
