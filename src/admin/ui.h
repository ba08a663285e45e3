/* The web page operators use (SPEC.md section 4, "the Network page"): plain HTML, CSS and
 * JavaScript in src/admin/ui/, compiled into the binary at build time (cmake/embed.cmake turns
 * each file into bytes of a generated C file); no build step downloads anything. The page is
 * static: everything it shows comes from /api/v1 with the token the user signs in with. */
#ifndef CG_ADMIN_UI_H
#define CG_ADMIN_UI_H

#include <stddef.h>
#include <stdint.h>

#include "core/slice.h"

struct cg_admin_asset {
    const char *path;         /* "/", "/app.js", "/app.css" ... */
    const char *content_type; /* "text/html; charset=utf-8" ... */
    const uint8_t *data;
    size_t len;
};

/* The asset served at path (the request's path, without the query), or NULL. */
const struct cg_admin_asset *cg_admin_ui_find(struct cg_slice path);

#endif
