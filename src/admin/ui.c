/* The web page's files, compiled in (ui.h): cmake/embed.cmake generates the table from
 * src/admin/ui/ at build time; this file only looks a path up in it. */
#include "admin/ui.h"

/* generated: <build>/generated/admin_ui_assets.c */
extern const struct cg_admin_asset cg_admin_ui_assets[];
extern const size_t cg_admin_ui_n_assets;

const struct cg_admin_asset *cg_admin_ui_find(struct cg_slice path)
{
    for (size_t i = 0; i < cg_admin_ui_n_assets; i++)
        if (cg_slice_eq_str(path, cg_admin_ui_assets[i].path)) return &cg_admin_ui_assets[i];
    return NULL;
}
