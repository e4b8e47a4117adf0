/* Build contexts: a tar of a directory made with libarchive, honouring .dockerignore the way
 * the Docker CLI does (Go filepath.Match patterns, "**", "!" exceptions, last match wins). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "connectors/docker/docker.h"
#include "core/archive_api.h"

#define IGNORE_FILE_MAX (1 << 20)

/* Matches one character class at p (after '['); advances *pp past ']'. -1: malformed. */
static int match_class(const char **pp, char c)
{
	const char *p = *pp;
	int negate = 0;
	if (*p == '^' || *p == '!') {
		negate = 1;
		p++;
	}
	int matched = 0, first = 1;
	while (*p && (*p != ']' || first)) {
		first = 0;
		char lo = *p;
		if (lo == '\\' && p[1])
			lo = *++p;
		char hi = lo;
		if (p[1] == '-' && p[2] && p[2] != ']') {
			hi = p[2];
			if (hi == '\\' && p[3])
				hi = p[3], p++;
			p += 2;
		}
		if (c >= lo && c <= hi)
			matched = 1;
		p++;
	}
	if (*p != ']')
		return -1;
	*pp = p + 1;
	return matched != negate;
}

int pw__docker_glob(const char *pat, const char *s)
{
	while (*pat) {
		if (pat[0] == '*' && pat[1] == '*' && (pat[2] == '/' || pat[2] == '\0')) {
			/* "**" as a whole segment: zero or more path segments */
			const char *rest = pat[2] == '/' ? pat + 3 : pat + 2;
			if (!*rest)
				return 1;
			for (const char *t = s;; t++) {
				if ((t == s || t[-1] == '/') && pw__docker_glob(rest, t))
					return 1;
				if (!*t)
					return 0;
			}
		}
		switch (*pat) {
		case '*': {
			while (*pat == '*')
				pat++;
			for (const char *t = s;; t++) {
				if (pw__docker_glob(pat, t))
					return 1;
				if (!*t || *t == '/')
					return 0;
			}
		}
		case '?':
			if (!*s || *s == '/')
				return 0;
			pat++;
			s++;
			break;
		case '[': {
			if (!*s || *s == '/')
				return 0;
			const char *p = pat + 1;
			int m = match_class(&p, *s);
			if (m <= 0)
				return 0;
			pat = p;
			s++;
			break;
		}
		case '\\':
			if (pat[1])
				pat++;
			/* fall through */
		default:
			if (*pat != *s)
				return 0;
			pat++;
			s++;
		}
	}
	return *s == '\0';
}

/* filepath.Clean of a pattern, without a leading "/" or "./". */
static char *clean_pattern(const char *in)
{
	size_t n = strlen(in);
	char *out = malloc(n + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	const char *p = in;
	while (*p) {
		while (*p == '/')
			p++;
		size_t seg = strcspn(p, "/");
		if (seg == 0)
			break;
		if (seg == 1 && p[0] == '.') {
			p += seg;
			continue;
		}
		if (seg == 2 && p[0] == '.' && p[1] == '.') {
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
			p += seg;
			continue;
		}
		if (o)
			out[o++] = '/';
		memcpy(out + o, p, seg);
		o += seg;
		p += seg;
	}
	out[o] = '\0';
	return out;
}

int pw__docker_ignore_parse(pw_docker_ignore *out, const char *text)
{
	memset(out, 0, sizeof(*out));
	const char *p = text;
	while (p && *p) {
		size_t n = strcspn(p, "\n");
		char line[4096];
		size_t c = n < sizeof(line) - 1 ? n : sizeof(line) - 1;
		memcpy(line, p, c);
		line[c] = '\0';
		p += n;
		if (*p)
			p++;
		char *s = line;
		size_t l = strlen(s);
		while (l && (s[l - 1] == '\r' || s[l - 1] == ' ' || s[l - 1] == '\t'))
			s[--l] = '\0';
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s || *s == '#')
			continue;
		int neg = 0;
		if (*s == '!') {
			neg = 1;
			s++;
			while (*s == ' ' || *s == '\t')
				s++;
		}
		char *pat = clean_pattern(s);
		if (!pat)
			return PW_ENOMEM;
		if (!*pat) {
			free(pat);
			continue;
		}
		char **np = realloc(out->patterns, (out->count + 1) * sizeof(char *));
		int *nn = np ? realloc(out->negate, (out->count + 1) * sizeof(int)) : NULL;
		if (np)
			out->patterns = np;
		if (nn)
			out->negate = nn;
		if (!np || !nn) {
			free(pat);
			return PW_ENOMEM;
		}
		out->patterns[out->count] = pat;
		out->negate[out->count] = neg;
		out->count++;
		if (neg)
			out->has_negation = 1;
	}
	return 0;
}

/* A pattern matches a path when it matches the path or one of its parent directories. */
static int pattern_matches(const char *pat, const char *path)
{
	if (pw__docker_glob(pat, path))
		return 1;
	char buf[PATH_MAX];
	size_t n = strlen(path);
	if (n >= sizeof(buf))
		return 0;
	memcpy(buf, path, n + 1);
	for (size_t i = n; i > 0; i--) {
		if (buf[i - 1] != '/')
			continue;
		buf[i - 1] = '\0';
		if (pw__docker_glob(pat, buf))
			return 1;
	}
	return 0;
}

int pw__docker_ignore_match(const pw_docker_ignore *ig, const char *path)
{
	int excluded = 0;
	for (size_t i = 0; i < ig->count; i++)
		if (pattern_matches(ig->patterns[i], path))
			excluded = !ig->negate[i];
	return excluded;
}

void pw__docker_ignore_dispose(pw_docker_ignore *ig)
{
	for (size_t i = 0; i < ig->count; i++)
		free(ig->patterns[i]);
	free(ig->patterns);
	free(ig->negate);
	memset(ig, 0, sizeof(*ig));
}

typedef struct tar_ctx {
	struct archive *a;
	const pw_docker_ignore *ig;
	const char *root;
	const char *always; /* relative path always sent (the Dockerfile), may be NULL */
	size_t files;
	pw_error **err;
} tar_ctx;

static int add_entry(tar_ctx *t, const char *abs, const char *rel, const struct stat *st)
{
	struct archive_entry *e = archive_entry_new();
	if (!e)
		return PW_ENOMEM;
	archive_entry_copy_stat(e, st);
	archive_entry_set_pathname(e, rel);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	archive_entry_set_uname(e, "");
	archive_entry_set_gname(e, "");
	int rc = 0;
	if (S_ISLNK(st->st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlink(abs, target, sizeof(target) - 1);
		if (n < 0) {
			archive_entry_free(e);
			return pw_error_set(t->err, PW_EIO, "build context: readlink(\"%s\"): %s", abs,
			                    strerror(errno));
		}
		target[n] = '\0';
		archive_entry_set_symlink(e, target);
		archive_entry_set_size(e, 0);
	} else if (!S_ISREG(st->st_mode)) {
		archive_entry_set_size(e, 0);
	}
	if (archive_write_header(t->a, e) != ARCHIVE_OK) {
		rc = pw_error_set(t->err, PW_EIO, "build context: cannot add '%s': %s", rel,
		                  archive_error_string(t->a));
		archive_entry_free(e);
		return rc;
	}
	archive_entry_free(e);
	t->files++;
	if (!S_ISREG(st->st_mode))
		return 0;
	int fd = open(abs, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return pw_error_set(t->err, PW_EIO, "build context: open(\"%s\"): %s", abs, strerror(errno));
	char buf[65536];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (archive_write_data(t->a, buf, (size_t)n) < 0) {
			rc = pw_error_set(t->err, PW_EIO, "build context: writing '%s': %s", rel,
			                  archive_error_string(t->a));
			break;
		}
	}
	if (n < 0 && rc == 0)
		rc = pw_error_set(t->err, PW_EIO, "build context: read(\"%s\"): %s", abs, strerror(errno));
	close(fd);
	return rc;
}

static int walk(tar_ctx *t, const char *abs_dir, const char *rel_dir, int depth)
{
	if (depth > 128)
		return pw_error_set(t->err, PW_EIO, "build context: directories nested too deep at '%s'",
		                    rel_dir);
	DIR *d = opendir(abs_dir);
	if (!d)
		return pw_error_set(t->err, PW_EIO, "build context: opendir(\"%s\"): %s", abs_dir,
		                    strerror(errno));
	/* sorted, so the tar (and the engine's build cache key) is reproducible */
	struct dirent **names = NULL;
	size_t count = 0, cap = 0;
	struct dirent *de;
	int rc = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (count == cap) {
			cap = cap ? cap * 2 : 32;
			struct dirent **nn = realloc(names, cap * sizeof(*names));
			if (!nn) {
				rc = PW_ENOMEM;
				break;
			}
			names = nn;
		}
		names[count] = malloc(sizeof(struct dirent));
		if (!names[count]) {
			rc = PW_ENOMEM;
			break;
		}
		memcpy(names[count], de, sizeof(struct dirent));
		count++;
	}
	closedir(d);
	for (size_t i = 0; i < count; i++)
		for (size_t j = i + 1; j < count; j++)
			if (strcmp(names[i]->d_name, names[j]->d_name) > 0) {
				struct dirent *x = names[i];
				names[i] = names[j];
				names[j] = x;
			}
	for (size_t i = 0; rc == 0 && i < count; i++) {
		char abs[PATH_MAX], rel[PATH_MAX];
		int a = snprintf(abs, sizeof(abs), "%s/%s", abs_dir, names[i]->d_name);
		int r = *rel_dir ? snprintf(rel, sizeof(rel), "%s/%s", rel_dir, names[i]->d_name)
		                 : snprintf(rel, sizeof(rel), "%s", names[i]->d_name);
		if (a < 0 || r < 0 || (size_t)a >= sizeof(abs) || (size_t)r >= sizeof(rel)) {
			rc = pw_error_set(t->err, PW_EIO, "build context: path too long under '%s'", rel_dir);
			break;
		}
		struct stat st;
		if (lstat(abs, &st) < 0) {
			rc = pw_error_set(t->err, PW_EIO, "build context: lstat(\"%s\"): %s", abs,
			                  strerror(errno));
			break;
		}
		int always = !strcmp(rel, ".dockerignore") || (t->always && !strcmp(rel, t->always));
		int excluded = !always && pw__docker_ignore_match(t->ig, rel);
		if (S_ISDIR(st.st_mode)) {
			if (!excluded)
				rc = add_entry(t, abs, rel, &st);
			/* an excluded directory may still hold re-included files */
			if (rc == 0 && (!excluded || t->ig->has_negation))
				rc = walk(t, abs, rel, depth + 1);
			continue;
		}
		if (!excluded)
			rc = add_entry(t, abs, rel, &st);
	}
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
	return rc;
}

static char *read_small_file(const char *path, size_t max)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	pw_buf b = PW_BUF_INIT(max);
	char chunk[8192];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (pw__buf_append(&b, chunk, n) < 0)
			break;
	fclose(f);
	return pw__buf_detach(&b);
}

int pw__docker_context_tar(FILE *out, const char *context_dir, const char *dockerfile_path,
                           char **dockerfile_name, size_t *files, pw_error **err)
{
	*dockerfile_name = NULL;
	*files = 0;
	char root[PATH_MAX], df[PATH_MAX];
	if (!realpath(context_dir, root)) {
		pw_error *e = pw_error_new(PW_ECONFIG, "build_context '%s' cannot be used: %s", context_dir,
		                           strerror(errno));
		pw_error_set_key(e, "build_context");
		if (err && !*err)
			*err = e;
		else
			pw_error_free(e);
		return PW_ECONFIG;
	}
	if (!realpath(dockerfile_path, df)) {
		pw_error *e = pw_error_new(PW_ECONFIG, "dockerfile '%s' cannot be read: %s", dockerfile_path,
		                           strerror(errno));
		pw_error_set_key(e, "dockerfile");
		if (err && !*err)
			*err = e;
		else
			pw_error_free(e);
		return PW_ECONFIG;
	}
	size_t rl = strlen(root);
	const char *inside = NULL;
	if (!strncmp(df, root, rl) && df[rl] == '/')
		inside = df + rl + 1;
	char ignore_path[PATH_MAX + 16];
	snprintf(ignore_path, sizeof(ignore_path), "%s/.dockerignore", root);
	char *ignore_text = read_small_file(ignore_path, IGNORE_FILE_MAX);
	pw_docker_ignore ig;
	int rc = pw__docker_ignore_parse(&ig, ignore_text ? ignore_text : "");
	free(ignore_text);
	if (rc < 0) {
		pw__docker_ignore_dispose(&ig);
		return rc;
	}
	rc = pw__archive_load(err);
	struct archive *a = rc < 0 ? NULL : archive_write_new();
	if (!a) {
		pw__docker_ignore_dispose(&ig);
		return rc < 0 ? rc : PW_ENOMEM;
	}
	archive_write_set_format_pax_restricted(a);
	archive_write_set_bytes_in_last_block(a, 1);
	fflush(out);
	if (archive_write_open_fd(a, fileno(out)) != ARCHIVE_OK) {
		rc = pw_error_set(err, PW_EIO, "build context: %s", archive_error_string(a));
		archive_write_free(a);
		pw__docker_ignore_dispose(&ig);
		return rc;
	}
	tar_ctx t = {a, &ig, root, inside, 0, err};
	rc = walk(&t, root, "", 0);
	if (rc == 0 && !inside) {
		struct stat st;
		if (stat(df, &st) < 0)
			rc =
			    pw_error_set(err, PW_EIO, "build context: stat(\"%s\"): %s", df, strerror(errno));
		else
			rc = add_entry(&t, df, ".pipewright.Dockerfile", &st);
	}
	if (archive_write_close(a) != ARCHIVE_OK && rc == 0)
		rc = pw_error_set(err, PW_EIO, "build context: %s", archive_error_string(a));
	archive_write_free(a);
	pw__docker_ignore_dispose(&ig);
	if (rc == 0) {
		*dockerfile_name = strdup(inside ? inside : ".pipewright.Dockerfile");
		*files = t.files;
		if (!*dockerfile_name)
			rc = PW_ENOMEM;
	}
	return rc;
}
