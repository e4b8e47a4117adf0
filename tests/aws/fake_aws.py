#!/usr/bin/env python3
"""A local stand-in for AWS (ECS JSON 1.1, Lambda rest-json, S3, STS query/XML) for the
connector's tests and benchmark. Every request's SigV4 signature is verified with the test
credentials (or credentials this server issued through STS); request bodies are validated
against the input shapes of the official service models (specs/aws/*.normal.json); scenarios
(rollout failure, throttling, 5xx bursts, expired tokens, AccessDenied, slow rollouts) are
switched on through POST /_test/scenario. Prints "PORT n" and "READY" on stdout."""
import argparse
import base64
import hashlib
import hmac
import io
import json
import os
import re
import socket
import sys
import threading
import time
import urllib.parse
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ACCOUNT = "123456789012"
REGION_DEFAULT = "us-east-1"


def load_model(specs, name):
    with open(os.path.join(specs, name)) as f:
        return json.load(f)


class Models:
    def __init__(self, specs):
        self.ecs = load_model(specs, "ecs-2014-11-13.normal.json")
        self.lam = load_model(specs, "lambda-2015-03-31.normal.json")
        self.sts = load_model(specs, "sts-2011-06-15.normal.json")
        # Lambda routes: (method, regex, op)
        self.lambda_routes = []
        for op, o in self.lam["operations"].items():
            uri = o["http"]["requestUri"].split("?")[0]
            rx = "^" + re.sub(r"\{(\w+)\+?\}", r"(?P<\1>[^/]+)", uri) + "$"
            self.lambda_routes.append((o["http"]["method"], re.compile(rx), op))


def check_shape(model, shape_name, value, path, errors, skip_locations=False):
    sh = model["shapes"][shape_name]
    t = sh["type"]
    if t == "structure":
        if not isinstance(value, dict):
            errors.append(f"{path}: expected an object")
            return
        for r in sh.get("required", []):
            m = sh["members"].get(r, {})
            if skip_locations and m.get("location"):
                continue
            if r not in value:
                errors.append(f"{path}.{r}: required member missing")
        for k, v in value.items():
            m = sh["members"].get(k)
            if m is None:
                errors.append(f"{path}.{k}: not a member of {shape_name}")
                continue
            check_shape(model, m["shape"], v, f"{path}.{k}", errors)
    elif t == "list":
        if not isinstance(value, list):
            errors.append(f"{path}: expected a list")
            return
        for i, v in enumerate(value):
            check_shape(model, sh["member"]["shape"], v, f"{path}[{i}]", errors)
    elif t == "map":
        if not isinstance(value, dict):
            errors.append(f"{path}: expected a map")
    elif t == "string":
        if not isinstance(value, str):
            errors.append(f"{path}: expected a string")
        elif "enum" in sh and value not in sh["enum"]:
            errors.append(f"{path}: '{value}' not one of {sh['enum']}")
    elif t in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            errors.append(f"{path}: expected an integer")
    elif t == "boolean":
        if not isinstance(value, bool):
            errors.append(f"{path}: expected a boolean")
    elif t in ("double", "float"):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            errors.append(f"{path}: expected a number")
    elif t == "blob":
        if not isinstance(value, str):
            errors.append(f"{path}: expected base64 text")
        else:
            try:
                base64.b64decode(value, validate=True)
            except Exception:
                errors.append(f"{path}: not valid base64")


def uri_encode(s, keep_slash):
    out = []
    for b in s.encode() if isinstance(s, str) else s:
        c = chr(b)
        if c.isalnum() and b < 128 or c in "-._~" or (keep_slash and c == "/"):
            out.append(c)
        else:
            out.append("%%%02X" % b)
    return "".join(out)


def canonical_query(raw):
    pairs = []
    for part in raw.split("&") if raw else []:
        if not part:
            continue
        k, _, v = part.partition("=")
        k = urllib.parse.unquote_to_bytes(k)
        v = urllib.parse.unquote_to_bytes(v)
        pairs.append((uri_encode(k, False), uri_encode(v, False)))
    pairs.sort()
    return "&".join(f"{k}={v}" for k, v in pairs)


def normalize(path):
    segs = []
    for s in path.split("/"):
        if s in ("", "."):
            continue
        if s == "..":
            if segs:
                segs.pop()
            continue
        segs.append(s)
    out = "/" + "/".join(segs)
    if path.endswith("/") and out != "/":
        out += "/"
    return out


def sign_key(secret, date, region, service):
    k = ("AWS4" + secret).encode()
    for m in (date, region, service, "aws4_request"):
        k = hmac.new(k, m.encode(), hashlib.sha256).digest()
    return k


class State:
    def __init__(self, args, models):
        self.lock = threading.Lock()
        self.args = args
        self.models = models
        self.reset()

    def reset(self):
        self.creds = {self.args.akid: {"secret": self.args.secret, "token": None, "expired": False,
                                       "who": "user/ci"}}
        self.requests = []
        self.scenario = {}
        self.services = {}
        self.taskdefs = {}
        self.tasks = {}
        self.functions = {}
        self.objects = {}
        self.uploads = {}
        self.counter = 0
        self.events_seq = 0
        self.sts_issued = 0
        self.parts_waiting = 0

    def next_id(self):
        self.counter += 1
        return self.counter


class Fail(Exception):
    def __init__(self, status, code, message, kind="json"):
        super().__init__(message)
        self.status, self.code, self.message, self.kind = status, code, message, kind


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY, as real servers answer: the handler writes the headers and the body
    # separately, and on a kept-alive connection Nagle held the body back until the client's
    # delayed ACK, 40 ms later, for every request
    disable_nagle_algorithm = True
    server_version = "fake-aws"

    def log_message(self, fmt, *a):
        pass

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    @property
    def st(self):
        return self.server.state

    def send(self, status, body, ctype="application/json", headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", "req-%d" % time.time_ns())
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def fail(self, f, service):
        if f.kind == "xml" or service in ("s3", "sts"):
            if service == "sts":
                body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{f.code}</Code>"
                        f"<Message>{f.message}</Message></Error><RequestId>x</RequestId></ErrorResponse>")
            else:
                body = f"<Error><Code>{f.code}</Code><Message>{f.message}</Message></Error>"
            self.send(f.status, body, "application/xml")
        elif service == "lambda":
            self.send(f.status, {"Type": "User", "message": f.message}, headers={"X-Amzn-ErrorType": f.code})
        else:
            self.send(f.status, {"__type": f.code, "message": f.message}, "application/x-amz-json-1.1")

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_DELETE(self):
        self.handle_any("DELETE")

    def handle_any(self, method):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        raw_path, _, raw_query = self.path.partition("?")
        if raw_path.startswith("/_test/"):
            return self.control(method, raw_path, body)
        service = "?"
        try:
            service, akid = self.verify(method, raw_path, raw_query, body)
            with self.st.lock:
                self.faults(service)
            if service == "ecs":
                self.ecs(body, akid)
            elif service == "lambda":
                self.lam(method, raw_path, raw_query, body, akid)
            elif service == "s3":
                self.s3(method, raw_path, raw_query, body, akid)
            elif service == "sts":
                self.sts(body, akid)
            else:
                raise Fail(400, "UnknownService", f"no service {service}")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away (cancelled, killed) while the request hung
        except Fail as f:
            with self.st.lock:
                self.st.requests.append({"service": service, "method": method, "path": raw_path,
                                         "error": f.code, "message": f.message})
            try:
                self.fail(f, service)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client went away (cancelled, killed) while the request hung

    def control(self, method, path, body):
        st = self.st
        with st.lock:
            if path == "/_test/reset":
                st.reset()
                return self.send(200, {})
            if path == "/_test/scenario":
                st.scenario.update(json.loads(body or b"{}"))
                return self.send(200, st.scenario)
            if path == "/_test/seed_upload":
                # an upload some other writer started age_s seconds ago
                req = json.loads(body or b"{}")
                uid = "upload-seed-%d" % st.next_id()
                st.uploads[uid] = {"bucket": req["bucket"], "key": req["key"], "parts": {}, "ctype": None,
                                   "initiated": time.time() - req.get("age_s", 0)}
                return self.send(200, {"UploadId": uid})
            if path == "/_test/requests":
                return self.send(200, st.requests)
            if path == "/_test/state":
                return self.send(200, {
                    "services": {f"{k[0]}/{k[1]}": v for k, v in st.services.items()},
                    "objects": {f"{b}/{k}": {"size": len(o["data"]), "content_type": o["ctype"],
                                             "sha256": hashlib.sha256(o["data"]).hexdigest()}
                                for (b, k), o in st.objects.items()},
                    "uploads": list(st.uploads.keys()),
                    "upload_keys": {uid: f"{u['bucket']}/{u['key']}" for uid, u in st.uploads.items()},
                    "parts_waiting": st.parts_waiting,
                    "tasks": {arn: {"startedBy": t.get("startedBy"), "lastStatus": t["lastStatus"],
                                    "desiredStatus": t["desiredStatus"], "stoppedReason": t.get("stoppedReason")}
                              for arn, t in st.tasks.items()},
                    "functions": st.functions,
                    "taskdefs": st.taskdefs,
                    "sts_issued": st.sts_issued,
                })
        self.send(404, {"message": "unknown control path"})

    # --- SigV4 -------------------------------------------------------------------------------
    def verify(self, method, raw_path, raw_query, body):
        auth = self.headers.get("Authorization")
        if not auth:
            form = urllib.parse.parse_qs(body.decode(errors="replace"))
            if form.get("Action", [""])[0] == "AssumeRoleWithWebIdentity":
                return "sts", None
            raise Fail(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
        m = re.match(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, "
                     r"SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$", auth)
        if not m:
            raise Fail(400, "IncompleteSignatureException", "malformed Authorization header")
        akid, date, region, service, signed, sig = m.groups()
        amz_date = self.headers.get("X-Amz-Date", "")
        if not amz_date.startswith(date):
            raise Fail(403, "SignatureDoesNotMatch", "X-Amz-Date does not match the credential scope")
        t = time.mktime(time.strptime(amz_date, "%Y%m%dT%H%M%SZ")) - time.timezone
        if abs(time.time() - t) > 900:
            raise Fail(403, "RequestExpired", "Signature expired")
        with self.st.lock:
            cred = self.st.creds.get(akid)
        if not cred:
            raise Fail(403, "UnrecognizedClientException" if service != "s3" else "InvalidAccessKeyId",
                       "The security token included in the request is invalid.")
        if cred["token"] is not None and not cred["expired"]:
            n = self.st.scenario.get("expire_sts_after")
            if n is not None and akid == "ASIAFAKE00000001":
                cred["uses"] = cred.get("uses", 0) + 1
                cred["expired"] = cred["uses"] > n
        if cred["token"] is not None:
            if self.headers.get("X-Amz-Security-Token") != cred["token"]:
                raise Fail(403, "InvalidClientTokenId", "The security token included in the request is invalid")
            if cred["expired"]:
                raise Fail(400 if service != "s3" else 400,
                           "ExpiredTokenException" if service not in ("s3", "sts") else "ExpiredToken",
                           "The security token included in the request is expired")
        names = signed.split(";")
        if "host" not in names or "x-amz-date" not in names:
            raise Fail(403, "SignatureDoesNotMatch", "host and x-amz-date must be signed")
        if cred["token"] is not None and "x-amz-security-token" not in names:
            raise Fail(403, "SignatureDoesNotMatch", "x-amz-security-token must be signed")
        hdrs = []
        for name in names:
            vals = self.headers.get_all(name) or []
            if not vals:
                raise Fail(403, "SignatureDoesNotMatch", f"signed header {name} is missing")
            hdrs.append(f"{name}:" + ",".join(" ".join(v.split()) for v in vals))
        if service == "s3":
            ph = self.headers.get("x-amz-content-sha256", "")
            if ph != hashlib.sha256(body).hexdigest():
                raise Fail(400, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header "
                           "does not match what was computed.")
            cpath = raw_path
        else:
            ph = hashlib.sha256(body).hexdigest()
            cpath = uri_encode(normalize(raw_path), True)
        creq = "\n".join([method, cpath, canonical_query(raw_query), "\n".join(hdrs) + "\n", signed, ph])
        sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, f"{date}/{region}/{service}/aws4_request",
                         hashlib.sha256(creq.encode()).hexdigest()])
        want = hmac.new(sign_key(cred["secret"], date, region, service), sts.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, sig):
            raise Fail(403, "SignatureDoesNotMatch", "The request signature we calculated does not match "
                       "the signature you provided.")
        self.region = region
        return service, akid

    def faults(self, service):
        sc = self.st.scenario
        if sc.get("throttle", 0) > 0 and service in sc.get("throttle_services", [service]):
            sc["throttle"] -= 1
            code = {"ecs": "ThrottlingException", "lambda": "TooManyRequestsException",
                    "s3": "SlowDown", "sts": "Throttling"}[service]
            raise Fail(429 if service == "lambda" else (503 if service == "s3" else 400), code, "Rate exceeded")
        if sc.get("burst5xx", 0) > 0 and service in sc.get("burst_services", [service]):
            sc["burst5xx"] -= 1
            raise Fail(500 if sc["burst5xx"] % 2 else 503, "InternalFailure" if service != "s3" else "InternalError",
                       "We encountered an internal error. Please try again.")

    def deny(self, action, resource, akid):
        denied = self.st.scenario.get("deny", [])
        if action in denied:
            who = self.st.creds.get(akid, {}).get("who", "user/ci") if akid else "user/ci"
            raise Fail(400 if not action.startswith("s3:") else 403,
                       "AccessDeniedException" if not action.startswith("s3:") else "AccessDenied",
                       f"User: arn:aws:iam::{ACCOUNT}:{who} is not authorized to perform: {action} on "
                       f"resource: {resource} because no identity-based policy allows the {action} action")

    def record(self, service, op, body, extra=None):
        r = {"service": service, "op": op, "body": body}
        if extra:
            r.update(extra)
        self.st.requests.append(r)

    # --- ECS ---------------------------------------------------------------------------------
    def ecs(self, body, akid):
        target = self.headers.get("X-Amz-Target", "")
        prefix = self.server.models.ecs["metadata"]["targetPrefix"] + "."
        if not target.startswith(prefix):
            raise Fail(400, "UnknownOperationException", f"bad X-Amz-Target {target}")
        op = target[len(prefix):]
        ops = self.server.models.ecs["operations"]
        if op not in ops:
            raise Fail(400, "UnknownOperationException", op)
        if self.headers.get("Content-Type") != "application/x-amz-json-" + self.server.models.ecs["metadata"]["jsonVersion"]:
            raise Fail(400, "SerializationException", "wrong Content-Type")
        o = ops[op]
        if self.command != o["http"]["method"] or self.path != o["http"]["requestUri"]:
            raise Fail(400, "SerializationException", "wrong method or path")
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            raise Fail(400, "SerializationException", "body is not JSON")
        errors = []
        check_shape(self.server.models.ecs, o["input"]["shape"], req, op, errors)
        with self.st.lock:
            self.record("ecs", op, req, {"errors": errors})
            if errors:
                raise Fail(400, "ValidationException", "; ".join(errors))
            fn = getattr(self, "ecs_" + op, None)
            if not fn:
                raise Fail(400, "UnsupportedOperation", f"{op} is not served by the fake")
            out = fn(req, akid)
        self.send(200, out, "application/x-amz-json-1.1")

    def cluster_arn(self, c):
        return c if c.startswith("arn:") else f"arn:aws:ecs:{self.region}:{ACCOUNT}:cluster/{c or 'default'}"

    def td_arn(self, td):
        if td.startswith("arn:"):
            return td
        if ":" not in td:
            revs = [k for k in self.st.taskdefs if k.startswith(td + ":")]
            td = max(revs, key=lambda k: int(k.split(":")[1])) if revs else td + ":1"
        return f"arn:aws:ecs:{self.region}:{ACCOUNT}:task-definition/{td}"

    def event(self, svc, msg):
        self.st.events_seq += 1
        svc["events"].insert(0, {"id": "ev-%d" % self.st.events_seq, "createdAt": time.time(), "message": msg})

    def get_service(self, cluster, name):
        key = (cluster or "default", name)
        svc = self.st.services.get(key)
        if not svc and name in self.st.scenario.get("missing_services", []):
            return None
        if not svc:
            svc = {"serviceArn": f"arn:aws:ecs:{self.region}:{ACCOUNT}:service/{key[0]}/{name}",
                   "serviceName": name, "clusterArn": self.cluster_arn(key[0]), "status": "ACTIVE",
                   "desiredCount": 2, "runningCount": 2, "pendingCount": 0,
                   "taskDefinition": self.td_arn(name + ":1"),
                   "deployments": [{"id": "ecs-svc/1000", "status": "PRIMARY",
                                    "taskDefinition": self.td_arn(name + ":1"), "desiredCount": 2,
                                    "runningCount": 2, "pendingCount": 0, "failedTasks": 0,
                                    "rolloutState": "COMPLETED", "createdAt": time.time()}],
                   "events": [{"id": "ev-old", "createdAt": time.time() - 3600,
                               "message": f"(service {name}) has reached a steady state."}],
                   "_polls": 0}
            self.st.services[key] = svc
        return svc

    def public_service(self, svc):
        return {k: v for k, v in svc.items() if not k.startswith("_")}

    def ecs_UpdateService(self, req, akid):
        self.deny("ecs:UpdateService", f"arn:aws:ecs:{self.region}:{ACCOUNT}:service/{req.get('cluster', 'default')}/{req['service']}", akid)
        svc = self.get_service(req.get("cluster"), req["service"])
        if svc is None:
            raise Fail(400, "ServiceNotFoundException", "Service not found.")
        if "desiredCount" in req:
            svc["desiredCount"] = req["desiredCount"]
        td = req.get("taskDefinition")
        changed = td is not None or req.get("forceNewDeployment")
        if changed:
            arn = self.td_arn(td) if td else svc["taskDefinition"]
            for d in svc["deployments"]:
                d["status"] = "ACTIVE"
            dep = {"id": "ecs-svc/%d" % (2000 + self.st.next_id()), "status": "PRIMARY", "taskDefinition": arn,
                   "desiredCount": svc["desiredCount"], "runningCount": 0, "pendingCount": 0, "failedTasks": 0,
                   "rolloutState": "IN_PROGRESS", "rolloutStateReason": "ECS deployment ecs-svc in progress.",
                   "createdAt": time.time(), "updatedAt": time.time()}
            if self.st.scenario.get("no_circuit_breaker"):
                # services without the deployment circuit breaker report no rolloutState
                dep.pop("rolloutState")
                dep.pop("rolloutStateReason")
            svc["deployments"].insert(0, dep)
            svc["taskDefinition"] = arn
            svc["_polls"] = 0
        return {"service": self.public_service(svc)}

    def ecs_DescribeServices(self, req, akid):
        self.deny("ecs:DescribeServices", "*", akid)
        out, failures = [], []
        for name in req["services"]:
            svc = self.st.services.get((req.get("cluster") or "default", name))
            if not svc:
                failures.append({"arn": f"arn:aws:ecs:{self.region}:{ACCOUNT}:service/{name}", "reason": "MISSING"})
                continue
            self.advance(svc)
            out.append(self.public_service(svc))
        return {"services": out, "failures": failures}

    def advance(self, svc):
        sc = self.st.scenario
        dep = svc["deployments"][0]
        if sc.get("no_circuit_breaker") and "rolloutState" not in dep:
            svc["_polls"] += 1
            if svc["_polls"] >= sc.get("rollout_polls", 2):
                dep.update(runningCount=dep["desiredCount"], pendingCount=0)
                svc["deployments"] = [dep]
            else:
                dep["runningCount"] = 1
            return
        if dep.get("rolloutState") != "IN_PROGRESS":
            return
        svc["_polls"] += 1
        mode = sc.get("rollout", "complete")
        after = sc.get("rollout_polls", 2)
        if mode == "hang":
            dep["pendingCount"] = dep["desiredCount"]
            return
        if svc["_polls"] < after:
            dep["runningCount"] = min(dep["desiredCount"], svc["_polls"])
            dep["pendingCount"] = dep["desiredCount"] - dep["runningCount"]
            self.event(svc, f"(service {svc['serviceName']}) has started 1 tasks: (task t{svc['_polls']}).")
            return
        if mode == "complete":
            dep.update(runningCount=dep["desiredCount"], pendingCount=0, rolloutState="COMPLETED",
                       rolloutStateReason="ECS deployment completed.")
            svc["deployments"] = [dep]
            svc["runningCount"] = dep["desiredCount"]
            self.event(svc, f"(service {svc['serviceName']}) has reached a steady state.")
        elif mode == "failed":
            dep.update(runningCount=0, pendingCount=0, failedTasks=3, rolloutState="FAILED",
                       rolloutStateReason="ECS deployment circuit breaker: tasks failed to start.")
            self.event(svc, f"(service {svc['serviceName']}) deployment failed: tasks failed to start.")
            self.event(svc, f"(service {svc['serviceName']}) (task 9f2c) failed container health checks.")
            stopped = "arn:aws:ecs:%s:%s:task/%s/9f2c" % (self.region, ACCOUNT, svc["clusterArn"].split("/")[-1])
            self.st.tasks[stopped] = {"taskArn": stopped, "lastStatus": "STOPPED", "desiredStatus": "STOPPED",
                                      "stopCode": "TaskFailedToStart", "_service": svc["serviceName"],
                                      "stoppedReason": "Essential container in task exited",
                                      "containers": [{"name": "web", "exitCode": 137,
                                                      "reason": "OutOfMemoryError: Container killed due to memory usage"}]}
        elif mode == "rollback":
            svc["deployments"] = [d for d in svc["deployments"][1:]]
            if svc["deployments"]:
                svc["deployments"][0]["status"] = "PRIMARY"
            self.event(svc, f"(service {svc['serviceName']}) rolling back to deployment {svc['deployments'][0]['id'] if svc['deployments'] else '?'}: circuit breaker triggered.")

    def ecs_ListTasks(self, req, akid):
        self.deny("ecs:ListTasks", "*", akid)
        if "startedBy" in req:
            # "When you specify startedBy as the filter, it must be the only filter that you use."
            others = [k for k in ("containerInstance", "family", "serviceName", "desiredStatus", "launchType")
                      if k in req]
            if others:
                raise Fail(400, "InvalidParameterException",
                           f"startedBy must be the only filter, not with {', '.join(others)}")
        if req.get("cluster", "default") in self.st.scenario.get("missing_clusters", []):
            raise Fail(400, "ClusterNotFoundException", "Cluster not found.")
        cluster = self.cluster_arn(req.get("cluster", "default"))
        # the default status filter is RUNNING (tasks whose desired status is RUNNING)
        want = req.get("desiredStatus", "RUNNING")
        arns = [a for a, t in self.st.tasks.items()
                if t.get("desiredStatus") == want
                and (t.get("clusterArn") is None or t["clusterArn"] == cluster or "_service" in t)
                and (not req.get("serviceName") or t.get("_service") == req["serviceName"])
                and (not req.get("startedBy") or t.get("startedBy") == req["startedBy"])]
        size = min(req.get("maxResults", 100), self.st.scenario.get("ecs_page_size", 100))
        start = int(req["nextToken"]) if req.get("nextToken") else 0
        out = {"taskArns": arns[start:start + size]}
        if start + size < len(arns):
            out["nextToken"] = str(start + size)
        return out

    def ecs_StopTask(self, req, akid):
        self.deny("ecs:StopTask", req["task"], akid)
        t = self.st.tasks.get(req["task"])
        if not t or t.get("clusterArn") != self.cluster_arn(req.get("cluster", "default")):
            raise Fail(400, "InvalidParameterException", "The referenced task was not found.")
        if t["desiredStatus"] != "STOPPED":
            t.update(desiredStatus="STOPPED", lastStatus="STOPPED", stopCode="UserInitiated",
                     stoppedReason=req.get("reason", "Task stopped by user"))
            for c in t["containers"]:
                c["lastStatus"] = "STOPPED"
                c.setdefault("exitCode", 143)
        return {"task": {k: v for k, v in t.items() if not k.startswith("_")}}

    def ecs_DescribeTasks(self, req, akid):
        out, failures = [], []
        for arn in req["tasks"]:
            t = self.st.tasks.get(arn)
            if not t:
                failures.append({"arn": arn, "reason": "MISSING"})
                continue
            t["_polls"] = t.get("_polls", 0) + 1
            if t["lastStatus"] != "STOPPED" and t["_polls"] >= self.st.scenario.get("task_polls", 2) \
                    and self.st.scenario.get("task", "exit") != "hang":
                t["lastStatus"] = "STOPPED"
                t["desiredStatus"] = "STOPPED"
                t["stopCode"] = "EssentialContainerExited"
                t["stoppedReason"] = "Essential container in task exited"
                codes = self.st.scenario.get("exit_codes", {})
                for c in t["containers"]:
                    if c["name"] in self.st.scenario.get("no_exit", []):
                        c["reason"] = "CannotPullContainerError: pull image manifest has been retried 5 time(s)"
                        t["stopCode"] = "TaskFailedToStart"
                        t["stoppedReason"] = "CannotPullContainerError"
                    else:
                        c["exitCode"] = codes.get(c["name"], 0)
                    c["lastStatus"] = "STOPPED"
            elif t["lastStatus"] == "PROVISIONING":
                t["lastStatus"] = "RUNNING"
            out.append({k: v for k, v in t.items() if not k.startswith("_")})
        return {"tasks": out, "failures": failures}

    def ecs_RunTask(self, req, akid):
        self.deny("ecs:RunTask", self.td_arn(req["taskDefinition"]), akid)
        if self.st.scenario.get("run_task_failure"):
            return {"tasks": [], "failures": [{"arn": f"arn:aws:ecs:{self.region}:{ACCOUNT}:container-instance/x",
                                               "reason": "RESOURCE:MEMORY"}]}
        fam = req["taskDefinition"].split("/")[-1].split(":")[0]
        td = next((v for k, v in self.st.taskdefs.items() if k.startswith(fam + ":")), None)
        names = [c["name"] for c in td["containerDefinitions"]] if td else ["app"]
        tasks = []
        for _ in range(req.get("count", 1)):
            arn = "arn:aws:ecs:%s:%s:task/%s/%032x" % (self.region, ACCOUNT, req.get("cluster", "default"),
                                                          self.st.next_id())
            t = {"taskArn": arn, "clusterArn": self.cluster_arn(req.get("cluster", "default")),
                 "taskDefinitionArn": self.td_arn(req["taskDefinition"]), "lastStatus": "PROVISIONING",
                 "desiredStatus": "RUNNING", "launchType": req.get("launchType", "FARGATE"),
                 "containers": [{"name": n, "lastStatus": "PENDING"} for n in names],
                 "overrides": req.get("overrides", {})}
            if "startedBy" in req:
                t["startedBy"] = req["startedBy"]
            self.st.tasks[arn] = t
            tasks.append({k: v for k, v in t.items() if not k.startswith("_")})
        return {"tasks": tasks, "failures": []}

    def ecs_RegisterTaskDefinition(self, req, akid):
        self.deny("ecs:RegisterTaskDefinition", "*", akid)
        fam = req["family"]
        rev = 1 + max([int(k.split(":")[1]) for k in self.st.taskdefs if k.startswith(fam + ":")] or [0])
        td = dict(req)
        td.update(taskDefinitionArn=self.td_arn(f"{fam}:{rev}"), revision=rev, status="ACTIVE")
        self.st.taskdefs[f"{fam}:{rev}"] = td
        return {"taskDefinition": td}

    # --- Lambda ------------------------------------------------------------------------------
    def lam(self, method, raw_path, raw_query, body, akid):
        models = self.server.models
        path = urllib.parse.unquote(raw_path)
        for m, rx, op in models.lambda_routes:
            if m != method:
                continue
            mt = rx.match(raw_path)
            if mt:
                break
        else:
            raise Fail(404, "UnknownOperationException", f"no Lambda operation for {method} {path}")
        params = {k: urllib.parse.unquote(v) for k, v in mt.groupdict().items()}
        o = models.lam["operations"][op]
        req = {}
        if body:
            if self.headers.get("Content-Type") != "application/json":
                raise Fail(400, "InvalidRequestContentException", "Content-Type must be application/json")
            try:
                req = json.loads(body)
            except ValueError:
                raise Fail(400, "InvalidRequestContentException", "body is not JSON")
        errors = []
        check_shape(models.lam, o["input"]["shape"], req, op, errors, skip_locations=True)
        q = urllib.parse.parse_qs(raw_query)
        with self.st.lock:
            self.record("lambda", op, {k: (v if k != "ZipFile" else f"<{len(v)} base64 chars>") for k, v in req.items()},
                        {"errors": errors, "path": path, "query": raw_query})
            if errors:
                raise Fail(400, "InvalidParameterValueException", "; ".join(errors))
            name = params.get("FunctionName")
            fn = self.st.functions.get(name)
            if fn is None:
                if name in self.st.scenario.get("missing_functions", []):
                    raise Fail(404, "ResourceNotFoundException", f"Function not found: arn:aws:lambda:{self.region}:{ACCOUNT}:function:{name}")
                fn = {"FunctionName": name, "FunctionArn": f"arn:aws:lambda:{self.region}:{ACCOUNT}:function:{name}",
                      "CodeSha256": "", "Version": "$LATEST", "LastUpdateStatus": "Successful", "State": "Active",
                      "versions": {}, "aliases": {}, "_polls": 0, "zip_names": []}
                self.st.functions[name] = fn
            status, out = getattr(self, "lambda_" + op)(fn, req, q, params, akid)
        self.send(status, out)

    def lambda_config(self, fn, version=None):
        out = {k: v for k, v in fn.items() if k not in ("versions", "aliases", "zip_names") and not k.startswith("_")}
        if version and version in fn["versions"]:
            out.update(fn["versions"][version])
        return out

    def lambda_UpdateFunctionCode(self, fn, req, q, params, akid):
        self.deny("lambda:UpdateFunctionCode", fn["FunctionArn"], akid)
        if "ZipFile" in req:
            data = base64.b64decode(req["ZipFile"])
            try:
                fn["zip_names"] = sorted(zipfile.ZipFile(io.BytesIO(data)).namelist())
            except zipfile.BadZipFile:
                raise Fail(400, "InvalidParameterValueException", "Could not unzip uploaded file.")
            fn["CodeSha256"] = base64.b64encode(hashlib.sha256(data).digest()).decode()
        elif "S3Bucket" in req:
            obj = self.st.objects.get((req["S3Bucket"], req["S3Key"]))
            if obj is None:
                raise Fail(400, "InvalidParameterValueException", "Error occurred while GetObject. S3 Error Code: NoSuchKey.")
            fn["CodeSha256"] = base64.b64encode(hashlib.sha256(obj["data"]).digest()).decode()
        elif "ImageUri" in req:
            fn["CodeSha256"] = base64.b64encode(hashlib.sha256(req["ImageUri"].encode()).digest()).decode()
            fn["ImageUri"] = req["ImageUri"]
        else:
            raise Fail(400, "InvalidParameterValueException", "Please provide a source for function code.")
        if self.st.scenario.get("lambda_sha_mismatch"):
            fn["CodeSha256"] = "AAAA" + fn["CodeSha256"][4:]
        fn["LastUpdateStatus"] = "InProgress"
        fn["_polls"] = 0
        fn["RevisionId"] = "rev-%d" % self.st.next_id()
        out = self.lambda_config(fn)
        if req.get("Publish"):
            v = str(len(fn["versions"]) + 1)
            fn["versions"][v] = {"Version": v, "CodeSha256": fn["CodeSha256"]}
            out["Version"] = v
        return 200, out

    def lambda_GetFunctionConfiguration(self, fn, req, q, params, akid):
        self.deny("lambda:GetFunctionConfiguration", fn["FunctionArn"], akid)
        fn["_polls"] += 1
        if fn["LastUpdateStatus"] == "InProgress" and fn["_polls"] >= self.st.scenario.get("lambda_polls", 2):
            if self.st.scenario.get("lambda_update") == "failed":
                fn["LastUpdateStatus"] = "Failed"
                fn["LastUpdateStatusReason"] = "The image manifest or layer media type for the source image is not supported."
                fn["LastUpdateStatusReasonCode"] = "ImageNotFound"
            elif self.st.scenario.get("lambda_update") != "hang":
                fn["LastUpdateStatus"] = "Successful"
        return 200, self.lambda_config(fn, q.get("Qualifier", [None])[0])

    def lambda_UpdateFunctionConfiguration(self, fn, req, q, params, akid):
        self.deny("lambda:UpdateFunctionConfiguration", fn["FunctionArn"], akid)
        if "RevisionId" in req and req["RevisionId"] != fn.get("RevisionId"):
            raise Fail(412, "PreconditionFailedException", "The Revision Id provided does not match the latest Revision Id.")
        for k in ("Environment", "Handler", "Runtime", "Description", "Role", "Timeout", "MemorySize"):
            if k in req:
                fn[k] = req[k]
        fn["LastUpdateStatus"] = "InProgress"
        fn["_polls"] = 0
        fn["RevisionId"] = "rev-%d" % self.st.next_id()
        return 200, self.lambda_config(fn)

    def lambda_UpdateAlias(self, fn, req, q, params, akid):
        self.deny("lambda:UpdateAlias", fn["FunctionArn"], akid)
        name = params["Name"]
        if name not in fn["aliases"]:
            raise Fail(404, "ResourceNotFoundException", f"Alias not found: {fn['FunctionArn']}:{name}")
        fn["aliases"][name] = req["FunctionVersion"]
        return 200, {"Name": name, "FunctionVersion": req["FunctionVersion"],
                     "AliasArn": f"{fn['FunctionArn']}:{name}"}

    def lambda_CreateAlias(self, fn, req, q, params, akid):
        self.deny("lambda:CreateAlias", fn["FunctionArn"], akid)
        fn["aliases"][req["Name"]] = req["FunctionVersion"]
        return 201, {"Name": req["Name"], "FunctionVersion": req["FunctionVersion"],
                     "AliasArn": f"{fn['FunctionArn']}:{req['Name']}"}

    # --- S3 ----------------------------------------------------------------------------------
    def s3(self, method, raw_path, raw_query, body, akid):
        parts = raw_path.lstrip("/").split("/", 1)
        bucket = urllib.parse.unquote(parts[0])
        key = urllib.parse.unquote(parts[1]) if len(parts) > 1 else ""
        q = urllib.parse.parse_qs(raw_query, keep_blank_values=True)
        if method == "PUT" and "partNumber" in q and self.st.scenario.get("hang_parts"):
            # an upload that is slow enough for the uploader to be killed in the middle
            with self.st.lock:
                self.st.parts_waiting += 1
            deadline = time.time() + 120
            while self.st.scenario.get("hang_parts") and time.time() < deadline:
                time.sleep(0.02)
        with self.st.lock:
            if bucket in self.st.scenario.get("missing_buckets", []):
                raise Fail(404, "NoSuchBucket", "The specified bucket does not exist", "xml")
            if not key and method == "GET" and "uploads" in q:
                return self.s3_list_uploads(bucket, q, akid)
            if not key:
                raise Fail(400, "InvalidRequest", "no key", "xml")
            if method == "PUT" and "partNumber" in q:
                up = self.st.uploads.get(q["uploadId"][0])
                if not up:
                    raise Fail(404, "NoSuchUpload", "The specified upload does not exist.", "xml")
                n = int(q["partNumber"][0])
                etag = '"%s"' % hashlib.md5(body).hexdigest()
                up["parts"][n] = (body, etag)
                self.record("s3", "UploadPart", {"bucket": bucket, "key": key, "part": n, "size": len(body)})
                return self.send(200, b"", "application/xml", {"ETag": etag})
            if method == "PUT":
                self.deny("s3:PutObject", f"arn:aws:s3:::{bucket}/{key}", akid)
                self.record("s3", "PutObject", {"bucket": bucket, "key": key, "size": len(body),
                                                "content_type": self.headers.get("Content-Type")})
                self.st.objects[(bucket, key)] = {"data": body, "ctype": self.headers.get("Content-Type")}
                return self.send(200, b"", "application/xml", {"ETag": '"%s"' % hashlib.md5(body).hexdigest()})
            if method == "POST" and "uploads" in q:
                self.deny("s3:PutObject", f"arn:aws:s3:::{bucket}/{key}", akid)
                uid = "upload-%d" % self.st.next_id()
                self.st.uploads[uid] = {"bucket": bucket, "key": key, "parts": {},
                                        "ctype": self.headers.get("Content-Type"), "initiated": time.time()}
                self.record("s3", "CreateMultipartUpload", {"bucket": bucket, "key": key})
                return self.send(200, f"<InitiateMultipartUploadResult><Bucket>{bucket}</Bucket><Key>{key}</Key>"
                                      f"<UploadId>{uid}</UploadId></InitiateMultipartUploadResult>", "application/xml")
            if method == "POST" and "uploadId" in q:
                uid = q["uploadId"][0]
                up = self.st.uploads.get(uid)
                if not up:
                    raise Fail(404, "NoSuchUpload", "The specified upload does not exist.", "xml")
                listed = re.findall(r"<Part><PartNumber>(\d+)</PartNumber><ETag>([^<]+)</ETag></Part>", body.decode())
                nums = [int(n) for n, _ in listed]
                if nums != sorted(nums) or not nums:
                    raise Fail(400, "InvalidPartOrder", "The list of parts was not in ascending order.", "xml")
                for i, (n, etag) in enumerate(listed):
                    p = up["parts"].get(int(n))
                    if not p or p[1] != etag.replace("&quot;", '"'):
                        raise Fail(400, "InvalidPart", f"part {n} was not uploaded or its ETag differs", "xml")
                    if i < len(listed) - 1 and len(p[0]) < 5 * 1024 * 1024:
                        raise Fail(400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size.", "xml")
                data = b"".join(up["parts"][int(n)][0] for n, _ in listed)
                self.st.objects[(bucket, key)] = {"data": data, "ctype": up["ctype"]}
                del self.st.uploads[uid]
                self.record("s3", "CompleteMultipartUpload", {"bucket": bucket, "key": key, "parts": len(listed)})
                return self.send(200, f"<CompleteMultipartUploadResult><Key>{key}</Key></CompleteMultipartUploadResult>",
                                 "application/xml")
            if method == "DELETE" and "uploadId" in q:
                self.deny("s3:AbortMultipartUpload", f"arn:aws:s3:::{bucket}/{key}", akid)
                uid = q["uploadId"][0]
                up = self.st.uploads.get(uid)
                self.record("s3", "AbortMultipartUpload", {"bucket": bucket, "key": key, "uploadId": uid})
                if not up or up["bucket"] != bucket or up["key"] != key:
                    raise Fail(404, "NoSuchUpload", "The specified upload does not exist.", "xml")
                del self.st.uploads[uid]
                return self.send(204, b"", "application/xml")
        raise Fail(405, "MethodNotAllowed", "not served by the fake", "xml")

    def s3_list_uploads(self, bucket, q, akid):
        self.deny("s3:ListBucketMultipartUploads", f"arn:aws:s3:::{bucket}", akid)
        one = lambda k: q.get(k, [""])[0]
        prefix, kmark, umark = one("prefix"), one("key-marker"), one("upload-id-marker")
        self.record("s3", "ListMultipartUploads", {"bucket": bucket, "prefix": prefix, "key-marker": kmark,
                                                   "upload-id-marker": umark})
        ups = sorted(((u["key"], u["initiated"], uid) for uid, u in self.st.uploads.items()
                      if u["bucket"] == bucket and u["key"].startswith(prefix)))
        if kmark:
            if umark:
                pos = next((i for i, u in enumerate(ups) if u[0] == kmark and u[2] == umark), None)
                ups = ups[pos + 1:] if pos is not None else [u for u in ups if u[0] > kmark]
            else:
                ups = [u for u in ups if u[0] > kmark]
        size = min(int(one("max-uploads") or 1000), self.st.scenario.get("s3_page_size", 1000))
        page, more = ups[:size], len(ups) > size
        esc = lambda v: v.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        body = ['<?xml version="1.0" encoding="UTF-8"?>'
                '<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                f"<Bucket>{esc(bucket)}</Bucket><KeyMarker>{esc(kmark)}</KeyMarker>"
                f"<UploadIdMarker>{esc(umark)}</UploadIdMarker><Prefix>{esc(prefix)}</Prefix>"
                f"<MaxUploads>{size}</MaxUploads><IsTruncated>{'true' if more else 'false'}</IsTruncated>"]
        if more:
            body.append(f"<NextKeyMarker>{esc(page[-1][0])}</NextKeyMarker>"
                        f"<NextUploadIdMarker>{esc(page[-1][2])}</NextUploadIdMarker>")
        for k, t, uid in page:
            at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % int((t % 1) * 1000)
            body.append(f"<Upload><Key>{esc(k)}</Key><UploadId>{esc(uid)}</UploadId>"
                        f"<Initiator><ID>{ACCOUNT}</ID><DisplayName>ci</DisplayName></Initiator>"
                        f"<Owner><ID>{ACCOUNT}</ID><DisplayName>ci</DisplayName></Owner>"
                        f"<StorageClass>STANDARD</StorageClass><Initiated>{at}</Initiated></Upload>")
        body.append("</ListMultipartUploadsResult>")
        return self.send(200, "".join(body), "application/xml")

    # --- STS ---------------------------------------------------------------------------------
    def sts(self, body, akid):
        form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode(), keep_blank_values=True).items()}
        action = form.pop("Action", "")
        version = form.pop("Version", "")
        if version != self.server.models.sts["metadata"]["apiVersion"]:
            raise Fail(400, "InvalidParameterValue", "bad Version")
        ops = self.server.models.sts["operations"]
        if action not in ("AssumeRole", "AssumeRoleWithWebIdentity"):
            raise Fail(400, "InvalidAction", f"Could not find operation {action}")
        shape = self.server.models.sts["shapes"][ops[action]["input"]["shape"]]
        missing = [r for r in shape.get("required", []) if r not in form]
        unknown = [k for k in form if k not in shape["members"]]
        with self.st.lock:
            self.record("sts", action, {k: (v if k != "WebIdentityToken" else "<token>") for k, v in form.items()},
                        {"errors": missing + unknown})
            if missing or unknown:
                raise Fail(400, "ValidationError", f"missing {missing}, unknown {unknown}")
            if action == "AssumeRoleWithWebIdentity":
                if akid is not None:
                    raise Fail(400, "InvalidAction", "AssumeRoleWithWebIdentity is not signed")
                if form["WebIdentityToken"] != self.server.args.web_token:
                    raise Fail(400, "InvalidIdentityToken", "Couldn't retrieve verification key from your identity provider")
            elif akid is None:
                raise Fail(403, "MissingAuthenticationToken", "Request is missing Authentication Token")
            self.deny("sts:" + action, form["RoleArn"], akid)
            self.st.sts_issued += 1
            n = self.st.sts_issued
            new = "ASIAFAKE%08d" % n
            secret = "stsSecret%08d%s" % (n, os.urandom(8).hex())
            token = "stsToken%08d%s" % (n, os.urandom(24).hex())
            role = form["RoleArn"].split("/")[-1]
            self.st.creds[new] = {"secret": secret, "token": token, "expired": False,
                                  "who": f"assumed-role/{role}/{form['RoleSessionName']}"}
            exp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + self.st.scenario.get("sts_lifetime", 3600)))
        res = (f"<{action}Response xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><{action}Result>"
               f"<Credentials><AccessKeyId>{new}</AccessKeyId><SecretAccessKey>{secret}</SecretAccessKey>"
               f"<SessionToken>{token}</SessionToken><Expiration>{exp}</Expiration></Credentials>"
               f"<AssumedRoleUser><Arn>arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{form['RoleSessionName']}</Arn>"
               f"<AssumedRoleId>AROA:{form['RoleSessionName']}</AssumedRoleId></AssumedRoleUser>"
               f"</{action}Result><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></{action}Response>")
        self.send(200, res, "text/xml")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--specs", required=True)
    ap.add_argument("--akid", default="AKIDPIPEWRIGHTTEST")
    ap.add_argument("--secret", default="pipewright/Test+Secret0123456789abcdefghij")
    ap.add_argument("--web-token", default="oidc-test-token")
    args = ap.parse_args()
    models = Models(args.specs)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.models = models
    srv.state = State(args, models)
    srv.args = args
    print("PORT %d" % srv.server_address[1], flush=True)
    print("READY", flush=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        while sys.stdin.read(1):
            pass
    except KeyboardInterrupt:
        pass
    srv.shutdown()


if __name__ == "__main__":
    main()
