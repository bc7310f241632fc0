/*
 * dsfs gen-shapes: synthetic images with known boxes, for demos, tests and
 * benchmarks.  A thin wrapper over shapes_generate_ex(); this file only
 * parses options and draws the progress line.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/shapes.h"
#include "tools/cli.h"
#include "util/err.h"

static void help(void)
{
	printf("usage: dsfs gen-shapes OUTDIR --count N [--size WxH] [--seed S]\n"
	       "\n"
	       "Write N synthetic images (1-6 filled rectangles, ellipses or triangles\n"
	       "on a textured background) to OUTDIR/images/shape_000001.jpg ... (JPEG,\n"
	       "quality 90, 4:2:0) and their exact bounding boxes to\n"
	       "OUTDIR/instances_default.json (COCO 1.0 as CVAT exports it; categories\n"
	       "1 rectangle, 2 ellipse, 3 triangle; image ids 1..N).  OUTDIR is created\n"
	       "if needed; existing files of the same names are overwritten.\n"
	       "\n"
	       "  --count N     number of images (required, >= 1)\n"
	       "  --size WxH    image size in pixels, %d..%d per side (default 640x480)\n"
	       "  --seed S      unsigned 64-bit seed (default 1); the same seed and size\n"
	       "                give the same pixels and boxes on every machine\n"
	       "\n"
	       "Uses one thread per CPU (at most 8).  Shows progress on stderr for 200\n"
	       "or more images unless -q; prints a one-line summary on stdout.\n",
	       SHAPES_MIN_SIDE, SHAPES_MAX_SIDE);
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (!*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	*out = strtoull(s, &end, 0);
	return errno || *end ? -1 : 0;
}

static int parse_size(const char *s, unsigned *w, unsigned *h)
{
	unsigned long a, b;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	a = strtoul(s, &end, 10);
	if (*end != 'x' && *end != 'X')
		return -1;
	s = end + 1;
	if (*s < '0' || *s > '9')
		return -1;
	b = strtoul(s, &end, 10);
	if (*end || a < SHAPES_MIN_SIDE || b < SHAPES_MIN_SIDE || a > SHAPES_MAX_SIDE ||
	    b > SHAPES_MAX_SIDE)
		return -1;
	*w = (unsigned)a;
	*h = (unsigned)b;
	return 0;
}

struct progress {
	int tty;
	unsigned last; /* last value shown */
	unsigned step; /* show every `step` images */
};

static void show_progress(unsigned done, unsigned total, void *payload)
{
	struct progress *p = payload;

	if (done != total && done < p->last + p->step)
		return;
	p->last = done;
	if (p->tty)
		fprintf(stderr, "\rgen-shapes: %u/%u images", done, total);
	else
		fprintf(stderr, "gen-shapes: %u/%u images\n", done, total);
	if (p->tty && done == total)
		fputc('\n', stderr);
}

/* The value of option `name` at argv[*i] ("--name V" or "--name=V"), or NULL. */
static const char *opt_value(int argc, char **argv, int *i, const char *name, int *missing)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n))
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n])
		return NULL;
	if (*i + 1 >= argc) {
		*missing = 1;
		return NULL;
	}
	return argv[++*i];
}

int cmd_gen_shapes(struct cli *cli, int argc, char **argv)
{
	struct shapes_gen_opts opts = SHAPES_GEN_OPTS_INIT;
	struct progress prog = { 0 };
	const char *outdir = NULL, *v;
	unsigned width = 640, height = 480, count = 0;
	uint64_t seed = 1, n;
	int have_count = 0;
	int error;

	if (cli_wants_help(argc, argv)) {
		help();
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		int missing = 0;

		if ((v = opt_value(argc, argv, &i, "--count", &missing))) {
			if (parse_u64(v, &n) < 0 || n == 0 || n > 100000000) {
				cli_error("gen-shapes: --count must be a number from 1 to 100000000, "
					  "not '%s'", v);
				return 2;
			}
			count = (unsigned)n;
			have_count = 1;
		} else if ((v = opt_value(argc, argv, &i, "--size", &missing))) {
			if (parse_size(v, &width, &height) < 0) {
				cli_error("gen-shapes: --size must be WxH with each side %d..%d, "
					  "not '%s'", SHAPES_MIN_SIDE, SHAPES_MAX_SIDE, v);
				return 2;
			}
		} else if ((v = opt_value(argc, argv, &i, "--seed", &missing))) {
			if (parse_u64(v, &seed) < 0) {
				cli_error("gen-shapes: --seed must be an unsigned 64-bit number, "
					  "not '%s'", v);
				return 2;
			}
		} else if (missing) {
			cli_error("gen-shapes: %s needs a value", argv[i]);
			return cli_usage("gen-shapes");
		} else if (argv[i][0] == '-' && argv[i][1] && strcmp(argv[i], "--")) {
			cli_error("gen-shapes: unknown option '%s'", argv[i]);
			return cli_usage("gen-shapes");
		} else if (!strcmp(argv[i], "--")) {
			continue;
		} else if (outdir) {
			cli_error("gen-shapes: one OUTDIR only ('%s' and '%s')", outdir, argv[i]);
			return cli_usage("gen-shapes");
		} else {
			outdir = argv[i];
		}
	}
	if (!outdir || !have_count) {
		cli_error("gen-shapes: %s", !outdir ? "OUTDIR is required" : "--count N is required");
		return cli_usage("gen-shapes");
	}

	if (!cli->quiet && count >= 200) {
		prog.tty = isatty(STDERR_FILENO);
		prog.step = prog.tty ? (count / 200 ? count / 200 : 1) : (count / 10 ? count / 10 : 1);
		opts.progress = show_progress;
		opts.payload = &prog;
	}
	err_clear();
	if ((error = shapes_generate_ex(outdir, count, width, height, seed, &opts)) < 0) {
		if (prog.tty && prog.last)
			fputc('\n', stderr);
		cli_error("gen-shapes: %s", err_msg(error));
		return 1;
	}
	printf("generated %u images (%" PRIu64 " bytes) in %s/images, boxes in "
	       "%s/instances_default.json\n",
	       count, opts.bytes, outdir, outdir);
	return 0;
}
