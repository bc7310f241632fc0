#include "tools/cli.h"
int cmd_ingest(struct cli *cli, int argc, char **argv)
{
	(void)cli; (void)argc; (void)argv;
	cli_error("ingest: not built yet");
	return 1;
}
