#include "tools/cli.h"
int cmd_init(struct cli *cli, int argc, char **argv)
{
	(void)cli; (void)argc; (void)argv;
	cli_error("init: not built yet");
	return 1;
}
