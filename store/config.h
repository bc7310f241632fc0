/*
 * dsfs.yaml, the dataset's configuration (libyaml).  The file is a tree of
 * mappings; it is read once into a flat table of dotted keys
 * ("cvat.url", "label_sets.default.split") with scalar values, so callers ask
 * for one key with a default and never walk YAML.  Sequences are stored as
 * "key.0", "key.1", ...
 *
 * Secrets never live here: dsfs.yaml names an environment variable or a
 * 0600 file (config_secret()).
 */
#ifndef DSFS_STORE_CONFIG_H
#define DSFS_STORE_CONFIG_H

#include <stdint.h>

struct config;

/*
 * Load `path`; a missing file gives an empty config (all defaults).
 * -EINVAL with "dsfs.yaml:LINE:COL: reason" on a YAML error.
 */
int config_load(struct config **out, const char *path);
/* An empty config (every lookup returns its default). */
int config_new(struct config **out);
void config_free(struct config *cfg);

/* The value (borrowed) or `def`. */
const char *config_get(const struct config *cfg, const char *key, const char *def);
/* -EINVAL with a message naming the key when the value has the wrong type. */
int config_get_int(const struct config *cfg, const char *key, int64_t def, int64_t *out);
int config_get_double(const struct config *cfg, const char *key, double def, double *out);
/* true/false/yes/no/on/off/1/0 */
int config_get_bool(const struct config *cfg, const char *key, int def, int *out);

/*
 * Read a secret named by the config: if `<key>_env` names an environment
 * variable that is set, its value; else if `<key>_file` names a file, its
 * first line, refusing (-EACCES, message names the key) a file readable by
 * group or others.  A relative `<key>_file` is taken relative to the
 * directory of the loaded dsfs.yaml.  -ENOENT if neither is configured.  *out is malloc'ed;
 * the caller frees it.  The secret itself is never put in an error message.
 */
int config_secret(char **out, const struct config *cfg, const char *key);

#endif
