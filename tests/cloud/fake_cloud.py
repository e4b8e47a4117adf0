#!/usr/bin/env python3
"""A local stand-in for the services the Azure and GCP connectors talk to, on one loopback
port (plain HTTP): Azure AD's v2.0 token endpoint and IMDS; Azure Resource Manager for
Microsoft.ContainerInstance (api-version 2025-09-01); Google's OAuth2 token endpoint (JWT bearer,
RS256 signatures checked with the test public key), STS token exchange, IAM Credentials
generateAccessToken and the GCE metadata server; Cloud Run Admin API v2 (services, jobs,
operations, IAM policy).

Request bodies are validated against the official descriptions in tests/specs/
(containerInstance.json definitions; run.v2.json schemas): unknown or read-only properties,
wrong types, missing required ones are refused as the services do, and recorded as
violations that the tests assert to be empty. API calls need a bearer token issued here.

Control (no auth): POST /_test/faults (JSON, replaces the fault set), POST /_test/reset,
POST /_test/expire (invalidates every issued token), GET /_test/state.
Prints "PORT n" then "READY" on stdout; exits when stdin closes."""
import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
# the official descriptions, kept in tests/specs with their licences
SPECS = os.environ.get("PW_SPECS_DIR") or os.path.join(HERE, "..", "specs")

# What the tests configure the connectors with (tests/cloud/fake_cloud.h has the same values).
AZ_TENANT = "tenant-0001"
AZ_CLIENT = "client-0002"
AZ_SECRET = "az-client-secret-Q7xv9"
AZ_FEDERATED = "federated-oidc-token-Zr51"
GCP_SA = "deployer@test-project.iam.gserviceaccount.com"
GCP_SUBJECT = "gh-oidc-subject-token-Hk22"
GCP_OIDC_REQUEST = "oidc-request-token-Lm30"
GCP_AUDIENCE = "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/p/providers/gh"
CLOUD_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
ARM_API = "2025-09-01"

lock = threading.Lock()
state = {}


def reset():
    state.clear()
    state.update({
        "tokens": {},           # token -> {"kind":..., "exp": unix}
        "faults": state.get("faults", {}),
        "requests": [],         # "METHOD /path"
        "bodies": [],           # request bodies (JSON) of API calls
        "violations": [],
        "token_requests": {},   # grant -> count
        "auth_failures": 0,
        "groups": {},           # resource id -> group
        "ops": {},              # op id -> {...}
        "services": {},         # name -> service
        "jobs": {"projects/test-project/locations/us-central1/jobs/migrate": {"name": "projects/test-project/locations/us-central1/jobs/migrate"}},
        "policies": {},
        "executions": {},       # name -> execution
        "counters": {},
    })


reset()
state["faults"] = {}


def fault(name, default=None):
    return state["faults"].get(name, default)


def take(name):
    """Counts down an integer fault; True while it lasts."""
    n = state["faults"].get(name, 0)
    if isinstance(n, int) and n > 0:
        state["faults"][name] = n - 1
        return True
    return False


# ---- spec validation ----------------------------------------------------------------------

with open(os.path.join(SPECS, "azure-aci", "containerInstance.json")) as f:
    ACI = json.load(f)
with open(os.path.join(SPECS, "gcp-cloudrun", "run.v2.json")) as f:
    RUN = json.load(f)


def aci_def(ref):
    if not ref.startswith("#/definitions/"):
        return None  # common-types (ProxyResource etc.): not part of the file
    return ACI["definitions"][ref[len("#/definitions/"):]]


def aci_props(d):
    """Properties, required list and readOnly set of a definition with its allOf parents."""
    props, req = {}, list(d.get("required", []))
    for parent in d.get("allOf", []):
        pd = aci_def(parent.get("$ref", ""))
        if pd is not None:
            p2, r2 = aci_props(pd)
            props.update(p2)
            req += r2
        else:
            # ProxyResource/TrackedResource: id, name, type (read-only) and location, tags
            props.update({"id": {"type": "string", "readOnly": True}, "name": {"type": "string", "readOnly": True},
                          "type": {"type": "string", "readOnly": True}})
    props.update(d.get("properties", {}))
    return props, req


def check_type(v, t):
    return {"object": isinstance(v, dict), "array": isinstance(v, list), "string": isinstance(v, str),
            "boolean": isinstance(v, bool), "integer": isinstance(v, int) and not isinstance(v, bool),
            "number": isinstance(v, (int, float)) and not isinstance(v, bool)}.get(t, True)


def validate_aci(v, schema, path, errs):
    if "$ref" in schema:
        d = aci_def(schema["$ref"])
        if d is None:
            return
        schema = d
    t = schema.get("type")
    if t is None and ("properties" in schema or "allOf" in schema):
        t = "object"
    if t and not check_type(v, t):
        errs.append("%s: expected %s, got %s" % (path, t, type(v).__name__))
        return
    if "enum" in schema and v not in schema["enum"]:
        errs.append("%s: %r is not one of %s" % (path, v, schema["enum"]))
    if t == "object":
        props, req = aci_props(schema)
        for r in req:
            if r not in v:
                errs.append("%s: missing required property '%s'" % (path, r))
        if props or schema.get("additionalProperties") is None:
            for k, x in v.items():
                if k not in props:
                    if schema.get("additionalProperties"):
                        continue
                    if not props:
                        continue
                    errs.append("%s.%s: unknown property" % (path, k))
                    continue
                if props[k].get("readOnly"):
                    errs.append("%s.%s: read-only property sent" % (path, k))
                validate_aci(x, props[k], path + "." + k, errs)
    elif t == "array":
        for i, x in enumerate(v):
            validate_aci(x, schema.get("items", {}), "%s[%d]" % (path, i), errs)


def validate_run(v, schema, path, errs):
    if "$ref" in schema:
        schema = RUN["schemas"][schema["$ref"]]
    t = schema.get("type")
    if t == "integer" and schema.get("format") in ("int64", "uint64") and isinstance(v, str):
        if not re.match(r"^-?\d+$", v):
            errs.append("%s: not an integer" % path)
        return
    if t and not check_type(v, t):
        errs.append("%s: expected %s, got %s" % (path, t, type(v).__name__))
        return
    if "enum" in schema and v not in schema["enum"]:
        errs.append("%s: %r is not one of the enum values" % (path, v))
    if t == "object" and "properties" in schema:
        for k, p in schema["properties"].items():
            if p.get("description", "").startswith("Required.") and k not in v:
                errs.append("%s: missing required field '%s'" % (path, k))
        for k, x in v.items():
            if k not in schema["properties"]:
                errs.append("%s.%s: unknown field" % (path, k))
                continue
            p = schema["properties"][k]
            if p.get("readOnly"):
                errs.append("%s.%s: output-only field sent" % (path, k))
            validate_run(x, p, path + "." + k, errs)
    elif t == "object" and "additionalProperties" in schema:
        for k, x in v.items():
            validate_run(x, schema["additionalProperties"], path + "." + k, errs)
    elif t == "array":
        for i, x in enumerate(v):
            validate_run(x, schema.get("items", {}), "%s[%d]" % (path, i), errs)


# ---- RS256 verification with the test public key (no third-party modules) -----------------

PUB_N = None
PUB_E = 65537


def load_pubkey():
    global PUB_N
    path = os.path.join(HERE, "..", "auth", "test_rsa_pub.pem")
    out = subprocess.run(["openssl", "rsa", "-pubin", "-in", path, "-noout", "-modulus"], capture_output=True,
                         text=True, check=True).stdout
    PUB_N = int(out.strip().split("=", 1)[1], 16)


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def rs256_ok(jwt):
    parts = jwt.split(".")
    if len(parts) != 3:
        return None, "not a compact JWS"
    header, claims = json.loads(b64d(parts[0])), json.loads(b64d(parts[1]))
    if header.get("alg") != "RS256":
        return None, "alg is not RS256"
    sig = int.from_bytes(b64d(parts[2]), "big")
    k = (PUB_N.bit_length() + 7) // 8
    em = pow(sig, PUB_E, PUB_N).to_bytes(k, "big")
    digest = hashlib.sha256((parts[0] + "." + parts[1]).encode()).digest()
    info = bytes.fromhex("3031300d060960864801650304020105000420") + digest
    expect = b"\x00\x01" + b"\xff" * (k - 3 - len(info)) + b"\x00" + info
    if em != expect:
        return None, "signature does not verify"
    return claims, None


# ---- helpers -------------------------------------------------------------------------------

def issue(kind, expires_in=None):
    tok = "%s-token-%s" % (kind, uuid.uuid4().hex[:16])
    if expires_in is None:
        expires_in = fault("token_expires_in", 3600)
    state["tokens"][tok] = {"kind": kind, "exp": time.time() + expires_in}
    return tok, expires_in


def arm_error(code, message):
    return {"error": {"code": code, "message": message}}


def g_error(code, status, message, details=None):
    e = {"error": {"code": code, "message": message, "status": status}}
    if details:
        e["error"]["details"] = details
    return e


def now_rfc3339(offset=0):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + offset))


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY, as real servers answer: the handler writes the headers and the body
    # separately, and on a kept-alive connection Nagle held the body back until the client's
    # delayed ACK, 40 ms later, for every request
    disable_nagle_algorithm = True

    def log_message(self, *a):
        pass

    def send(self, status, body=None, headers=None):
        data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def base(self):
        # follow-up URLs name the host the client asked (as ARM does): a proxy in front keeps them
        host = self.headers.get("Host")
        return "http://%s" % host if host else "http://127.0.0.1:%d" % self.server.server_address[1]

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_PUT(self):
        self.route("PUT")

    def do_PATCH(self):
        self.route("PATCH")

    def do_DELETE(self):
        self.route("DELETE")

    def route(self, method):
        raw = self.read_body()
        u = urllib.parse.urlsplit(self.path)
        path, query = u.path, urllib.parse.parse_qs(u.query)
        with lock:
            try:
                self.handle_locked(method, path, query, raw)
            except Exception as e:  # a bug here should be visible, not a hang
                self.send(500, {"error": {"code": "FakeServerBug", "message": repr(e)}})

    def handle_locked(self, method, path, query, raw):
        if path.startswith("/_test/"):
            return self.control(method, path, raw)
        state["requests"].append("%s %s" % (method, self.path))
        # throttling and 5xx bursts, for the API paths named in the fault
        for name, status in (("throttle", 429), ("burst5xx", 503 if method == "POST" else 500)):
            spec = fault(name)
            if spec and spec.get("match", "") in path and spec.get("count", 0) > 0 and \
                    spec.get("method", method) == method:
                spec["count"] -= 1
                hdr = {"Retry-After": "1"} if status == 429 else {}
                if path.startswith("/v2/"):
                    return self.send(status, g_error(status, "RESOURCE_EXHAUSTED" if status == 429 else "UNAVAILABLE",
                                                     "try again"), hdr)
                return self.send(status, arm_error("TooManyRequests" if status == 429 else "InternalServerError",
                                                   "try again later"), hdr)
        if re.match(r"^/[^/]+/oauth2/v2\.0/token$", path):
            return self.aad_token(path, raw)
        if path == "/metadata/identity/oauth2/token":
            return self.imds(query)
        if path == "/google/token":
            return self.google_token(raw)
        if path == "/sts/v1/token":
            return self.sts(raw)
        m = re.match(r"^/iam/v1/projects/-/serviceAccounts/([^/:]+):generateAccessToken$", path)
        if m:
            return self.impersonate(urllib.parse.unquote(m.group(1)), raw)
        if path == "/computeMetadata/v1/instance/service-accounts/default/token":
            return self.gce_metadata()
        if path == "/oidc/token":
            return self.oidc_token()
        if path.startswith("/subscriptions/"):
            if not self.authorized("azure"):
                return self.send(401, arm_error("InvalidAuthenticationToken",
                                                "The access token is invalid or expired."),
                                 {"WWW-Authenticate": 'Bearer error="invalid_token"'})
            return self.arm(method, path, query, raw)
        if path.startswith("/v2/"):
            if not self.authorized("gcp"):
                return self.send(401, g_error(401, "UNAUTHENTICATED",
                                              "Request had invalid authentication credentials."))
            return self.cloudrun(method, path, query, raw)
        self.send(404, {"error": "no such path %s" % path})

    def control(self, method, path, raw):
        if path == "/_test/faults":
            state["faults"] = json.loads(raw or b"{}")
            return self.send(200, {})
        if path == "/_test/reset":
            faults = state["faults"]
            reset()
            state["faults"] = faults
            return self.send(200, {})
        if path == "/_test/expire":
            state["tokens"].clear()
            return self.send(200, {})
        if path == "/_test/state":
            out = {k: state[k] for k in ("requests", "violations", "token_requests", "auth_failures", "bodies")}
            out["groups"] = state["groups"]
            out["services"] = state["services"]
            out["policies"] = state["policies"]
            out["executions"] = state["executions"]
            return self.send(200, out)
        self.send(404, {})

    def authorized(self, family):
        auth = self.headers.get("Authorization", "")
        tok = auth[7:] if auth.startswith("Bearer ") else None
        info = state["tokens"].get(tok)
        ok = info and info["exp"] > time.time() and info["kind"].startswith(family)
        if not ok:
            state["auth_failures"] += 1
        return ok

    def count(self, grant):
        state["token_requests"][grant] = state["token_requests"].get(grant, 0) + 1

    # ---- token endpoints ----

    def aad_token(self, path, raw):
        form = {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode()).items()}
        tenant = path.split("/")[1]
        if form.get("scope") != "https://management.azure.com/.default":
            return self.send(400, {"error": "invalid_scope", "error_description": "AADSTS70011: bad scope"})
        if tenant != AZ_TENANT or form.get("client_id") != AZ_CLIENT or form.get("grant_type") != "client_credentials":
            return self.send(400, {"error": "unauthorized_client",
                                   "error_description": "AADSTS700016: Application not found in the directory"})
        if "client_secret" in form:
            self.count("client_secret")
            if form["client_secret"] != AZ_SECRET:
                return self.send(401, {"error": "invalid_client",
                                       "error_description": "AADSTS7000215: Invalid client secret provided."})
        elif "client_assertion" in form:
            self.count("client_assertion")
            if form.get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" or \
                    form["client_assertion"] != AZ_FEDERATED:
                return self.send(401, {"error": "invalid_client",
                                       "error_description": "AADSTS700211: No matching federated identity record"})
        else:
            return self.send(400, {"error": "invalid_request", "error_description": "no client credential"})
        tok, exp = issue("azure-sp")
        self.send(200, {"token_type": "Bearer", "expires_in": exp, "ext_expires_in": exp, "access_token": tok})

    def imds(self, query):
        self.count("imds")
        if self.headers.get("Metadata") != "true":
            return self.send(400, {"error": "invalid_request", "error_description": "Required metadata header not specified"})
        if query.get("resource", [""])[0] != "https://management.azure.com/" or "api-version" not in query:
            return self.send(400, {"error": "invalid_resource"})
        tok, exp = issue("azure-mi")
        # IMDS answers with numbers as strings
        self.send(200, {"access_token": tok, "expires_in": str(exp), "expires_on": str(int(time.time()) + exp),
                        "resource": "https://management.azure.com/", "token_type": "Bearer"})

    def google_token(self, raw):
        self.count("jwt_bearer")
        form = {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode()).items()}
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return self.send(400, {"error": "unsupported_grant_type"})
        claims, why = rs256_ok(form.get("assertion", ""))
        if claims is None:
            return self.send(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature: " + why})
        now = time.time()
        if claims.get("iss") != GCP_SA or claims.get("aud") != self.base() + "/google/token" or \
                claims.get("scope") != CLOUD_SCOPE or not (claims.get("iat", 0) - 60 <= now < claims.get("exp", 0)) or \
                claims["exp"] - claims["iat"] > 3600:
            return self.send(400, {"error": "invalid_grant", "error_description": "Invalid JWT claims: %s" % claims})
        tok, exp = issue("gcp-sa")
        self.send(200, {"access_token": tok, "expires_in": exp, "token_type": "Bearer"})

    def sts(self, raw):
        self.count("sts")
        form = {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode()).items()}
        want = {"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange", "audience": GCP_AUDIENCE,
                "requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
                "subject_token_type": "urn:ietf:params:oauth:token-type:jwt", "subject_token": GCP_SUBJECT,
                "scope": CLOUD_SCOPE}
        for k, v in want.items():
            if form.get(k) != v:
                return self.send(400, {"error": "invalid_request", "error_description": "bad " + k})
        tok, exp = issue("gcp-sts")
        self.send(200, {"access_token": tok, "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
                        "token_type": "Bearer", "expires_in": exp})

    def impersonate(self, sa, raw):
        self.count("impersonate")
        auth = self.headers.get("Authorization", "")
        info = state["tokens"].get(auth[7:] if auth.startswith("Bearer ") else None)
        if not info or info["kind"] != "gcp-sts":
            return self.send(401, g_error(401, "UNAUTHENTICATED", "need an STS token"))
        body = json.loads(raw or b"{}")
        if sa != GCP_SA or body.get("scope") != [CLOUD_SCOPE]:
            return self.send(403, g_error(403, "PERMISSION_DENIED", "Permission 'iam.serviceAccounts.getAccessToken' denied"))
        tok, exp = issue("gcp-impersonated")
        self.send(200, {"accessToken": tok, "expireTime": now_rfc3339(exp)})

    def oidc_token(self):
        """A CI's OIDC token endpoint (as GitHub Actions' ACTIONS_ID_TOKEN_REQUEST_URL): JSON
        {"value": token} for a request bearing the request token."""
        self.count("oidc")
        if self.headers.get("Authorization") != "Bearer " + GCP_OIDC_REQUEST:
            return self.send(401, {"message": "bad request token"})
        self.send(200, {"count": 1, "value": GCP_SUBJECT})

    def gce_metadata(self):
        self.count("gce_metadata")
        if self.headers.get("Metadata-Flavor") != "Google":
            return self.send(403, b"Missing Metadata-Flavor:Google header.")
        tok, exp = issue("gcp-gce")
        self.send(200, {"access_token": tok, "expires_in": exp, "token_type": "Bearer"})

    # ---- Azure Resource Manager: Microsoft.ContainerInstance ----

    def arm(self, method, path, query, raw):
        if query.get("api-version", [""])[0] != ARM_API:
            return self.send(400, arm_error("InvalidApiVersionParameter", "api-version must be " + ARM_API))
        m = re.match(r"^/subscriptions/([^/]+)/providers/Microsoft\.ContainerInstance/locations/([^/]+)/operations/([^/]+)$",
                     path)
        if m and method == "GET":
            return self.arm_operation(m.group(3))
        m = re.match(r"^(/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/Microsoft\.ContainerInstance/"
                     r"containerGroups/([^/]+))(/.*)?$", path)
        if not m:
            return self.send(404, arm_error("InvalidResourceType", "no such resource type"))
        rid, sub, rg, name, rest = m.group(1), m.group(2), m.group(3), m.group(4), m.group(5) or ""
        action = {"PUT": "write", "GET": "read", "DELETE": "delete", "POST": "restart/action"}[method]
        if rest.startswith("/containers/"):
            action = "containers/logs/read"
        perm = "Microsoft.ContainerInstance/containerGroups/" + action
        if perm in fault("deny", []):
            return self.send(403, arm_error(
                "AuthorizationFailed",
                "The client '%s' with object id '9f1c' does not have authorization to perform action '%s' over "
                "scope '%s' or the scope is invalid. If access was recently granted, please refresh your "
                "credentials." % (AZ_CLIENT, perm, rid)))
        g = state["groups"].get(rid)
        if method == "PUT" and not rest:
            body = json.loads(raw or b"{}")
            state["bodies"].append(body)
            errs = []
            validate_aci(body, {"$ref": "#/definitions/ContainerGroup"}, "ContainerGroup", errs)
            if "location" not in body:
                errs.append("ContainerGroup: missing location")
            if errs:
                state["violations"] += errs
                return self.send(400, arm_error("InvalidRequestContent", "; ".join(errs)))
            existed = g is not None
            g = {"id": rid, "name": name, "type": "Microsoft.ContainerInstance/containerGroups",
                 "location": body["location"], "properties": json.loads(json.dumps(body["properties"]))}
            g["properties"]["provisioningState"] = "Updating" if existed else "Creating"
            for c in g["properties"]["containers"]:
                for e in c["properties"].get("environmentVariables", []):
                    e.pop("secureValue", None)  # never returned
                c["properties"]["instanceView"] = {"restartCount": 0, "currentState": {"state": "Waiting",
                                                                                        "detailStatus": "Pulling"},
                                                   "events": []}
            for cred in g["properties"].get("imageRegistryCredentials", []):
                cred.pop("password", None)
            if "ipAddress" in g["properties"]:
                g["properties"]["ipAddress"]["ip"] = "20.1.2.3"
                if "dnsNameLabel" in g["properties"]["ipAddress"]:
                    g["properties"]["ipAddress"]["fqdn"] = "%s.%s.azurecontainer.io" % (
                        g["properties"]["ipAddress"]["dnsNameLabel"], body["location"])
            g["properties"]["instanceView"] = {"events": [], "state": "Pending"}
            state["groups"][rid] = g
            op = uuid.uuid4().hex
            state["ops"][op] = {"kind": "provision", "rid": rid, "polls": fault("polls", 2)}
            hdr = {"Azure-AsyncOperation": "%s/subscriptions/%s/providers/Microsoft.ContainerInstance/locations/%s/"
                                           "operations/%s?api-version=%s" % (self.base(), sub, body["location"], op, ARM_API)}
            return self.send(200 if existed else 201, g, hdr)
        if g is None:
            if method == "DELETE":
                return self.send(204)
            return self.send(404, arm_error("ResourceNotFound", "The Resource 'Microsoft.ContainerInstance/"
                                            "containerGroups/%s' under resource group '%s' was not found." % (name, rg)))
        if method == "GET" and not rest:
            self.advance_containers(g)
            return self.send(200, g)
        if method == "GET" and rest.startswith("/containers/") and rest.endswith("/logs"):
            cname = rest.split("/")[2]
            if not any(c["name"] == cname for c in g["properties"]["containers"]):
                return self.send(404, arm_error("ContainerNotFound", "container '%s' not found" % cname))
            lines = g.get("logs", "starting web-app\nlistening on :80\n").splitlines(True)
            tail = int(query.get("tail", ["0"])[0])
            return self.send(200, {"content": "".join(lines[-tail:] if tail else lines)})
        if method == "DELETE" and not rest:
            op = uuid.uuid4().hex
            state["ops"][op] = {"kind": "delete", "rid": rid, "polls": fault("polls", 2)}
            g["properties"]["provisioningState"] = "Deleting"
            return self.send(202, None, {"Azure-AsyncOperation": "%s/subscriptions/%s/providers/Microsoft.ContainerInstance/"
                                         "locations/%s/operations/%s?api-version=%s" % (self.base(), sub, g["location"], op, ARM_API)})
        if method == "POST" and rest == "/restart":
            op = uuid.uuid4().hex
            state["ops"][op] = {"kind": "restart", "rid": rid, "polls": fault("polls", 2)}
            state["counters"]["restart"] = state["counters"].get("restart", 0) + 1
            return self.send(204, None, {"Azure-AsyncOperation": "%s/subscriptions/%s/providers/Microsoft.ContainerInstance/"
                                         "locations/%s/operations/%s?api-version=%s" % (self.base(), sub, g["location"], op, ARM_API)})
        self.send(405, arm_error("MethodNotAllowed", "not supported here"))

    def advance_containers(self, g):
        """After provisioning, containers run; with the exit_code fault they terminate after a few reads."""
        if g["properties"]["provisioningState"] != "Succeeded":
            return
        g["reads"] = g.get("reads", 0) + 1
        for c in g["properties"]["containers"]:
            iv = c["properties"]["instanceView"]
            if "exit_code" in state["faults"] and g["reads"] > fault("run_polls", 2):
                iv["currentState"] = {"state": "Terminated", "exitCode": fault("exit_code"),
                                      "detailStatus": "Completed", "finishTime": now_rfc3339()}
            else:
                iv["currentState"] = {"state": "Running", "startTime": now_rfc3339(), "detailStatus": ""}

    def arm_operation(self, op_id):
        op = state["ops"].get(op_id)
        if not op:
            return self.send(404, arm_error("OperationNotFound", "no such operation"))
        op["polls"] -= 1
        if op["polls"] > 0:
            return self.send(200, {"id": op_id, "status": "InProgress", "startTime": now_rfc3339()})
        g = state["groups"].get(op["rid"])
        if op["kind"] == "delete":
            state["groups"].pop(op["rid"], None)
            return self.send(200, {"id": op_id, "status": "Succeeded"})
        if op["kind"] == "provision" and fault("provision") == "Failed" and g:
            g["properties"]["provisioningState"] = "Failed"
            img = g["properties"]["containers"][0]["properties"]["image"]
            for c in g["properties"]["containers"]:
                c["properties"]["instanceView"] = {
                    "restartCount": 0,
                    "currentState": {"state": "Waiting", "detailStatus": "ErrImagePull"},
                    "events": [{"count": 3, "type": "Warning", "name": "Failed", "firstTimestamp": now_rfc3339(-30),
                                "lastTimestamp": now_rfc3339(),
                                "message": "Failed to pull image \"%s\": rpc error: code = NotFound desc = "
                                           "manifest unknown" % img}]}
            g["properties"]["instanceView"]["events"] = [
                {"count": 1, "type": "Warning", "name": "ImagePullFailed", "message": "The image '%s' in container "
                 "group '%s' is not accessible." % (img, g["name"])}]
            g["logs"] = "no logs: the image was never pulled\n"
            return self.send(200, {"id": op_id, "status": "Failed",
                                   "error": {"code": "InaccessibleImage",
                                             "message": "The image '%s' in container group '%s' is not accessible. "
                                                        "Please check the image and registry credential." % (img, g["name"])}})
        if g:
            g["properties"]["provisioningState"] = "Succeeded"
            g["properties"]["instanceView"]["state"] = "Running"
            for c in g["properties"]["containers"]:
                c["properties"]["instanceView"]["currentState"] = {"state": "Running", "startTime": now_rfc3339()}
        self.send(200, {"id": op_id, "status": "Succeeded", "startTime": now_rfc3339(), "endTime": now_rfc3339()})

    # ---- Cloud Run Admin API v2 ----

    def cloudrun(self, method, path, query, raw):
        m = re.match(r"^/v2/(projects/[^/]+/locations/[^/]+/jobs/[^/]+/executions/[^/:]+):cancel$", path)
        if m:
            if "run.executions.cancel" in fault("deny", []):
                return self.send(403, g_error(403, "PERMISSION_DENIED", "Permission 'run.executions.cancel' denied"))
            ex = state["executions"].get(m.group(1))
            if method != "POST" or ex is None:
                return self.send(404, g_error(404, "NOT_FOUND", "Execution not found."))
            if ex.get("completed"):
                return self.send(400, g_error(400, "FAILED_PRECONDITION", "Execution has already completed."))
            ex["cancelledCount"] = 1
            ex["conditions"] = [{"type": "Completed", "state": "CONDITION_FAILED", "executionReason": "CANCELLED",
                                 "message": "The execution was cancelled."}]
            for op in state["ops"].values():
                if op.get("done_response") is ex:
                    op["polls"] = 0
            return self.send(200, self.new_op(m.group(1).split("/jobs/")[0],
                                              {"done_response": ex, "metadata": {"@type": ex["@type"], "name": m.group(1)}}))
        m = re.match(r"^/v2/(projects/([^/]+)/locations/([^/]+))/(services|jobs|operations)(?:/([^/:]+))?(?::(\w+))?$", path)
        if not m:
            return self.send(404, g_error(404, "NOT_FOUND", "no such method"))
        parent, project, region, coll, rid, verb = m.groups()
        name = "%s/%s/%s" % (parent, coll, rid) if rid else None
        perm = {("services", "GET", None): "run.services.get", ("services", "POST", None): "run.services.create",
                ("services", "PATCH", None): "run.services.update", ("services", "DELETE", None): "run.services.delete",
                ("services", "GET", "getIamPolicy"): "run.services.getIamPolicy",
                ("services", "POST", "setIamPolicy"): "run.services.setIamPolicy",
                ("jobs", "POST", "run"): "run.jobs.run", ("operations", "GET", None): "run.operations.get"}.get(
            (coll, method, verb), "run.unknown")
        if perm in fault("deny", []):
            return self.send(403, g_error(403, "PERMISSION_DENIED",
                                          "Permission '%s' denied on resource '%s' (or resource may not exist)." % (
                                              perm, name or parent),
                                          [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                            "reason": "IAM_PERMISSION_DENIED", "domain": "run.googleapis.com",
                                            "metadata": {"permission": perm}}]))
        body = json.loads(raw) if raw else None
        if body is not None:
            state["bodies"].append(body)
        if coll == "operations":
            return self.run_operation(name)
        if coll == "services":
            svc = state["services"].get(name)
            if method == "GET" and verb is None:
                if not svc:
                    return self.send(404, g_error(404, "NOT_FOUND", "Resource '%s' of kind 'SERVICE' in region '%s' "
                                                  "in project '%s' does not exist." % (rid, region, project)))
                return self.send(200, svc)
            if method == "POST" and rid is None:
                sid = query.get("serviceId", [""])[0]
                errs = []
                validate_run(body or {}, {"$ref": "GoogleCloudRunV2Service"}, "Service", errs)
                if not re.match(r"^[a-z]([-a-z0-9]{0,47}[a-z0-9])?$", sid):
                    errs.append("serviceId: invalid %r" % sid)
                if errs:
                    state["violations"] += errs
                    return self.send(400, g_error(400, "INVALID_ARGUMENT", "; ".join(errs)))
                full = "%s/services/%s" % (parent, sid)
                if full in state["services"]:
                    return self.send(409, g_error(409, "ALREADY_EXISTS", "Resource '%s' already exists." % sid))
                return self.deploy(full, sid, None, body)
            if method == "PATCH" and verb is None:
                errs = []
                validate_run(body or {}, {"$ref": "GoogleCloudRunV2Service"}, "Service", errs)
                if errs:
                    state["violations"] += errs
                    return self.send(400, g_error(400, "INVALID_ARGUMENT", "; ".join(errs)))
                if not svc:
                    return self.send(404, g_error(404, "NOT_FOUND", "Resource '%s' does not exist." % rid))
                return self.deploy(name, rid, svc, body)
            if method == "DELETE" and verb is None:
                if not svc:
                    return self.send(404, g_error(404, "NOT_FOUND", "Resource '%s' does not exist." % rid))
                del state["services"][name]
                return self.send(200, self.new_op(parent, {"done_response": dict(svc, **{"@type": "type.googleapis.com/google.cloud.run.v2.Service"})}))
            if verb == "getIamPolicy" and method == "GET":
                if not svc:
                    return self.send(404, g_error(404, "NOT_FOUND", "Resource '%s' does not exist." % rid))
                return self.send(200, state["policies"].get(name, {"version": 1, "etag": "BwYAAAAA"}))
            if verb == "setIamPolicy" and method == "POST":
                errs = []
                validate_run(body or {}, {"$ref": "GoogleIamV1SetIamPolicyRequest"}, "SetIamPolicyRequest", errs)
                if errs or "policy" not in (body or {}):
                    state["violations"] += errs or ["SetIamPolicyRequest: missing policy"]
                    return self.send(400, g_error(400, "INVALID_ARGUMENT", "; ".join(errs)))
                pol = dict(body["policy"], etag="BwYBBBBB")
                state["policies"][name] = pol
                return self.send(200, pol)
        if coll == "jobs" and verb == "run" and method == "POST":
            errs = []
            validate_run(body or {}, {"$ref": "GoogleCloudRunV2RunJobRequest"}, "RunJobRequest", errs)
            if errs:
                state["violations"] += errs
                return self.send(400, g_error(400, "INVALID_ARGUMENT", "; ".join(errs)))
            if name not in state["jobs"]:
                return self.send(404, g_error(404, "NOT_FOUND", "Resource '%s' of kind 'JOB' does not exist." % rid))
            ex_name = "%s/executions/%s-%s" % (name, rid, uuid.uuid4().hex[:5])
            failed = fault("job_fail")
            execution = {"@type": "type.googleapis.com/google.cloud.run.v2.Execution", "name": ex_name,
                         "job": rid, "taskCount": 1, "succeededCount": 0 if failed else 1,
                         "failedCount": 1 if failed else 0,
                         "logUri": "https://console.cloud.google.com/logs/viewer?execution=" + ex_name.split("/")[-1],
                         "conditions": [{"type": "Completed", "state": "CONDITION_FAILED" if failed else "CONDITION_SUCCEEDED",
                                         "message": "Task %s-task0 failed with exit code 3 (the user's container "
                                                    "exited)." % ex_name.split("/")[-1] if failed else
                                         "Execution completed successfully in 4.2s."}]}
            state["executions"][ex_name] = execution
            return self.send(200, self.new_op(parent, {"done_response": execution,
                                                       "metadata": {"@type": execution["@type"], "name": ex_name}}))
        self.send(404, g_error(404, "NOT_FOUND", "no such method"))

    def new_op(self, parent, extra):
        opid = uuid.uuid4().hex
        name = "%s/operations/%s" % (parent, opid)
        op = {"name": name, "polls": fault("polls", 2)}
        op.update(extra)
        state["ops"][name] = op
        return {"name": name, "metadata": extra.get("metadata", {"@type": "type.googleapis.com/google.cloud.run.v2.Service"}),
                "done": False}

    def deploy(self, full, sid, old, body):
        gen = int(old["generation"]) + 1 if old else 1
        rev = body["template"].get("revision") or "%s-%05d-%s" % (sid, gen, uuid.uuid4().hex[:3])
        svc = dict(old or {})
        for k, v in body.items():
            svc[k] = v
        svc.update({"name": full, "uid": "u-" + sid, "generation": str(gen), "reconciling": True,
                    "uri": "https://%s-x7k2q-uc.a.run.app" % sid, "latestCreatedRevision": "%s/revisions/%s" % (full, rev)})
        if not old:
            svc["latestReadyRevision"] = ""
        state["services"][full] = svc
        parent = full.rsplit("/services/", 1)[0]
        return self.send(200, self.new_op(parent, {"service": full, "revision": rev, "template": body}))

    def run_operation(self, name):
        op = state["ops"].get(name)
        if not op:
            return self.send(404, g_error(404, "NOT_FOUND", "Operation '%s' not found." % name))
        op["polls"] -= 1
        if op["polls"] > 0:
            return self.send(200, {"name": name, "done": False, "metadata": {}})
        if "done_response" in op:
            op["done_response"]["completed"] = True
            return self.send(200, {"name": name, "done": True,
                                   "response": {k: v for k, v in op["done_response"].items() if k != "completed"}})
        svc = state["services"][op["service"]]
        revfull = "%s/revisions/%s" % (op["service"], op["revision"])
        svc["reconciling"] = False
        svc["observedGeneration"] = svc["generation"]
        if fault("revision_fail"):
            msg = ("Revision '%s' is not ready and cannot serve traffic. The user-provided container failed to start "
                   "and listen on the port defined provided by the PORT=8080 environment variable." % op["revision"])
            svc["terminalCondition"] = {"type": "Ready", "state": "CONDITION_FAILED", "message": msg,
                                        "revisionReason": "HEALTH_CHECK_CONTAINER_ERROR"}
            svc["conditions"] = [{"type": "RoutesReady", "state": "CONDITION_FAILED", "message": msg},
                                 {"type": "ConfigurationsReady", "state": "CONDITION_FAILED", "message": msg}]
            return self.send(200, {"name": name, "done": True, "error": {"code": 9, "message": msg}})
        svc["latestReadyRevision"] = revfull
        svc["terminalCondition"] = {"type": "Ready", "state": "CONDITION_SUCCEEDED"}
        svc["conditions"] = [{"type": "RoutesReady", "state": "CONDITION_SUCCEEDED"}]
        statuses = []
        for t in svc.get("traffic") or [{"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 100}]:
            st = dict(t)
            if fault("traffic_stuck") and t.get("type") == "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST":
                st = {"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", "revision": "old-00001-aaa", "percent": 100}
            if st.get("tag"):
                st["uri"] = "https://%s---%s" % (st["tag"], svc["uri"][8:])
            statuses.append(st)
        svc["trafficStatuses"] = statuses
        self.send(200, {"name": name, "done": True,
                        "response": dict(svc, **{"@type": "type.googleapis.com/google.cloud.run.v2.Service"})})


def main():
    load_pubkey()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    srv.daemon_threads = True
    print("PORT %d" % srv.server_address[1], flush=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    print("READY", flush=True)
    try:
        sys.stdin.read()
    except KeyboardInterrupt:
        pass
    srv.shutdown()


if __name__ == "__main__":
    main()
