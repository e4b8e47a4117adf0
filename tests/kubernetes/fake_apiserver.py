#!/usr/bin/env python3
"""A Kubernetes API server for the tests, over HTTPS on 127.0.0.1: Jobs, Pods (list, get,
watch=true streams, log with follow/timestamps/sinceTime), Secrets, PVCs, Events, Namespaces and
NetworkPolicies as the official API serves them. Requests need a bearer token (or a client
certificate signed by --client-ca); every request body is validated against swagger.json with
unknown fields rejected (k8s_schema.py). The pods a Job creates really run their command as
local processes, so logs and exit codes are real.

Test control (no auth): GET /_test/state, POST /_test/faults (JSON: forbid, fail, drop_watch_after,
gone_on_watch, drop_log_after, delete_pod_after,
reject_pods), POST /_test/tokens, POST /_test/reset.
Images named missing/... fail with ErrImagePull then ImagePullBackOff; a nodeSelector key
pipewright.dev/test-unschedulable keeps the pod Pending and Unschedulable.
Prints "PORT n" then "READY"; stops when stdin closes."""
import argparse
import base64
import datetime
import json
import os
import random
import signal
import ssl
import string
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import k8s_schema  # noqa: E402

lock = threading.Condition()
rv_counter = [1000]
objects = {}  # (resource, ns, name) -> object
history = []  # (rv, ns, type, pod copy)
procs = {}  # pod key -> Popen
logs = {}  # pod key -> list of (ts_ns, ts_text, line)
state = {"created": [], "deleted": [], "requests": [], "schema_errors": [], "watches": 0, "log_streams": 0,
         "timeline": []}  # [what, job, unix time] for the overhead benchmark
faults = {}
tokens = set()
workdir = "/tmp"


def now_text(t=None):
    t = time.time_ns() if t is None else t
    dt = datetime.datetime.fromtimestamp(t // 1_000_000_000, tz=datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + ".%09dZ" % (t % 1_000_000_000), t


def next_rv():
    rv_counter[0] += 1
    return str(rv_counter[0])


def status(code, reason, message, details=None):
    s = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
         "reason": reason, "code": code}
    if details:
        s["details"] = details
    return s


def record_pod(ns, pod, typ="MODIFIED"):
    """Stores a new version of pod and tells the watchers; call with lock held."""
    pod["metadata"]["resourceVersion"] = next_rv()
    objects[("pods", ns, pod["metadata"]["name"])] = pod
    history.append((int(pod["metadata"]["resourceVersion"]), ns, typ, json.loads(json.dumps(pod))))
    lock.notify_all()


def add_event(ns, pod_name, typ, reason, message, kind="Pod"):
    name = "%s.%x" % (pod_name, random.getrandbits(40))
    objects[("events", ns, name)] = {
        "apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": ns},
        "involvedObject": {"kind": kind, "name": pod_name, "namespace": ns},
        "type": typ, "reason": reason, "message": message}


def run_pod(ns, job, pod_name):
    key = (ns, pod_name)
    spec = job["spec"]["template"]["spec"]
    c = spec["containers"][0]
    time.sleep(0.05)
    with lock:
        pod = objects.get(("pods", ns, pod_name))
        if not pod:
            return
        if "pipewright.dev/test-unschedulable" in (spec.get("nodeSelector") or {}):
            msg = "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."
            pod["status"]["conditions"] = [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                            "message": msg}]
            add_event(ns, pod_name, "Warning", "FailedScheduling", msg)
            record_pod(ns, pod)
            return
        pod["spec"]["nodeName"] = "node-1"
        pod["status"]["conditions"] = [{"type": "PodScheduled", "status": "True"}]
        pod["status"]["containerStatuses"] = [{"name": "step", "image": c["image"], "imageID": "", "ready": False,
                                               "restartCount": 0,
                                               "state": {"waiting": {"reason": "ContainerCreating"}}}]
        record_pod(ns, pod)
    time.sleep(0.05)
    if c["image"].startswith("missing/"):
        for reason in ("ErrImagePull", "ImagePullBackOff"):
            time.sleep(0.1)
            with lock:
                pod = objects.get(("pods", ns, pod_name))
                if not pod:
                    return
                msg = 'Back-off pulling image "%s"' % c["image"]
                pod["status"]["containerStatuses"][0]["state"] = {"waiting": {"reason": reason, "message": msg}}
                if reason == "ErrImagePull":
                    add_event(ns, pod_name, "Warning", "Failed",
                              'Failed to pull image "%s": repository does not exist' % c["image"])
                record_pod(ns, pod)
        return
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp"}
    for e in c.get("env", []):
        if "value" in e:
            env[e["name"]] = e["value"]
        else:
            ref = e["valueFrom"]["secretKeyRef"]
            with lock:
                sec = objects.get(("secrets", ns, ref["name"]))
            if sec is None:
                with lock:
                    pod = objects.get(("pods", ns, pod_name))
                    msg = 'secret "%s" not found' % ref["name"]
                    pod["status"]["containerStatuses"][0]["state"] = {
                        "waiting": {"reason": "CreateContainerConfigError", "message": msg}}
                    record_pod(ns, pod)
                return
            if ref["key"] in sec.get("stringData", {}):
                env[e["name"]] = sec["stringData"][ref["key"]]
            else:
                env[e["name"]] = base64.b64decode(sec["data"][ref["key"]]).decode()
    argv = list(c.get("command", [])) + list(c.get("args", []))
    if not argv:
        argv = ["/bin/true"]
    cwd = c.get("workingDir") if c.get("workingDir") and os.path.isdir(c.get("workingDir")) else workdir
    with lock:
        pod = objects.get(("pods", ns, pod_name))
        if not pod:
            return
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                             start_new_session=True)
        procs[key] = p
        logs[key] = []
        started, _ = now_text()
        pod["status"]["phase"] = "Running"
        pod["status"]["containerStatuses"][0]["state"] = {"running": {"startedAt": started[:19] + "Z"}}
        record_pod(ns, pod)
    deadline = job["spec"].get("activeDeadlineSeconds")

    def killer():
        time.sleep(deadline)
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    if deadline:
        threading.Thread(target=killer, daemon=True).start()
    for raw in iter(p.stdout.readline, b""):
        text = raw.decode(errors="replace")
        ts, tns = now_text()
        with lock:
            logs[key].append((tns, ts, text))
            lock.notify_all()
    code = p.wait()
    with lock:
        pod = objects.get(("pods", ns, pod_name))
        if not pod:
            return
        ended, _ = now_text()
        if code < 0:
            code = 128 - code
        reason = "Completed" if code == 0 else "Error"
        pod["status"]["phase"] = "Succeeded" if code == 0 else "Failed"
        # the phase first, the container state in a later version, as kubelets can report it
        record_pod(ns, pod)
        pod["status"]["containerStatuses"][0]["state"] = {"terminated": {
            "exitCode": code, "reason": reason, "startedAt": ended[:19] + "Z", "finishedAt": ended[:19] + "Z"}}
        record_pod(ns, pod)
        logs[key].append(None)  # end of log
        state["timeline"].append(["pod_terminated", job["metadata"]["name"], time.time()])
        lock.notify_all()
        j = objects.get(("jobs", ns, job["metadata"]["name"]))
        if j:
            j["status"] = {"succeeded": 1} if code == 0 else {"failed": 1}


def delete_pods_of(ns, job_name, only=None):
    for k in list(objects):
        if k[0] == "pods" and k[1] == ns and objects[k]["metadata"]["labels"].get("job-name") == job_name \
                and (only is None or k[2] == only):
            pod = objects.pop(k)
            p = procs.pop((ns, k[2]), None)
            if p and p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            pod["metadata"]["resourceVersion"] = next_rv()
            history.append((int(pod["metadata"]["resourceVersion"]), ns, "DELETED", pod))
            lock.notify_all()


RESOURCES = {
    ("", "v1", "pods"): "Pod", ("", "v1", "secrets"): "Secret", ("", "v1", "persistentvolumeclaims"):
    "PersistentVolumeClaim", ("", "v1", "events"): "Event", ("", "v1", "namespaces"): "Namespace",
    ("batch", "v1", "jobs"): "Job", ("networking.k8s.io", "v1", "networkpolicies"): "NetworkPolicy",
}


def parse_path(path):
    """-> (group, version, ns, resource, name, sub) or None"""
    parts = [p for p in path.split("/") if p]
    if parts[:1] == ["api"]:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    ns = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        ns, rest = rest[1], rest[2:]
    if not rest:
        return None
    return group, version, ns, rest[0], rest[1] if len(rest) > 1 else None, rest[2] if len(rest) > 2 else None


def selector_match(obj, sel):
    for term in filter(None, (sel or "").split(",")):
        k, _, v = term.partition("=")
        if obj["metadata"].get("labels", {}).get(k) != v:
            return False
    return True


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY, as real servers answer: the handler writes the headers and the body
    # separately, and on a kept-alive connection Nagle held the body back until the client's
    # delayed ACK, 40 ms later, for every request
    disable_nagle_algorithm = True

    def setup(self):
        super().setup()
        # small writes (watch events, log lines, the end of a chunked body) go out at once, as
        # from the real API server, instead of waiting for Nagle's algorithm
        import socket
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *a):
        pass

    def send_json(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def start_stream(self, ctype):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def end_stream(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def drop(self):
        """Cuts the connection without ending the chunked body."""
        self.wfile.flush()
        self.close_connection = True
        try:
            self.connection.shutdown(2)
        except OSError:
            pass

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def authorized(self):
        h = self.headers.get("Authorization", "")
        if h.startswith("Bearer ") and h[7:] in tokens:
            return True
        try:
            if self.connection.getpeercert():
                return True
        except (AttributeError, ValueError):
            pass
        return False

    def fault(self, method, path, verb, resource, ns, group):
        for f in faults.get("forbid", []):
            if f.get("verb") == verb and f.get("resource") == resource:
                msg = '%s%s is forbidden: User "system:serviceaccount:ci:runner" cannot %s resource "%s" in API ' \
                      'group "%s" in the namespace "%s"' % (resource, "." + group if group else "", verb,
                                                            resource, group, ns)
                self.send_json(403, status(403, "Forbidden", msg, {"kind": resource, "group": group}))
                return True
        for f in faults.get("fail", []):
            if f.get("after"):
                continue  # answered by after_fault once the request has been carried out
            if f.get("count", 0) > 0 and f.get("method", method) == method and f["path_contains"] in path:
                f["count"] -= 1
                self.send_json(f["status"], status(f["status"], "InternalError", "injected failure"))
                return True
        return False

    def after_fault(self, method, path):
        """A failure reported after the request was carried out (a lost response)."""
        for f in faults.get("fail", []):
            if f.get("after") and f.get("count", 0) > 0 and f.get("method", method) == method and \
                    f["path_contains"] in path:
                f["count"] -= 1
                return f["status"]
        return None

    def handle_any(self, method):
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        raw = self.body()
        if u.path.startswith("/_test/"):
            return self.control(method, u.path, raw)
        with lock:
            state["requests"].append("%s %s" % (method, self.path))
        if not self.authorized():
            with lock:
                state["requests"][-1] += " -> 401 (reused TLS session: %s)" % getattr(self.connection, "session_reused", None)
            return self.send_json(401, status(401, "Unauthorized", "Unauthorized"))
        pp = parse_path(u.path)
        if not pp or (pp[0], pp[1], pp[3]) not in RESOURCES:
            return self.send_json(404, status(404, "NotFound", "the server could not find the requested resource"))
        group, version, ns, resource, name, sub = pp
        kind = RESOURCES[(group, version, resource)]
        verb = {"GET": "get" if name else ("watch" if q.get("watch") == "true" else "list"), "POST": "create",
                "DELETE": "delete"}.get(method, method.lower())
        if self.fault(method, u.path, verb, resource, ns, group):
            return
        if method == "POST":
            return self.create(kind, group, ns, resource, raw)
        if method == "DELETE":
            return self.delete(kind, ns, resource, name, raw, q)
        if method == "GET":
            if resource == "pods" and name and sub == "log":
                return self.log(ns, name, q)
            if name:
                with lock:
                    o = objects.get((resource, ns, name))
                if not o:
                    return self.send_json(404, status(404, "NotFound", '%s "%s" not found' % (resource, name)))
                return self.send_json(200, o)
            if q.get("watch") == "true":
                return self.watch(ns, q)
            return self.list(kind, ns, resource, q)
        self.send_json(405, status(405, "MethodNotAllowed", "method not allowed"))

    def control(self, method, path, raw):
        global faults
        with lock:
            if path == "/_test/state":
                s = dict(state)
                s["objects"] = ["%s %s/%s" % k for k in objects if k[0] != "events"]
                s["running"] = sum(1 for p in procs.values() if p.poll() is None)
                return self.send_json(200, s)
            if path == "/_test/faults":
                faults = json.loads(raw or b"{}")
                return self.send_json(200, faults)
            if path == "/_test/tokens":
                tokens.clear()
                tokens.update(json.loads(raw))
                return self.send_json(200, sorted(tokens))
            if path == "/_test/reset":
                state["created"].clear()
                state["deleted"].clear()
                state["requests"].clear()
                state["schema_errors"].clear()
                state["watches"] = 0
                state["log_streams"] = 0
                state.pop("bodies", None)
                state["timeline"].clear()
                return self.send_json(200, {})
        self.send_json(404, {})

    def create(self, kind, group, ns, resource, raw):
        try:
            obj = json.loads(raw)
        except ValueError:
            return self.send_json(400, status(400, "BadRequest", "the body is not JSON"))
        errs = k8s_schema.validate(obj) + k8s_schema.name_errors(obj)
        if obj.get("kind") != kind:
            errs.append("kind %r posted to %s" % (obj.get("kind"), resource))
        if errs:
            with lock:
                state["schema_errors"].extend(errs)
            return self.send_json(400, status(400, "BadRequest", "strict decoding error: " + "; ".join(errs)))
        name = obj["metadata"]["name"]
        obj["metadata"].setdefault("namespace", ns) if ns else None
        with lock:
            if ns and resource != "namespaces" and ("namespaces", None, ns) not in objects and ns != "default" \
                    and ns not in faults.get("namespaces", ["ci", "team-a", "build-ns"]):
                return self.send_json(404, status(404, "NotFound", 'namespaces "%s" not found' % ns))
            if (resource, ns, name) in objects:
                return self.send_json(409, status(409, "AlreadyExists", '%s "%s" already exists' % (resource, name)))
            obj["metadata"]["uid"] = "%032x" % random.getrandbits(128)
            obj["metadata"]["resourceVersion"] = next_rv()
            objects[(resource, ns, name)] = obj
            state["created"].append("%s %s/%s" % (resource, ns or "", name))
            state.setdefault("bodies", []).append(raw.decode())
        if kind == "Job":
            with lock:
                state["timeline"].append(["job_created", name, time.time()])
            self.start_job(ns, obj)
        lost = self.after_fault("POST", self.path)
        if lost:
            return self.send_json(lost, status(lost, "InternalError", "injected failure after the create"))
        self.send_json(201, obj)

    def start_job(self, ns, job):
        suffix = "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(5))
        pod_name = "%s-%s" % (job["metadata"]["name"], suffix)
        if faults.get("reject_pods"):
            # admission refuses the pod: the Job controller records FailedCreate on the Job
            with lock:
                add_event(ns, job["metadata"]["name"], "Warning", "FailedCreate",
                          'Error creating: pods "%s" is forbidden: %s' % (pod_name, faults["reject_pods"]), "Job")
            return
        tmpl = job["spec"]["template"]
        labels = dict(tmpl.get("metadata", {}).get("labels", {}))
        labels.update({"job-name": job["metadata"]["name"], "batch.kubernetes.io/job-name": job["metadata"]["name"],
                       "controller-uid": job["metadata"]["uid"]})
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": pod_name, "namespace": ns, "labels": labels},
               "spec": json.loads(json.dumps(tmpl["spec"])),
               "status": {"phase": "Pending"}}
        with lock:
            record_pod(ns, pod, "ADDED")
        threading.Thread(target=run_pod, args=(ns, job, pod_name), daemon=True).start()

    def delete(self, kind, ns, resource, name, raw, q):
        if raw:
            try:
                opts = json.loads(raw)
            except ValueError:
                opts = None
            errs = k8s_schema.validate(opts, "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions") if opts else [
                "not JSON"]
            if errs:
                with lock:
                    state["schema_errors"].extend(errs)
                return self.send_json(400, status(400, "BadRequest", "; ".join(errs)))
            q = dict(q)
            q.setdefault("propagationPolicy", opts.get("propagationPolicy", ""))
        with lock:
            o = objects.pop((resource, ns, name), None)
            if not o:
                return self.send_json(404, status(404, "NotFound", '%s "%s" not found' % (resource, name)))
            state["deleted"].append("%s %s/%s %s" % (resource, ns or "", name, q.get("propagationPolicy", "")))
            if resource == "jobs":
                state["timeline"].append(["job_deleted", name, time.time()])
            if resource == "jobs" and q.get("propagationPolicy") in ("Background", "Foreground"):
                delete_pods_of(ns, name)
            if resource == "namespaces":
                for k in [k for k in objects if k[1] == name]:
                    objects.pop(k)
        self.send_json(200, status(200, "Success", "deleted") | {"status": "Success"})

    def list(self, kind, ns, resource, q):
        with lock:
            items = [o for k, o in objects.items() if k[0] == resource and (ns is None or k[1] == ns)
                     and selector_match(o, q.get("labelSelector"))]
            fs = q.get("fieldSelector")
            if fs and fs.startswith("involvedObject.name="):
                items = [o for o in items if o.get("involvedObject", {}).get("name") == fs.split("=", 1)[1]]
            rv = str(rv_counter[0])
        self.send_json(200, {"kind": kind + "List", "apiVersion": "v1", "metadata": {"resourceVersion": rv},
                             "items": items})

    def watch(self, ns, q):
        since = int(q.get("resourceVersion") or 0)
        timeout = float(q.get("timeoutSeconds") or 30)
        sel = q.get("labelSelector")
        with lock:
            state["watches"] += 1
            # the nth watch request answers 410 Gone (its resourceVersion is "too old")
            gone = since and faults.get("gone_on_watch") == state["watches"]
        self.start_stream("application/json")
        if gone:
            self.chunk(json.dumps({"type": "ERROR", "object": status(
                410, "Expired", "too old resource version: %d (%d)" % (since, rv_counter[0]))}).encode() + b"\n")
            return self.end_stream()
        end = time.time() + timeout
        sent = 0
        pos = 0
        while True:
            with lock:
                batch = []
                while pos < len(history):
                    rv, hns, typ, obj = history[pos]
                    pos += 1
                    if rv > since and hns == ns and selector_match(obj, sel):
                        batch.append((typ, obj))
                if not batch:
                    left = end - time.time()
                    if left <= 0:
                        break
                    lock.wait(min(left, 0.5))
                    continue
                drop_after = faults.get("drop_watch_after", 0)
            for typ, obj in batch:
                self.chunk(json.dumps({"type": typ, "object": obj}).encode() + b"\n")
                since = int(obj["metadata"]["resourceVersion"])
                sent += 1
                if drop_after and sent >= drop_after:
                    with lock:
                        faults["drop_watch_after"] = 0
                    return self.drop()
        self.end_stream()

    def log(self, ns, name, q):
        key = (ns, name)
        with lock:
            pod = objects.get(("pods", ns, name))
            if not pod:
                return self.send_json(404, status(404, "NotFound", 'pods "%s" not found' % name))
            st = ((pod["status"].get("containerStatuses") or [{}])[0]).get("state", {})
            if "waiting" in st or key not in logs:
                reason = st.get("waiting", {}).get("reason", "ContainerCreating")
                return self.send_json(400, status(400, "BadRequest", 'container "step" in pod "%s" is waiting to '
                                                                     'start: %s' % (name, reason)))
            state["log_streams"] += 1
        since_ns = 0
        if q.get("sinceTime"):
            t = datetime.datetime.strptime(q["sinceTime"][:19], "%Y-%m-%dT%H:%M:%S").replace(
                tzinfo=datetime.timezone.utc)
            since_ns = int(t.timestamp()) * 1_000_000_000
        follow = q.get("follow") == "true"
        stamps = q.get("timestamps") == "true"
        self.start_stream("text/plain")
        pos = 0
        sent = 0
        while True:
            with lock:
                entries = logs[key]
                if pos >= len(entries):
                    if not follow:
                        break
                    lock.wait(0.5)
                    if ("pods", ns, name) not in objects:
                        break
                    continue
                e = entries[pos]
                pos += 1
                drop_after = faults.get("drop_log_after", 0)
            if e is None:
                break
            tns, ts, text = e
            if tns < since_ns:
                continue
            self.chunk(((ts + " ") if stamps else "").encode() + text.encode())
            sent += 1
            if faults.get("delete_pod_after") and sent >= faults["delete_pod_after"]:
                # someone deletes the pod (not its Job) while it runs: its log ends
                with lock:
                    faults["delete_pod_after"] = 0
                    pod = objects.get(("pods", ns, name))
                    if pod:
                        delete_pods_of(ns, pod["metadata"]["labels"]["job-name"], name)
                break
            if drop_after and sent >= drop_after:
                with lock:
                    faults["drop_log_after"] = 0
                # cut in the middle of the next line when there is one
                return self.drop()
        self.end_stream()

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_DELETE(self):
        self.handle_any("DELETE")


def main():
    global workdir
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--client-ca")
    ap.add_argument("--token", action="append", default=[])
    ap.add_argument("--workdir", default="/tmp")
    a = ap.parse_args()
    workdir = a.workdir
    tokens.update(a.token)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.handle_error = lambda request, address: None  # clients end watches and log streams at will
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    if a.client_ca:
        ctx.load_verify_locations(a.client_ca)
        ctx.verify_mode = ssl.CERT_OPTIONAL
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("PORT %d" % srv.server_address[1])
    print("READY", flush=True)

    def stop():
        sys.stdin.read()
        for p in list(procs.values()):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        os._exit(0)
    threading.Thread(target=stop, daemon=True).start()
    srv.serve_forever()


if __name__ == "__main__":
    main()
