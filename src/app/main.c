/* certgate: one executable. The CLI is the entry point; `serve` (the daemon) joins it in the
 * next issue. */
#include "cli/cli.h"

int main(int argc, char **argv) { return cg_cli_main(argc, argv, NULL); }
