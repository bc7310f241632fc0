#include "tools/cli.h"
int cmd_gen_shapes(struct cli *cli, int argc, char **argv)
{
	(void)cli; (void)argc; (void)argv;
	cli_error("gen_shapes: not built yet");
	return 1;
}
