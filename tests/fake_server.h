/* The local servers of the connector tests (Python or shell scripts under tests/), run for one
 * test program: started once, stopped at exit, driven through their /_test endpoints. */
#ifndef PW_TESTS_FAKE_SERVER_H
#define PW_TESTS_FAKE_SERVER_H

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

#include "net/http.h"

typedef struct pw_fake_server {
	pid_t pid;
	int to_server; /* the server's stdin (closing it stops the servers that read it) */
	int port[3];   /* the ports it printed, in the order of the names given */
	char base[64]; /* http://127.0.0.1:port[0] */
	pw_http_pool *pool;
	int grace_ms;                /* at exit: how long it may take to leave once its stdin is closed before
	                              * SIGKILL (set after starting; 0: SIGTERM at once) */
	struct pw_fake_server *next; /* the started ones, stopped at exit */
} pw_fake_server;

/* Starts PW_SOURCE_DIR/script with args (NULL-terminated) under Debian's python3 (/bin/sh for
 * a script named *.sh), its stdin a pipe, and reads its stdout: a line "NAME n" for each of names
 * (NULL-terminated, at most 3) fills port[i], until the line `ready` (NULL: until every port is known).
 * Stopped at exit (stdin closed, SIGTERM, reaped). 0, or -1 with the reason on stderr. */
int pw_fake_server_start(pw_fake_server *s, const char *script, const char *const *args,
                         const char *const *names, const char *ready);

/* GET (body NULL) or POST path on base: the JSON of a 200 answer (new reference) or NULL. */
json_t *pw_fake_server_control(pw_fake_server *s, const char *path, const char *body);

/* With openssl, in dir: a test CA (ca.pem, ca.key, subject /CN=ca_cn), a server certificate
 * for 127.0.0.1 and localhost signed by it (srv.pem, srv.key, /CN=server_cn) and a client
 * certificate (client.pem, client.key, subject client_subject). 0, or -1 with the reason on
 * stderr. */
int pw_test_certs(const char *dir, const char *ca_cn, const char *server_cn, const char *client_subject);

/* A new private directory /tmp/PREFIX-XXXXXX in dir[0..cap), removed with everything in it at
 * exit unless PW_TEST_KEEP is set. 0 or -1. */
int pw_test_dir(char *dir, size_t cap, const char *prefix);

#endif
