/*
 * Unit tests for store/config: dsfs.yaml files are written into a fresh
 * temporary directory and loaded; the tests check the flattened keys, the
 * typed getters, the "file:line:col" of YAML errors and the rules of
 * config_secret() (environment first, then a file nobody else can read).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/config.h"
#include "util/err.h"
#include "util/fsutil.h"

struct fx {
	char dir[64];
	char yaml[128];
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/dsfs-test-config-XXXXXX");
	if (!mkdtemp(fx->dir)) {
		free(fx);
		return -1;
	}
	snprintf(fx->yaml, sizeof(fx->yaml), "%s/dsfs.yaml", fx->dir);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	fs_rm_rf(fx->dir);
	free(fx);
	return 0;
}

static void write_text(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0); /* umask must not decide the test */
	close(fd);
}

static struct config *load(struct fx *fx, const char *text)
{
	struct config *cfg = NULL;
	int rc;

	write_text(fx->yaml, text, 0644);
	err_clear();
	rc = config_load(&cfg, fx->yaml);
	if (rc < 0)
		fail_msg("config_load: %s", err_last());
	assert_non_null(cfg);
	return cfg;
}

static void test_nested_and_sequences(void **state)
{
	struct fx *fx = *state;
	struct config *cfg = load(fx,
		"# dataset config\n"
		"cvat:\n"
		"  url: http://localhost:8080\n"
		"  project: \"birds\"\n"
		"label_sets:\n"
		"  default:\n"
		"    split: 0.2\n"
		"    classes: [cat, dog, 'bird']\n"
		"    extra:\n"
		"      - name: a\n"
		"        id: 1\n"
		"      - plain\n"
		"      - [x, y]\n"
		"empty_value:\n"
		"tilde: ~\n"
		"quoted_empty: \"\"\n"
		"empty_map: {}\n"
		"multi: |\n"
		"  line one\n"
		"  line two\n");

	assert_string_equal(config_get(cfg, "cvat.url", NULL), "http://localhost:8080");
	assert_string_equal(config_get(cfg, "cvat.project", NULL), "birds");
	assert_string_equal(config_get(cfg, "label_sets.default.split", NULL), "0.2");
	assert_string_equal(config_get(cfg, "label_sets.default.classes.0", NULL), "cat");
	assert_string_equal(config_get(cfg, "label_sets.default.classes.1", NULL), "dog");
	assert_string_equal(config_get(cfg, "label_sets.default.classes.2", NULL), "bird");
	assert_null(config_get(cfg, "label_sets.default.classes.3", NULL));
	assert_string_equal(config_get(cfg, "label_sets.default.extra.0.name", NULL), "a");
	assert_string_equal(config_get(cfg, "label_sets.default.extra.0.id", NULL), "1");
	assert_string_equal(config_get(cfg, "label_sets.default.extra.1", NULL), "plain");
	assert_string_equal(config_get(cfg, "label_sets.default.extra.2.0", NULL), "x");
	assert_string_equal(config_get(cfg, "label_sets.default.extra.2.1", NULL), "y");
	assert_string_equal(config_get(cfg, "multi", NULL), "line one\nline two\n");
	/* a collection is not a value */
	assert_null(config_get(cfg, "cvat", NULL));
	assert_null(config_get(cfg, "label_sets.default.classes", NULL));
	/* plain nulls leave the default in force; a quoted empty string is a value */
	assert_string_equal(config_get(cfg, "empty_value", "def"), "def");
	assert_string_equal(config_get(cfg, "tilde", "def"), "def");
	assert_string_equal(config_get(cfg, "quoted_empty", "def"), "");
	assert_string_equal(config_get(cfg, "no.such.key", "def"), "def");
	config_free(cfg);
}

static void test_types(void **state)
{
	struct fx *fx = *state;
	struct config *cfg = load(fx,
		"n: 50\n"
		"neg: -3\n"
		"hex: 0x1f\n"
		"lead0: 010\n"
		"big: 9223372036854775807\n"
		"huge: 99999999999999999999\n"
		"word: fifty\n"
		"half: 12abc\n"
		"f: 0.25\n"
		"fe: 1e-3\n"
		"b1: yes\n"
		"b2: Off\n"
		"b3: TRUE\n"
		"b4: 0\n"
		"bad_bool: maybe\n");
	int64_t i;
	double d;
	int b;

	assert_int_equal(config_get_int(cfg, "n", 0, &i), 0);
	assert_int_equal(i, 50);
	assert_int_equal(config_get_int(cfg, "neg", 0, &i), 0);
	assert_int_equal(i, -3);
	assert_int_equal(config_get_int(cfg, "hex", 0, &i), 0);
	assert_int_equal(i, 31);
	assert_int_equal(config_get_int(cfg, "lead0", 0, &i), 0);
	assert_int_equal(i, 10);
	assert_int_equal(config_get_int(cfg, "big", 0, &i), 0);
	assert_true(i == INT64_MAX);
	assert_int_equal(config_get_int(cfg, "missing", 7, &i), 0);
	assert_int_equal(i, 7);
	err_clear();
	assert_int_equal(config_get_int(cfg, "word", 0, &i), -EINVAL);
	assert_non_null(strstr(err_last(), "word"));
	assert_int_equal(config_get_int(cfg, "half", 0, &i), -EINVAL);
	assert_int_equal(config_get_int(cfg, "huge", 0, &i), -EINVAL);
	assert_int_equal(config_get_int(cfg, "f", 0, &i), -EINVAL);

	assert_int_equal(config_get_double(cfg, "f", 0, &d), 0);
	assert_true(d == 0.25);
	assert_int_equal(config_get_double(cfg, "fe", 0, &d), 0);
	assert_true(d == 1e-3);
	assert_int_equal(config_get_double(cfg, "n", 0, &d), 0);
	assert_true(d == 50.0);
	assert_int_equal(config_get_double(cfg, "missing", 1.5, &d), 0);
	assert_true(d == 1.5);
	err_clear();
	assert_int_equal(config_get_double(cfg, "word", 0, &d), -EINVAL);
	assert_non_null(strstr(err_last(), "word"));

	assert_int_equal(config_get_bool(cfg, "b1", 0, &b), 0);
	assert_int_equal(b, 1);
	assert_int_equal(config_get_bool(cfg, "b2", 1, &b), 0);
	assert_int_equal(b, 0);
	assert_int_equal(config_get_bool(cfg, "b3", 0, &b), 0);
	assert_int_equal(b, 1);
	assert_int_equal(config_get_bool(cfg, "b4", 1, &b), 0);
	assert_int_equal(b, 0);
	assert_int_equal(config_get_bool(cfg, "missing", 1, &b), 0);
	assert_int_equal(b, 1);
	err_clear();
	assert_int_equal(config_get_bool(cfg, "bad_bool", 0, &b), -EINVAL);
	assert_non_null(strstr(err_last(), "bad_bool"));
	config_free(cfg);
}

static void expect_error(struct fx *fx, const char *text, const char *where, const char *what)
{
	struct config *cfg = (struct config *)1;
	char want[256];

	write_text(fx->yaml, text, 0644);
	err_clear();
	assert_int_equal(config_load(&cfg, fx->yaml), -EINVAL);
	assert_null(cfg);
	snprintf(want, sizeof(want), "dsfs.yaml:%s: ", where);
	if (!strstr(err_last(), want) || (what && !strstr(err_last(), what)))
		fail_msg("expected '%s' ... '%s', got '%s'", want, what ? what : "", err_last());
}

static void test_bad_yaml(void **state)
{
	struct fx *fx = *state;

	/* libyaml's own errors, with 1-based line:col of the problem mark */
	expect_error(fx, "a: 1\n  b: 2\n", "2:4", "mapping values are not allowed");
	expect_error(fx, "a: [1, 2\nb: 3\n", "2:2", "flow sequence");
	expect_error(fx, "a: \"unterminated\n", "2:1", NULL);
	/* our own rules */
	expect_error(fx, "a: 1\nb: 2\na: 3\n", "3:1", "duplicate key 'a'");
	expect_error(fx, "x:\n  y: 1\n  y: 2\n", "3:3", "duplicate key 'x.y'");
	expect_error(fx, "- a\n- b\n", "1:1", "top level must be a mapping");
	expect_error(fx, "a: &anchor 1\nb: *anchor\n", "2:4", "aliases");
	expect_error(fx, "? [1, 2]\n: v\n", "1:3", "key");
}

static void test_missing_and_empty(void **state)
{
	struct fx *fx = *state;
	struct config *cfg = NULL;
	char path[PATH_MAX];
	int64_t i;

	snprintf(path, sizeof(path), "%s/none.yaml", fx->dir);
	assert_int_equal(config_load(&cfg, path), 0);
	assert_string_equal(config_get(cfg, "a", "d"), "d");
	assert_int_equal(config_get_int(cfg, "a", 3, &i), 0);
	assert_int_equal(i, 3);
	config_free(cfg);

	cfg = load(fx, "# only a comment\n");
	assert_null(config_get(cfg, "a", NULL));
	config_free(cfg);
	cfg = load(fx, "");
	assert_null(config_get(cfg, "a", NULL));
	config_free(cfg);

	assert_int_equal(config_new(&cfg), 0);
	assert_string_equal(config_get(cfg, "x", "d"), "d");
	config_free(cfg);
	config_free(NULL);
}

static void test_secret_env(void **state)
{
	struct fx *fx = *state;
	char var[64], text[256];
	struct config *cfg;
	char *s = NULL;

	snprintf(var, sizeof(var), "DSFS_TEST_TOKEN_%ld", (long)getpid());
	snprintf(text, sizeof(text), "cvat:\n  token_env: %s\n  token_file: nothere\n", var);
	cfg = load(fx, text);
	assert_int_equal(setenv(var, "s3cret-env", 1), 0);
	assert_int_equal(config_secret(&s, cfg, "cvat.token"), 0);
	assert_string_equal(s, "s3cret-env");
	free(s);
	s = NULL;

	/* unset: falls through to the file, which does not exist */
	unsetenv(var);
	err_clear();
	assert_int_equal(config_secret(&s, cfg, "cvat.token"), -ENOENT);
	assert_null(s);
	assert_non_null(strstr(err_last(), "cvat.token"));
	config_free(cfg);

	/* only the variable is configured and it is unset */
	snprintf(text, sizeof(text), "cvat:\n  token_env: %s\n", var);
	cfg = load(fx, text);
	err_clear();
	assert_int_equal(config_secret(&s, cfg, "cvat.token"), -ENOENT);
	assert_non_null(strstr(err_last(), var));
	/* neither configured */
	assert_int_equal(config_secret(&s, cfg, "mlflow.token"), -ENOENT);
	assert_null(s);
	config_free(cfg);
}

static void test_secret_file(void **state)
{
	struct fx *fx = *state;
	char path[256], text[512];
	struct config *cfg;
	char *s = NULL;

	/* a relative name is found next to dsfs.yaml */
	snprintf(path, sizeof(path), "%s/token", fx->dir);
	write_text(path, "file-secret\nsecond line ignored\n", 0600);
	cfg = load(fx, "cvat:\n  token_file: token\n");
	assert_int_equal(config_secret(&s, cfg, "cvat.token"), 0);
	assert_string_equal(s, "file-secret");
	free(s);
	s = NULL;
	config_free(cfg);

	/* absolute name, CRLF line end, no final newline variants */
	write_text(path, "crlf-secret\r\n", 0600);
	snprintf(text, sizeof(text), "cvat:\n  token_file: %s\n", path);
	cfg = load(fx, text);
	assert_int_equal(config_secret(&s, cfg, "cvat.token"), 0);
	assert_string_equal(s, "crlf-secret");
	free(s);
	s = NULL;
	write_text(path, "no-newline", 0400);
	assert_int_equal(config_secret(&s, cfg, "cvat.token"), 0);
	assert_string_equal(s, "no-newline");
	free(s);
	s = NULL;
	write_text(path, "\n", 0600);
	assert_int_equal(config_secret(&s, cfg, "cvat.token"), -EINVAL);
	assert_null(s);
	config_free(cfg);
}

static void test_secret_file_refused(void **state)
{
	struct fx *fx = *state;
	char path[256], text[512];
	static const mode_t bad[] = { 0644, 0640, 0604, 0660, 0602 };
	struct config *cfg;
	char *s = NULL;

	snprintf(path, sizeof(path), "%s/token", fx->dir);
	snprintf(text, sizeof(text), "cvat:\n  token_file: %s\n", path);
	cfg = load(fx, text);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_text(path, "do-not-leak-me\n", bad[i]);
		err_clear();
		assert_int_equal(config_secret(&s, cfg, "cvat.token"), -EACCES);
		assert_null(s);
		assert_non_null(strstr(err_last(), "cvat.token"));
		assert_null(strstr(err_last(), "do-not-leak-me"));
	}
	/* and the same file becomes acceptable once it is 0600 */
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(config_secret(&s, cfg, "cvat.token"), 0);
	assert_string_equal(s, "do-not-leak-me");
	free(s);
	config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_nested_and_sequences, setup, teardown),
		cmocka_unit_test_setup_teardown(test_types, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_yaml, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_and_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secret_env, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secret_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_secret_file_refused, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
