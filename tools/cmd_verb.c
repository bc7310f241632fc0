/*
 * The pipeline verbs on the command line: `dsfs batch --size 50` or
 * `dsfs batch size=50` runs what `echo size=50 > ctl/batch` runs in the
 * mount (core/verbs.c).  --key value and --key=value become key=value
 * (dashes in keys become underscores); a few commands take positionals
 * (`dsfs cvat pull batch=ID` is action=pull).
 */
#include <stdio.h>
#include <string.h>

#include "core/repo.h"
#include "core/verbs.h"
#include "tools/cli.h"
#include "util/buf.h"
#include "util/err.h"

/* Append "key=value" for argv word(s) at *i; returns 0 or -1 on a usage error. */
static int add_option(struct buf *line, int argc, char **argv, int *i)
{
	const char *a = argv[*i] + 2, *eq = strchr(a, '=');
	size_t klen = eq ? (size_t)(eq - a) : strlen(a);

	buf_puts(line, line->len ? " " : "");
	for (size_t k = 0; k < klen; k++)
		buf_put(line, a[k] == '-' ? "_" : &a[k], 1);
	if (eq) {
		buf_printf(line, "=\"%s\"", eq + 1);
	} else {
		if (*i + 1 >= argc)
			return -1;
		buf_printf(line, "=\"%s\"", argv[++*i]);
	}
	return 0;
}

int cmd_verb(struct cli *cli, int argc, char **argv)
{
	const char *name = argv[0];
	const struct verb *v;
	struct buf line = BUF_INIT, out = BUF_INIT, ids = BUF_INIT;
	struct repo *repo = NULL;
	int error;

	if (!strcmp(name, "import-coco"))
		name = "import";
	v = verb_find(name);
	if (cli_wants_help(argc, argv)) {
		printf("usage: dsfs %s %s\n\n%s.\nThe same as writing that line to ctl/%s in the mount.\n"
		       "Options may also be given as --key VALUE.\n", argv[0], v->usage, v->summary, v->name);
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "--", 2) && argv[i][2]) {
			if (add_option(&line, argc, argv, &i) < 0) {
				cli_error("%s: %s needs a value", argv[0], argv[i]);
				return 2;
			}
		} else if (strchr(argv[i], '=')) {
			buf_printf(&line, "%s%s", line.len ? " " : "", argv[i]);
		} else if (!strcmp(v->name, "cvat") && (!strcmp(argv[i], "pull") || !strcmp(argv[i], "run"))) {
			buf_printf(&line, "%saction=%s", line.len ? " " : "", argv[i]);
		} else if (!strcmp(v->name, "import")) {
			buf_printf(&line, "%sfile=\"%s\"", line.len ? " " : "", argv[i]);
		} else if (!strcmp(v->name, "exclude") || !strcmp(v->name, "include")) {
			buf_printf(&ids, "%s%s", ids.len ? "," : "", argv[i]);
		} else {
			cli_error("%s: unexpected argument '%s'", argv[0], argv[i]);
			return 2;
		}
	}
	if (ids.len)
		buf_printf(&line, "%simages=%s", line.len ? " " : "", ids.ptr);
	err_clear();
	if ((error = repo_open(&repo, cli->repo)) < 0) {
		cli_error("%s: %s", argv[0], err_msg(error));
		goto done;
	}
	error = verb_run_line(repo, v->name, line.ptr, &out);
	if (error)
		cli_error("%s: %s", argv[0], err_last());
	else if (!cli->quiet)
		fputs(out.ptr, stdout);
done:
	repo_free(repo);
	buf_release(&line);
	buf_release(&ids);
	buf_release(&out);
	return error ? 1 : 0;
}
