#!/usr/bin/env python3
"""A local stand-in for the GitLab REST API v4 (the parts the gitlab connector uses), answering
as GitLab's documentation describes. Every request is checked against the route table below
(method, path, required and known body fields, authentication); a request that matches no
documented route or breaks its rules is recorded as a violation, which the tests assert empty.

Documentation followed (GitLab REST API v4):
  releases            https://docs.gitlab.com/api/releases/
  release links       https://docs.gitlab.com/api/releases/links/
  pipeline triggers   https://docs.gitlab.com/api/pipeline_triggers/#trigger-a-pipeline-with-a-token
                      https://docs.gitlab.com/ci/triggers/
  pipelines           https://docs.gitlab.com/api/pipelines/#get-a-single-pipeline
  pipeline jobs       https://docs.gitlab.com/api/jobs/#list-pipeline-jobs
  remote mirrors      https://docs.gitlab.com/api/remote_mirrors/
  authentication      https://docs.gitlab.com/api/rest/authentication/ (PRIVATE-TOKEN, JOB-TOKEN)

Binds 127.0.0.1 port 0, prints "PORT n". Control (no auth): GET /_test/state, POST /_test/reset,
POST /_test/preset {"releases": [...], "mirrors": [...]}.
"""
import argparse
import json
import re
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ARGS = None
LOCK = threading.Lock()
PROJECT = "group/app"
PROJECT_ID = "42"
KNOWN_TAGS = {"v1.0.0", "v0.9.0"}
LINK_TYPES = {"other", "runbook", "image", "package"}

# (method, path regex, required fields, known fields, auth: token|trigger, job token allowed)
ROUTES = [
    ("POST", r"/projects/(?P<p>[^/]+)/releases", {"tag_name"},
     {"tag_name", "name", "description", "ref", "milestones", "assets", "released_at", "tag_message"}, "token", True),
    ("GET", r"/projects/(?P<p>[^/]+)/releases/(?P<tag>[^/]+)", set(), set(), "token", True),
    ("PUT", r"/projects/(?P<p>[^/]+)/releases/(?P<tag>[^/]+)", set(),
     {"name", "description", "milestones", "released_at"}, "token", True),
    ("GET", r"/projects/(?P<p>[^/]+)/releases/(?P<tag>[^/]+)/assets/links", set(), set(), "token", True),
    ("POST", r"/projects/(?P<p>[^/]+)/releases/(?P<tag>[^/]+)/assets/links", {"name", "url"},
     {"name", "url", "link_type", "direct_asset_path", "filepath"}, "token", True),
    ("PUT", r"/projects/(?P<p>[^/]+)/releases/(?P<tag>[^/]+)/assets/links/(?P<lid>\d+)", set(),
     {"name", "url", "link_type", "direct_asset_path", "filepath"}, "token", True),
    ("POST", r"/projects/(?P<p>[^/]+)/trigger/pipeline", {"token", "ref"}, {"token", "ref", "variables", "inputs"},
     "trigger", True),
    ("GET", r"/projects/(?P<p>[^/]+)/pipelines/(?P<pid>\d+)", set(), set(), "token", True),
    ("GET", r"/projects/(?P<p>[^/]+)/pipelines/(?P<pid>\d+)/jobs", set(), set(), "token", True),
    ("GET", r"/projects/(?P<p>[^/]+)/remote_mirrors", set(), set(), "token", False),
    ("POST", r"/projects/(?P<p>[^/]+)/remote_mirrors", {"url"},
     {"url", "enabled", "only_protected_branches", "keep_divergent_refs", "auth_method", "mirror_branch_regex"},
     "token", False),
    ("GET", r"/projects/(?P<p>[^/]+)/remote_mirrors/(?P<mid>\d+)", set(), set(), "token", False),
    ("PUT", r"/projects/(?P<p>[^/]+)/remote_mirrors/(?P<mid>\d+)", set(),
     {"enabled", "only_protected_branches", "keep_divergent_refs", "auth_method", "mirror_branch_regex"},
     "token", False),
    ("POST", r"/projects/(?P<p>[^/]+)/remote_mirrors/(?P<mid>\d+)/sync", set(), set(), "token", False),
]


def fresh_state():
    return {"requests": [], "violations": [], "releases": {}, "pipelines": {}, "mirrors": [],
            "next_id": 100, "mirror_credentials": []}


STATE = fresh_state()


def next_id():
    STATE["next_id"] += 1
    return STATE["next_id"]


def now():
    import datetime
    return datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def scrub(url):
    p = urllib.parse.urlsplit(url)
    if "@" in p.netloc:
        host = p.netloc.split("@", 1)[1]
        return urllib.parse.urlunsplit((p.scheme, "*****:*****@" + host, p.path, p.query, p.fragment))
    return url


def release_json(rel):
    base = "http://127.0.0.1:%d" % ARGS.port
    return {"tag_name": rel["tag_name"], "name": rel.get("name") or rel["tag_name"],
            "description": rel.get("description"), "created_at": rel["created_at"],
            "released_at": rel["created_at"],
            "_links": {"self": "%s/%s/-/releases/%s" % (base, PROJECT, urllib.parse.quote(rel["tag_name"]))},
            "assets": {"count": len(rel["links"]), "links": rel["links"]}}


def mirror_json(m):
    out = {k: v for k, v in m.items() if k != "url"}
    out["url"] = scrub(m["url"])
    return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY, as real servers answer: the handler writes the headers and the body
    # separately, and on a kept-alive connection Nagle held the body back until the client's
    # delayed ACK, 40 ms later, for every request
    disable_nagle_algorithm = True

    def log_message(self, fmt, *a):
        pass

    def reply(self, status, doc=None):
        body = b"" if doc is None else json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def violation(self, text):
        STATE["violations"].append("%s %s: %s" % (self.command, self.path, text))

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        ctype = self.headers.get("Content-Type", "")
        if not raw:
            return {}
        if ctype.startswith("application/json"):
            return json.loads(raw)
        if ctype.startswith("application/x-www-form-urlencoded"):
            out = {}
            for k, v in urllib.parse.parse_qsl(raw.decode(), keep_blank_values=True):
                m = re.fullmatch(r"variables\[([^\]]+)\]", k)
                if m:
                    out.setdefault("variables", {})[m.group(1)] = v
                else:
                    out[k] = v
            return out
        self.violation("unexpected Content-Type %r" % ctype)
        return {}

    def control(self):
        global STATE
        if self.path == "/_test/state":
            return self.reply(200, STATE)
        if self.path == "/_test/reset":
            self.body()
            STATE = fresh_state()
            return self.reply(200, {})
        if self.path == "/_test/preset":
            doc = self.body()
            for r in doc.get("releases", []):
                r.setdefault("links", [])
                r.setdefault("created_at", now())
                STATE["releases"][r["tag_name"]] = r
            for m in doc.get("mirrors", []):
                m["id"] = next_id()
                m.setdefault("update_status", "finished")
                m.setdefault("last_error", None)
                m.setdefault("last_update_started_at", "2026-01-01T00:00:00.000Z")
                m.setdefault("last_successful_update_at", "2026-01-01T00:00:05.000Z")
                m.setdefault("enabled", True)
                STATE["mirrors"].append(m)
            return self.reply(200, {})
        return self.reply(404, {"message": "404 Not Found"})

    def handle_any(self):
        with LOCK:
            if self.path.startswith("/_test/"):
                return self.control()
            return self.api()

    def api(self):
        raw_path, _, query = self.path.partition("?")
        if not raw_path.startswith("/api/v4/"):
            self.violation("not under /api/v4")
            return self.reply(404, {"message": "404 Not Found"})
        path = raw_path[len("/api/v4"):]
        route = None
        for r in ROUTES:
            m = re.fullmatch(r[1], path)
            if r[0] == self.command and m:
                route, params = r, m.groupdict()
                break
        body = self.body()
        auth = "none"
        tok = self.headers.get("PRIVATE-TOKEN")
        jtok = self.headers.get("JOB-TOKEN")
        if tok is not None:
            auth = "private" if tok == ARGS.private_token else "bad"
        elif jtok is not None:
            auth = "job" if jtok == ARGS.job_token else "bad"
        STATE["requests"].append({"method": self.command, "path": self.path, "auth": auth,
                                  "secret_in_url": any(s and s in self.path for s in
                                                       (ARGS.private_token, ARGS.job_token, ARGS.trigger_token))})
        if route is None:
            self.violation("no such endpoint in the GitLab API documentation")
            return self.reply(404, {"message": "404 Not Found"})
        _, _, required, known, kind, job_ok = route
        for f in sorted(required - set(body)):
            self.violation("required field %r missing" % f)
        for f in sorted(set(body) - known):
            self.violation("unknown field %r" % f)
        project = urllib.parse.unquote(params["p"])
        if project not in (PROJECT, PROJECT_ID):
            return self.reply(404, {"message": "404 Project Not Found"})
        if kind == "token":
            if auth in ("none", "bad"):
                return self.reply(401, {"message": "401 Unauthorized"})
            if auth == "job" and not job_ok:
                return self.reply(403, {"message": "403 Forbidden"})
        elif body.get("token") != ARGS.trigger_token:
            return self.reply(404, {"message": "404 Not Found"})
        return self.dispatch(route, params, body, query)

    def dispatch(self, route, params, body, query):
        method, rx = route[0], route[1]
        rel = STATE["releases"]
        if rx.endswith("/releases") and method == "POST":
            tag = body.get("tag_name")
            if tag in rel:
                return self.reply(409, {"message": "Release already exists"})
            if tag not in KNOWN_TAGS and not body.get("ref"):
                return self.reply(422, {"message": "Ref is not specified"})
            links = []
            for l in (body.get("assets") or {}).get("links", []):
                if "name" not in l or "url" not in l:
                    self.violation("asset link without name or url")
                if l.get("link_type", "other") not in LINK_TYPES:
                    self.violation("asset link_type %r" % l.get("link_type"))
                links.append(dict(l, id=next_id(), link_type=l.get("link_type", "other")))
            r = {"tag_name": tag, "name": body.get("name"), "description": body.get("description"),
                 "links": links, "created_at": now()}
            rel[tag] = r
            return self.reply(201, release_json(r))
        tag = urllib.parse.unquote(params.get("tag", "")) if "tag" in params else None
        if tag is not None:
            r = rel.get(tag)
            if r is None:
                return self.reply(404, {"message": "404 Not Found"})
            if rx.endswith("(?P<tag>[^/]+)"):
                if method == "PUT":
                    for k in ("name", "description"):
                        if k in body:
                            r[k] = body[k]
                return self.reply(200, release_json(r))
            if rx.endswith("/assets/links"):
                if method == "GET":
                    return self.reply(200, r["links"])
                if any(l["name"] == body.get("name") for l in r["links"]):
                    return self.reply(400, {"message": {"name": ["has already been taken"]}})
                l = dict(body, id=next_id(), link_type=body.get("link_type", "other"))
                r["links"].append(l)
                return self.reply(201, l)
            lid = int(params["lid"])
            for l in r["links"]:
                if l["id"] == lid:
                    l.update(body)
                    return self.reply(200, l)
            return self.reply(404, {"message": "404 Not found"})
        if rx.endswith("/trigger/pipeline"):
            pid = next_id()
            ref = body["ref"]
            seq = ["pending", "running", "failed" if ref == "broken" else "success"]
            p = {"id": pid, "iid": pid - 100, "project_id": 42, "ref": ref, "sha": "a" * 40, "status": "created",
                 "source": "trigger", "web_url": "http://127.0.0.1:%d/%s/-/pipelines/%d" % (ARGS.port, PROJECT, pid),
                 "variables": body.get("variables", {}), "_seq": seq}
            STATE["pipelines"][str(pid)] = p
            return self.reply(201, {k: v for k, v in p.items() if not k.startswith("_") and k != "variables"})
        if "/pipelines/" in rx:
            p = STATE["pipelines"].get(params["pid"])
            if p is None:
                return self.reply(404, {"message": "404 Not found"})
            if rx.endswith("/jobs"):
                q = urllib.parse.parse_qs(query)
                scope = q.get("scope[]", [])
                jobs = [{"id": p["id"] * 10 + 1, "name": "build", "stage": "build", "status": "success",
                         "failure_reason": None, "web_url": "http://x/jobs/1"}]
                if p["status"] == "failed":
                    jobs.append({"id": p["id"] * 10 + 2, "name": "unit-tests", "stage": "test", "status": "failed",
                                 "failure_reason": "script_failure",
                                 "web_url": "http://127.0.0.1:%d/%s/-/jobs/%d" % (ARGS.port, PROJECT, p["id"] * 10 + 2)})
                if scope:
                    jobs = [j for j in jobs if j["status"] in scope]
                return self.reply(200, jobs)
            if p["_seq"]:
                p["status"] = p["_seq"].pop(0)
            return self.reply(200, {k: v for k, v in p.items() if not k.startswith("_") and k != "variables"})
        if rx.endswith("/remote_mirrors"):
            if method == "GET":
                return self.reply(200, [mirror_json(m) for m in STATE["mirrors"]])
            u = urllib.parse.urlsplit(body["url"])
            STATE["mirror_credentials"].append({"username": urllib.parse.unquote(u.username or ""),
                                                "password": urllib.parse.unquote(u.password or "")})
            m = {"id": next_id(), "url": body["url"], "enabled": body.get("enabled", False),
                 "only_protected_branches": body.get("only_protected_branches", False),
                 "keep_divergent_refs": body.get("keep_divergent_refs", False),
                 "auth_method": body.get("auth_method", "password"), "update_status": "none",
                 "last_error": None, "last_update_at": None, "last_update_started_at": None,
                 "last_successful_update_at": None}
            STATE["mirrors"].append(m)
            return self.reply(201, mirror_json(m))
        mid = int(params["mid"])
        m = next((x for x in STATE["mirrors"] if x["id"] == mid), None)
        if m is None:
            return self.reply(404, {"message": "404 Not found"})
        if rx.endswith("/sync"):
            m["update_status"] = "started"
            m["last_update_started_at"] = now()
            m["_polls"] = 2
            return self.reply(204)
        if method == "PUT":
            m.update(body)
            return self.reply(200, mirror_json(m))
        if m.get("_polls"):
            m["_polls"] -= 1
            if m["_polls"] == 0:
                m["last_update_at"] = now()
                if "unreachable" in m["url"]:
                    m["update_status"] = "failed"
                    m["last_error"] = ("fatal: unable to access '%s/': Could not resolve host"
                                       % scrub(m["url"]))
                else:
                    m["update_status"] = "finished"
                    m["last_error"] = None
                    m["last_successful_update_at"] = m["last_update_at"]
        return self.reply(200, mirror_json({k: v for k, v in m.items() if not k.startswith("_")}))

    do_GET = handle_any
    do_POST = handle_any
    do_PUT = handle_any


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--private-token", required=True)
    ap.add_argument("--job-token", required=True)
    ap.add_argument("--trigger-token", required=True)
    ARGS = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ARGS.port = srv.server_address[1]
    print("PORT %d" % ARGS.port, flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
