#include "tools/cli.h"
int cmd_mount(struct cli *cli, int argc, char **argv)
{
	(void)cli; (void)argc; (void)argv;
	cli_error("mount: not built yet");
	return 1;
}
int cmd_umount(struct cli *cli, int argc, char **argv)
{
	(void)cli; (void)argc; (void)argv;
	return 1;
}
