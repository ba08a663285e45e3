/* The daemon's command, wired into the CLI's command table by main (the CLI library itself never
 * starts an event loop: STYLE.md). */
#ifndef CG_APP_SERVE_H
#define CG_APP_SERVE_H

#include "cli/cli.h"

extern const struct cg_cli_cmd cg_app_serve_cmds[];

#endif
