/* The Docker connector's insides: configuration, request bodies, the log-frame demultiplexer,
 * build contexts, engine discovery and registry auth. Shared by the connector and its tests. */
#ifndef PW_CONNECTORS_DOCKER_H
#define PW_CONNECTORS_DOCKER_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "core/buf.h"
#include "pipewright/sys/connector.h"

/* The API version this connector speaks (what Podman 4.3 serves); older engines are spoken
 * to in their own version when they report one lower than this. */
#define PW_DOCKER_API_VERSION "1.41"
#define PW_DOCKER_DEFAULT_WORKSPACE_MOUNT "/workspace"
#define PW_DOCKER_DEFAULT_STOP_TIMEOUT 10
/* Labels on everything the connector creates. */
#define PW_DOCKER_LABEL_MANAGED "io.pipewright.managed"
#define PW_DOCKER_LABEL_RUN "io.pipewright.run"
#define PW_DOCKER_LABEL_STEP "io.pipewright.step"
/* on containers and images kept on purpose (keep_container, keep_image): gc leaves them */
#define PW_DOCKER_LABEL_KEEP "io.pipewright.keep"

int pw__docker_connector_create(pw_connector **out, pw_manager *m, pw_error **err);

/* ---- configuration (config.c) ---- */

typedef enum pw_docker_pull {
	PW_DOCKER_PULL_IF_NOT_PRESENT = 0,
	PW_DOCKER_PULL_ALWAYS,
	PW_DOCKER_PULL_NEVER
} pw_docker_pull;

/* A step's configuration, read after pw__docker_config_validate succeeded. Strings and JSON
 * values are borrowed from the step. */
typedef struct pw_docker_config {
	const char *image;
	json_t *command;    /* string, array or NULL */
	json_t *entrypoint; /* string, array or NULL */
	const char *dockerfile;
	const char *build_context; /* default "." */
	json_t *build_args;        /* object or NULL */
	const char *working_directory;
	json_t *environment; /* object or NULL */
	const char *user;
	json_t *volumes; /* array or NULL */
	const char *network;
	const char *host;
	const char *workspace_mount;
	pw_docker_pull pull;
	double cpus;      /* 0: unset */
	int64_t memory;   /* bytes, 0: unset */
	int64_t shm_size; /* bytes, 0: unset */
	int keep_container;
	int keep_image;
	int allow_host_paths;
	int stop_timeout; /* seconds */
} pw_docker_config;

/* Checks every key of the step's config; each problem is one error (chained) naming its key
 * with pw_error_set_key and the rule it breaks. Returns 0 or PW_ECONFIG. */
int pw__docker_config_validate(const pw_step *step, pw_error **err);
/* Reads a validated config. */
void pw__docker_config_read(pw_docker_config *out, const pw_step *step);
/* Parses "512m", "1g", "64k", "1024", "2gb" (binary units) into bytes. 0 or PW_EINVAL. */
int pw__docker_parse_size(int64_t *out, const char *text);
/* Non-zero when ref is a valid image reference (name[:tag][@digest], optional registry). */
int pw__docker_image_ref_valid(const char *ref);
/* Splits a reference into what POST /images/create wants: fromImage (name) and tag (tag or
 * digest, "latest" when neither), and the registry host ("docker.io" when none). Caller
 * frees the three strings. */
int pw__docker_image_ref_split(char **name, char **tag, char **registry, const char *ref);

/* A parsed `volumes` entry: "host:container[:ro|rw]". */
typedef struct pw_docker_volume {
	char host[4096];      /* a path (absolute or starting with '.') or a volume name */
	char container[4096]; /* absolute */
	int read_only;
	int is_path; /* host is a path, not a named volume */
} pw_docker_volume;
/* 0, or PW_EINVAL with *why set to a static description of the broken rule. */
int pw__docker_volume_parse(pw_docker_volume *out, const char *spec, const char **why);

/* ---- requests (request.c) ---- */

typedef struct pw_docker_create_input {
	const pw_docker_config *cfg;
	const char *image;     /* the reference or built image to run */
	const pw_map *env;     /* the pipeline's environment for the step; may be NULL */
	const char *workspace; /* absolute host path of the workspace */
	const char *run_id;    /* may be "" */
	const char *step;      /* step name */
	int redact_env;        /* plan: values of env (not config `environment`) become "***" */
} pw_docker_create_input;

/* The body of POST /containers/create (ContainerConfig + HostConfig). Host paths of volumes
 * are resolved against the workspace (relative ones) and checked to stay inside it unless
 * allow_host_paths. Returns a new JSON object or NULL with *err set. */
json_t *pw__docker_create_body(const pw_docker_create_input *in, pw_error **err);
/* The query string of POST /build (without '?'): t, dockerfile, buildargs, labels, rm,
 * forcerm, pull, networkmode. Caller frees. */
char *pw__docker_build_query(const pw_docker_config *cfg, const char *tag, const char *dockerfile_in_context,
                             const char *run_id, const char *step);
/* The run-scoped tag of an image built for a step: "pipewright/<run>-<step>:latest" made
 * of lower-case reference characters. Caller frees. */
char *pw__docker_build_tag(const char *run_id, const char *step);
/* Percent-encodes text for a query string into b. */
void pw__docker_url_encode(pw_buf *b, const char *text);

/* ---- log frames (frames.c) ---- */

/* Demultiplexes the engine's 8-byte-header frames ({stream, 0, 0, 0, size32be} + payload)
 * fed in arbitrary chunks. A stream that does not start with a valid header is passed on as
 * raw stdout (a container with a TTY). */
typedef void (*pw_docker_frame_fn)(int stream, const char *data, size_t len, void *payload);
typedef struct pw_docker_demux {
	unsigned char hdr[8];
	size_t hdr_len;
	uint32_t remaining;
	int stream;
	int raw; /* not framed */
	pw_docker_frame_fn emit;
	void *payload;
} pw_docker_demux;
void pw__docker_demux_init(pw_docker_demux *d, pw_docker_frame_fn emit, void *payload);
void pw__docker_demux_feed(pw_docker_demux *d, const char *data, size_t len);
/* Non-zero when a frame was cut short by the end of the stream. */
int pw__docker_demux_incomplete(const pw_docker_demux *d);

/* ---- build context (context.c) ---- */

/* .dockerignore patterns. */
typedef struct pw_docker_ignore {
	char **patterns;
	int *negate;
	size_t count;
	int has_negation;
} pw_docker_ignore;
/* Parses .dockerignore text. Returns 0 or PW_ENOMEM. */
int pw__docker_ignore_parse(pw_docker_ignore *out, const char *text);
/* Non-zero when the relative path ("a/b/c") is excluded. */
int pw__docker_ignore_match(const pw_docker_ignore *ig, const char *path);
void pw__docker_ignore_dispose(pw_docker_ignore *ig);
/* Glob with Go filepath.Match semantics plus "**" for any number of path segments. */
int pw__docker_glob(const char *pattern, const char *path);

/* Writes an uncompressed tar of context_dir to out (a file the caller rewinds and reads),
 * honouring context_dir/.dockerignore (which, like the Dockerfile, is always sent). When the
 * Dockerfile lies outside the context, it is added as ".pipewright.Dockerfile" and
 * *dockerfile_name says the name to pass as `dockerfile`. *files counts entries written.
 * Caller frees *dockerfile_name. */
int pw__docker_context_tar(FILE *out, const char *context_dir, const char *dockerfile_path,
                           char **dockerfile_name, size_t *files, pw_error **err);

/* ---- engines and auth (engine.c) ---- */

typedef struct pw_docker_endpoint {
	char url[4200];      /* "unix:///run/podman/podman.sock" or "tcp://h:2376" as given */
	char socket[4096];   /* unix socket path, "" for tcp */
	char base[512];      /* "http://localhost" or "https://h:2376" */
	int tls;             /* client certificates from cert_dir */
	char cert_dir[4096]; /* DOCKER_CERT_PATH or ~/.docker */
	char origin[64];     /* "host", "DOCKER_HOST", "default" */
} pw_docker_endpoint;

/* Parses "unix:///path", "tcp://host:port" (and "http(s)://"). tls applies to tcp. */
int pw__docker_endpoint_parse(pw_docker_endpoint *out, const char *url, int tls, const char *cert_dir,
                              const char *origin, pw_error **err);
/* The places to try, in order: the step's host, else DOCKER_HOST (+ DOCKER_TLS_VERIFY,
 * DOCKER_CERT_PATH), else /var/run/docker.sock, $XDG_RUNTIME_DIR/podman/podman.sock,
 * /run/podman/podman.sock. getenv_fn lets tests supply an environment (NULL: getenv).
 * Returns how many were written to out (at most max). */
size_t pw__docker_candidates(pw_docker_endpoint *out, size_t max, const char *config_host,
                             const char *(*getenv_fn)(const char *name));

/* X-Registry-Auth for a registry from a config.json text ({"auths": {...}}): base64url of
 * {"username","password","serveraddress"} or {"identitytoken"}. *out NULL when the file has
 * nothing for it. *secret_out (may be NULL) receives the password/token to register as a
 * secret. Caller frees both. */
int pw__docker_registry_auth(char **out, char **secret_out, const char *config_json, const char *registry);
/* Reads $DOCKER_CONFIG/config.json or ~/.docker/config.json; NULL when absent. Caller frees. */
char *pw__docker_read_config_file(void);

/* What GET /version says. */
typedef struct pw_docker_engine_info {
	char name[64]; /* "Docker Engine", "Podman Engine" */
	char version[64];
	char api_version[16]; /* the version we speak to it: min(ours, its) */
	int podman;
} pw_docker_engine_info;
/* Negotiates from GET /_ping's headers (Api-Version, Libpod-Api-Version, Server) without
 * the slow /version call (over a second on Podman). 0, or PW_ENOTFOUND when they do not say
 * enough (then /version is read). */
int pw__docker_parse_ping(pw_docker_engine_info *out, const char *api_version, const char *libpod_version,
                          const char *server);
/* Reads a /version body. Returns 0 or PW_EEXTERNAL. */
int pw__docker_parse_version(pw_docker_engine_info *out, const char *body, pw_error **err);

/* The message and the failing instruction from a /build JSON stream: feed whole lines. */
typedef struct pw_docker_build_state {
	char last_step[1024]; /* the last "Step N/M : ..." or "STEP N/M: ..." line */
	char error[2048];
	char image_id[160];
	int failed;
} pw_docker_build_state;
/* Handles one JSON line of the build stream; text meant for the log goes to *log (appended). */
void pw__docker_build_line(pw_docker_build_state *st, const char *line, size_t len, pw_buf *log);

#endif
