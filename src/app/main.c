/* certgate: one executable. The CLI's commands, plus `serve`, the daemon. */
#include "app/serve.h"
#include "cli/cli.h"

int main(int argc, char **argv) { return cg_cli_main(argc, argv, cg_app_serve_cmds); }
