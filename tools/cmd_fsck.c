#include "tools/cli.h"
int cmd_fsck(struct cli *cli, int argc, char **argv)
{
	(void)cli; (void)argc; (void)argv;
	cli_error("fsck: not built yet");
	return 1;
}
