/* The GCP connector's reading of Cloud Run answers (gcp.c), for its fuzz target. */
#ifndef PW_CONNECTORS_GCP_H
#define PW_CONNECTORS_GCP_H

#include <stddef.h>

#include <jansson.h>

#include "core/buf.h"
#include "net/http.h"
#include "pipewright/error.h"

/* A Google API error answer (status r->status, parsed body doc, may be NULL) as an error for
 * the operation op: PERMISSION_DENIED names the missing permission and a role that grants it.
 * Stores it in *err and returns its code. */
int pw__gcp_error(pw_error **err, const char *op, const pw_http_response *r, const json_t *doc);

/* Appends "\n  TYPE: STATE (REASON): message" for the service's terminal condition and its
 * conditions, and "\n  traffic: N% to REVISION" for its traffic statuses. */
void pw__gcp_describe_service(pw_buf *b, const json_t *svc);

/* Whether a Service (GoogleCloudRunV2Service) serves what a deploy asked for: Ready, revision
 * rev (short name) the latest ready one, 100% of the traffic to it when latest, the tag on it
 * when tag is set. NULL when it does; else why not, written into why[0..cap). *tag_url is the
 * tag's URL (borrowed from svc) or NULL. */
const char *pw__gcp_verify_service(char *why, size_t cap, const json_t *svc, const char *rev, int latest,
                                   const char *tag, const char **tag_url);

#endif
