#!/usr/bin/env python3
"""A local stand-in for GitHub's REST API for the github connector's tests.

Two HTTP servers on 127.0.0.1, ephemeral ports: the API and the upload host (as
api.github.com and uploads.github.com). Every request is checked against the official
description (api.github.com.json): the method and path must be an operation of the spec,
path parameters of type integer must be integers, required query parameters present, and a
JSON body must hold the required fields of the operation's requestBody schema and no field
the schema does not know. Violations are answered 400 and recorded in /_test/state.

Flows: releases (drafts invisible to the tag endpoint, 422 already_exists for a published
tag, pagination with Link headers), release assets on the upload host (422 already_exists,
state starter after a cut upload), commit statuses, deployments and their statuses, issue
comments, workflow dispatch with runs that progress queued -> in_progress -> completed.

Faults (POST /_test/faults, JSON): secondary (n requests answered 403 + retry-after),
secondary_429 (the same as 429), primary (n answered 403 with x-ratelimit-remaining 0),
primary_reset_in (seconds until that limit resets, default 1), upload_reset (n uploads cut after half the body, the connection reset), upload_502 (n uploads
answered 502 after reading the body), concurrent_draft (a parallel run's draft for the same
tag appears while we create ours), race_publish (another run publishes the tag between our
lookup and our create: 422 already_exists), page_max (largest per_page), no_run_details (dispatch
answers 204), foreign_next (Link next on the upload host's origin), foreign_upload (release upload_url on
another host name), conclusion (of dispatched runs), run_polls (GETs before a run completes).

GitHub App: GET /repos/{owner}/{repo}/installation and POST
/app/installations/{id}/access_tokens accept only an RS256 JWT of --app-id signed by the key of
--app-public-key (verified with openssl, iss/iat/exp checked); the installation tokens they
issue are then accepted like --token.

Prints "API <port>", "UPLOADS <port>" and "READY" on stdout; stops when stdin closes.
"""
import argparse
import base64
import gzip
import json
import os
import subprocess
import tempfile
import re
import socket
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import io

LOCK = threading.Lock()
STATE = {}
FAULTS = {}
ROUTES = []  # (regex, method, operationId, op, param_types)
SPEC = {}
TOKEN = ""
PORTS = {}
APP = {"id": None, "pub": None}


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def check_jwt(jwt):
    """Raises ValueError unless jwt is an RS256 JWT of the app, signed by its key, valid now."""
    parts = jwt.split(".")
    if len(parts) != 3:
        raise ValueError("not a JWT")
    header, claims = json.loads(b64url_decode(parts[0])), json.loads(b64url_decode(parts[1]))
    if header.get("alg") != "RS256":
        raise ValueError("alg is not RS256")
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "in"), "wb") as f:
            f.write((parts[0] + "." + parts[1]).encode())
        with open(os.path.join(d, "sig"), "wb") as f:
            f.write(b64url_decode(parts[2]))
        r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", APP["pub"], "-signature",
                            os.path.join(d, "sig"), os.path.join(d, "in")], capture_output=True)
        if r.returncode != 0:
            raise ValueError("bad signature")
    now = time.time()
    if str(claims.get("iss")) != str(APP["id"]):
        raise ValueError("iss is not the app id")
    if not (claims["iat"] <= now + 5 and claims["exp"] > now and claims["exp"] - claims["iat"] <= 600):
        raise ValueError("iat/exp out of range")
    return claims


def resolve(x):
    while isinstance(x, dict) and "$ref" in x:
        node = SPEC
        for part in x["$ref"][2:].split("/"):
            node = node[part]
        x = node
    return x


def load_spec(path):
    global SPEC
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        SPEC = json.load(f)
    routes = []
    for tmpl, item in SPEC["paths"].items():
        names = re.findall(r"\{([^}]+)\}", tmpl)
        rx = "^" + re.sub(r"\\\{[^}]+\\\}", "([^/]+)", re.escape(tmpl)) + "$"
        literal = len([s for s in tmpl.split("/") if s and not s.startswith("{")])
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            types = {}
            for p in op.get("parameters", []) + item.get("parameters", []):
                p = resolve(p)
                types[(p["in"], p["name"])] = (resolve(p.get("schema", {})).get("type"), p.get("required", False))
            routes.append((literal, re.compile(rx), method.upper(), op.get("operationId"), op, names, types))
    routes.sort(key=lambda r: -r[0])
    ROUTES.extend(routes)


def check_spec(method, path, query, body, ctype):
    """Returns (operationId, path params) or raises ValueError with the reason."""
    matched_path = False
    for _, rx, m, opid, op, names, types in ROUTES:
        mo = rx.match(path)
        if not mo:
            continue
        matched_path = True
        if m != method:
            continue
        params = dict(zip(names, [urllib.parse.unquote(v) for v in mo.groups()]))
        for (where, name), (typ, req) in types.items():
            if where == "path" and typ == "integer" and not re.fullmatch(r"[0-9]+", params.get(name, "")):
                raise ValueError("%s %s: path parameter %s must be an integer" % (method, path, name))
            if where == "query" and req and name not in query:
                raise ValueError("%s %s: required query parameter %s missing" % (method, path, name))
        rb = resolve(op.get("requestBody", {}))
        content = rb.get("content", {})
        if "application/json" in content and body is not None:
            schema = resolve(content["application/json"].get("schema", {}))
            if not isinstance(body, dict):
                raise ValueError("%s %s: body must be a JSON object" % (method, path))
            for f in schema.get("required", []):
                if f not in body:
                    raise ValueError("%s %s (%s): required body field %s missing" % (method, path, opid, f))
            props = schema.get("properties", {})
            for f in body:
                if props and f not in props:
                    raise ValueError("%s %s (%s): body field %s is not in the schema" % (method, path, opid, f))
                ps = resolve(props.get(f, {}))
                if "enum" in ps and body[f] not in ps["enum"]:
                    raise ValueError("%s %s (%s): %s=%r is not one of %r" % (method, path, opid, f, body[f], ps["enum"]))
        elif rb.get("required") and body is None and "application/octet-stream" not in content:
            raise ValueError("%s %s (%s): a request body is required" % (method, path, opid))
        if "application/octet-stream" in content and not ctype:
            raise ValueError("%s %s (%s): Content-Type missing" % (method, path, opid))
        return opid, params
    if matched_path:
        raise ValueError("%s %s: method not in the spec for this path" % (method, path))
    raise ValueError("%s %s: path not in the spec" % (method, path))


def reset_state():
    STATE.clear()
    STATE.update({"next_id": 1000, "releases": {}, "assets": {}, "requests": [], "spec_errors": [],
                  "statuses": [], "deployments": {}, "deployment_statuses": [], "comments": [], "runs": {},
                  "dispatches": [], "auth_failures": 0, "uploads": []})
    FAULTS.clear()


def new_id():
    STATE["next_id"] += 1
    return STATE["next_id"]


def api_base():
    return "http://127.0.0.1:%d" % PORTS["api"]


def release_json(r):
    owner, repo = r["owner"], r["repo"]
    out = {k: v for k, v in r.items() if k not in ("owner", "repo")}
    out["url"] = "%s/repos/%s/%s/releases/%d" % (api_base(), owner, repo, r["id"])
    out["html_url"] = "https://github.example/%s/%s/releases/tag/%s" % (owner, repo, r["tag_name"])
    # foreign_upload: the answer names another host (reachable, but not the API's)
    out["upload_url"] = "http://%s:%d/repos/%s/%s/releases/%d/assets{?name,label}" % (
        "localhost" if FAULTS.get("foreign_upload") else "127.0.0.1", PORTS["uploads"], owner, repo, r["id"])
    out["assets"] = [asset_json(a) for a in STATE["assets"].values() if a["release_id"] == r["id"]]
    return out


def asset_json(a):
    return {k: v for k, v in a.items() if k not in ("data_sha",)}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY, as real servers answer: the handler writes the headers and the body
    # separately, and on a kept-alive connection Nagle held the body back until the client's
    # delayed ACK, 40 ms later, for every request
    disable_nagle_algorithm = True
    server_version = "fake-github"

    def log_message(self, *args):
        pass

    def send_json(self, code, doc, headers=None):
        data = b"" if doc is None else json.dumps(doc).encode()
        self.send_response(code)
        if doc is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        headers = dict({"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "4999"}, **(headers or {}))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def do_PUT(self):
        self.dispatch("PUT")

    def dispatch(self, method):
        u = urllib.parse.urlsplit(self.path)
        # GitHub Enterprise Server serves the API under /api/v3 and uploads under /api/uploads
        prefix = "/api/uploads" if self.server.kind == "uploads" else "/api/v3"
        if u.path.startswith(prefix + "/"):
            u = u._replace(path=u.path[len(prefix):])
            STATE.setdefault("ghes_requests", 0)
            STATE["ghes_requests"] += 1
        path, query = u.path, dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
        upload_host = self.server.kind == "uploads"
        if path.startswith("/_test/") and not upload_host:
            return self.control(method, path)
        raw = b""
        is_upload = upload_host and method == "POST"
        if not is_upload:
            raw = self.read_body()
        body = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                return self.send_json(400, {"message": "Problems parsing JSON"})
        with LOCK:
            STATE["requests"].append("%s %s%s%s" % (method, "uploads:" if upload_host else "", path,
                                                     "?" + u.query if u.query else ""))
        try:
            opid, params = check_spec(method, path, query, body, self.headers.get("Content-Type"))
        except ValueError as e:
            with LOCK:
                STATE["spec_errors"].append(str(e))
            if is_upload:
                self.read_body()
            return self.send_json(400, {"message": "not per the spec: " + str(e)})
        if upload_host != (opid == "repos/upload-release-asset"):
            with LOCK:
                STATE["spec_errors"].append("%s %s sent to the %s host" % (method, path, self.server.kind))
            return self.send_json(400, {"message": "wrong host"})
        auth = self.headers.get("Authorization", "")
        if opid in ("apps/get-repo-installation", "apps/create-installation-access-token"):
            try:
                check_jwt(auth[len("Bearer "):] if auth.startswith("Bearer ") else "")
                ok = True
            except (ValueError, KeyError, TypeError) as e:
                with LOCK:
                    STATE.setdefault("jwt_errors", []).append(str(e))
                ok = False
        else:
            ok = auth in ("Bearer " + TOKEN, "token " + TOKEN) or (
                auth.startswith("Bearer ") and auth[7:] in STATE.get("installation_tokens", []))
        if not ok:
            with LOCK:
                STATE["auth_failures"] += 1
            if is_upload:
                self.read_body()
            return self.send_json(401, {"message": "Bad credentials",
                                        "documentation_url": "https://docs.github.com/rest"})
        if self.headers.get("User-Agent", "") == "":
            return self.send_json(403, {"message": "Request forbidden by administrative rules. "
                                                   "Please make sure your request has a User-Agent header"})
        if self.rate_limited(is_upload):
            return
        handler = getattr(self, "op_" + re.sub(r"[^a-z]", "_", opid.split("/")[1]), None)
        if not handler:
            return self.send_json(501, {"message": "not in the fake: " + opid})
        with LOCK:
            return handler(params, query, body)

    def rate_limited(self, is_upload):
        with LOCK:
            for kind in ("secondary", "secondary_429", "primary"):
                if FAULTS.get(kind, 0) > 0:
                    FAULTS[kind] -= 1
                    break
            else:
                return False
            STATE.setdefault("rate_limited", 0)
            STATE["rate_limited"] += 1
        if is_upload:
            self.read_body()
        if kind == "primary":
            self.send_json(403, {"message": "API rate limit exceeded for user ID 1."},
                           {"x-ratelimit-remaining": "0",
                            "x-ratelimit-reset": str(int(time.time()) + int(FAULTS.get("primary_reset_in", 1)))})
        else:
            self.send_json(403 if kind == "secondary" else 429,
                           {"message": "You have exceeded a secondary rate limit. Please wait a few minutes "
                                       "before you try again."}, {"retry-after": "1"})
        return True

    # -- releases --------------------------------------------------------------------------
    def releases_of(self, p):
        return [r for r in STATE["releases"].values() if r["owner"] == p["owner"] and r["repo"] == p["repo"]]

    def paginate(self, items, query, path):
        per = min(int(query.get("per_page", 30)), int(FAULTS.get("page_max", 100)))
        page = int(query.get("page", 1))
        chunk = items[(page - 1) * per: page * per]
        headers = {}
        last = max(1, (len(items) + per - 1) // per)
        if page < last:
            q = dict(query)
            links = []
            for rel, n in (("next", page + 1), ("last", last)):
                q["page"] = str(n)
                base = api_base()
                if FAULTS.get("foreign_next"):
                    base = "http://127.0.0.1:%d" % PORTS["uploads"]
                links.append('<%s%s?%s>; rel="%s"' % (base, path, urllib.parse.urlencode(q), rel))
            headers["Link"] = ", ".join(links)
        return chunk, headers

    def op_list_releases(self, p, q, body):
        items = sorted(self.releases_of(p), key=lambda r: -r["id"])
        chunk, headers = self.paginate([release_json(r) for r in items], q, urllib.parse.urlsplit(self.path).path)
        self.send_json(200, chunk, headers)

    def op_get_release_by_tag(self, p, q, body):
        for r in self.releases_of(p):
            if r["tag_name"] == p["tag"] and not r["draft"]:
                return self.send_json(200, release_json(r))
        self.send_json(404, {"message": "Not Found"})

    def published_with_tag(self, p, tag, but=None):
        return [r for r in self.releases_of(p) if r["tag_name"] == tag and not r["draft"] and r["id"] != but]

    def op_create_release(self, p, q, body):
        if self.published_with_tag(p, body["tag_name"]):
            return self.send_json(422, {"message": "Validation Failed", "errors": [
                {"resource": "Release", "code": "already_exists", "field": "tag_name"}]})
        if FAULTS.pop("race_publish", False):
            # another run published this tag between our lookup and our create
            self.add_release(p["owner"], p["repo"], body["tag_name"], False, name="published by another run")
            return self.send_json(422, {"message": "Validation Failed", "errors": [
                {"resource": "Release", "code": "already_exists", "field": "tag_name"}]})
        if FAULTS.pop("concurrent_draft", False):
            twin = self.add_release(p["owner"], p["repo"], body["tag_name"], True, name="made by a parallel run")
            STATE["twin"] = twin["id"]
        r = self.add_release(p["owner"], p["repo"], body["tag_name"], bool(body.get("draft")),
                             name=body.get("name"), body=body.get("body"),
                             prerelease=bool(body.get("prerelease")),
                             target_commitish=body.get("target_commitish", "main"))
        if body.get("generate_release_notes"):
            r["body"] = (r["body"] or "") + "\n\n**Full Changelog**: generated"
        self.send_json(201, release_json(r))

    def add_release(self, owner, repo, tag, draft, name=None, body=None, prerelease=False, target_commitish="main"):
        rid = new_id()
        r = {"id": rid, "owner": owner, "repo": repo, "tag_name": tag, "name": name, "body": body,
             "draft": draft, "prerelease": prerelease, "target_commitish": target_commitish,
             "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
             "published_at": None if draft else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        STATE["releases"][rid] = r
        return r

    def release(self, p):
        r = STATE["releases"].get(int(p["release_id"]))
        if not r or r["owner"] != p["owner"] or r["repo"] != p["repo"]:
            self.send_json(404, {"message": "Not Found"})
            return None
        return r

    def op_update_release(self, p, q, body):
        r = self.release(p)
        if not r:
            return
        if body.get("draft") is False and r["draft"] and self.published_with_tag(p, body.get("tag_name", r["tag_name"]), r["id"]):
            return self.send_json(422, {"message": "Validation Failed", "errors": [
                {"resource": "Release", "code": "already_exists", "field": "tag_name"}]})
        for k in ("tag_name", "target_commitish", "name", "body", "draft", "prerelease"):
            if k in body:
                r[k] = body[k]
        if "draft" in body and body["draft"] is False:
            r["published_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            STATE.setdefault("published", []).append({"id": r["id"], "assets_at_publish": sorted(
                a["name"] for a in STATE["assets"].values() if a["release_id"] == r["id"] and a["state"] == "uploaded"),
                "make_latest": body.get("make_latest")})
        self.send_json(200, release_json(r))

    def op_delete_release(self, p, q, body):
        r = self.release(p)
        if not r:
            return
        del STATE["releases"][r["id"]]
        for aid in [a["id"] for a in STATE["assets"].values() if a["release_id"] == r["id"]]:
            del STATE["assets"][aid]
        STATE.setdefault("deleted_releases", []).append(r["id"])
        self.send_json(204, None)

    def op_list_release_assets(self, p, q, body):
        r = self.release(p)
        if not r:
            return
        items = sorted((asset_json(a) for a in STATE["assets"].values() if a["release_id"] == r["id"]),
                       key=lambda a: a["id"])
        chunk, headers = self.paginate(items, q, urllib.parse.urlsplit(self.path).path)
        self.send_json(200, chunk, headers)

    def op_delete_release_asset(self, p, q, body):
        a = STATE["assets"].pop(int(p["asset_id"]), None)
        if not a:
            return self.send_json(404, {"message": "Not Found"})
        STATE.setdefault("deleted_assets", []).append(a["name"])
        self.send_json(204, None)

    def new_asset(self, r, name, q, state, size):
        aid = new_id()
        a = {"id": aid, "release_id": r["id"], "name": name, "label": q.get("label") or "", "state": state,
             "content_type": self.headers.get("Content-Type"), "size": size, "download_count": 0,
             "url": "%s/repos/%s/%s/releases/assets/%d" % (api_base(), r["owner"], r["repo"], aid),
             "browser_download_url": "https://github.example/%s/%s/releases/download/%s/%s" % (
                 r["owner"], r["repo"], r["tag_name"], urllib.parse.quote(name))}
        STATE["assets"][aid] = a
        return a

    def op_upload_release_asset(self, p, q, body):
        # called with LOCK held; the body is still unread
        n = int(self.headers.get("Content-Length") or -1)
        r = STATE["releases"].get(int(p["release_id"]))
        if n < 0:
            return self.send_json(411, {"message": "Length Required"})
        name = q["name"]
        if not r:
            self.rfile.read(n)
            return self.send_json(404, {"message": "Not Found"})
        if any(a["name"] == name and a["release_id"] == r["id"] for a in STATE["assets"].values()):
            self.rfile.read(n)
            return self.send_json(422, {"message": "Validation Failed", "errors": [
                {"resource": "ReleaseAsset", "code": "already_exists", "field": "name"}]})
        if FAULTS.get("upload_reset", 0) > 0:
            FAULTS["upload_reset"] -= 1
            self.rfile.read(n // 2)
            self.new_asset(r, name, q, "starter", 0)
            STATE.setdefault("resets", 0)
            STATE["resets"] += 1
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.wfile = io.BytesIO()
            self.close_connection = True
            return
        data = self.rfile.read(n)
        if FAULTS.get("upload_502", 0) > 0:
            FAULTS["upload_502"] -= 1
            STATE.setdefault("upload_502s", 0)
            STATE["upload_502s"] += 1
            return self.send_json(502, {"message": "Server Error"})
        a = self.new_asset(r, name, q, "uploaded", len(data))
        STATE["uploads"].append({"name": name, "size": len(data), "content": data.decode("latin-1"),
                                 "content_type": a["content_type"], "release_id": r["id"]})
        self.send_json(201, asset_json(a))

    # -- statuses, deployments, comments -----------------------------------------------------
    def op_create_commit_status(self, p, q, body):
        s = dict(body, id=new_id(), sha=p["sha"], url="%s/repos/%s/%s/statuses/%s" % (
            api_base(), p["owner"], p["repo"], p["sha"]))
        s.setdefault("context", "default")
        STATE["statuses"].append(s)
        self.send_json(201, s)

    def op_create_deployment(self, p, q, body):
        if body["ref"] == "needs-merge":
            return self.send_json(202, {"message": "Auto-merged main into topic branch."})
        if body["ref"] == "conflict":
            return self.send_json(409, {"message": "Conflict merging main into topic."})
        d = dict(body, id=new_id(), url="%s/repos/%s/%s/deployments" % (api_base(), p["owner"], p["repo"]))
        STATE["deployments"][d["id"]] = d
        self.send_json(201, d)

    def op_create_deployment_status(self, p, q, body):
        if int(p["deployment_id"]) not in STATE["deployments"]:
            return self.send_json(404, {"message": "Not Found"})
        s = dict(body, id=new_id(), deployment_id=int(p["deployment_id"]))
        STATE["deployment_statuses"].append(s)
        self.send_json(201, s)

    def op_create_comment(self, p, q, body):
        if p["issue_number"] == "404":
            return self.send_json(404, {"message": "Not Found"})
        c = {"id": new_id(), "body": body["body"], "issue": int(p["issue_number"]),
             "html_url": "https://github.example/%s/%s/issues/%s#issuecomment-1" % (
                 p["owner"], p["repo"], p["issue_number"])}
        STATE["comments"].append(c)
        self.send_json(201, c)

    # -- GitHub App ---------------------------------------------------------------------------
    def op_get_repo_installation(self, p, q, body):
        self.send_json(200, {"id": 777, "app_id": int(APP["id"]), "account": {"login": p["owner"]},
                             "repository_selection": "selected"})

    def op_create_installation_access_token(self, p, q, body):
        if p["installation_id"] != "777":
            return self.send_json(404, {"message": "Not Found"})
        tok = "ghs_installation%04d_%s" % (len(STATE.setdefault("installation_tokens", [])), "x" * 20)
        STATE["installation_tokens"].append(tok)
        STATE.setdefault("token_requests", []).append(body or {})
        self.send_json(201, {"token": tok, "expires_at": time.strftime(
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600)), "permissions": {"contents": "write"},
            "repository_selection": "selected"})

    # -- workflows ----------------------------------------------------------------------------
    def op_create_workflow_dispatch(self, p, q, body):
        rid = new_id()
        run = {"id": rid, "status": "queued", "conclusion": None, "event": "workflow_dispatch",
               "head_branch": body["ref"], "workflow": p["workflow_id"], "polls": 0,
               "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "html_url": "https://github.example/%s/%s/actions/runs/%d" % (p["owner"], p["repo"], rid)}
        STATE["runs"][rid] = run
        STATE["dispatches"].append({"workflow": p["workflow_id"], "ref": body["ref"],
                                    "inputs": body.get("inputs"), "run": rid})
        if FAULTS.get("no_run_details") or not body.get("return_run_details"):
            return self.send_json(204, None)
        self.send_json(200, {"workflow_run_id": rid, "run_url": "%s/repos/%s/%s/actions/runs/%d" % (
            api_base(), p["owner"], p["repo"], rid), "html_url": run["html_url"]})

    def run_view(self, run):
        return {k: v for k, v in run.items() if k != "polls"}

    def op_get_workflow_run(self, p, q, body):
        run = STATE["runs"].get(int(p["run_id"]))
        if not run:
            return self.send_json(404, {"message": "Not Found"})
        run["polls"] += 1
        polls = int(FAULTS.get("run_polls", 2))
        if run["polls"] >= polls:
            run["status"], run["conclusion"] = "completed", FAULTS.get("conclusion", "success")
        elif run["polls"] >= 1:
            run["status"] = "in_progress"
        self.send_json(200, self.run_view(run))

    def op_list_workflow_runs(self, p, q, body):
        runs = [self.run_view(r) for r in sorted(STATE["runs"].values(), key=lambda r: -r["id"])
                if r["workflow"] == p["workflow_id"] and (not q.get("branch") or r["head_branch"] == q["branch"])]
        self.send_json(200, {"total_count": len(runs), "workflow_runs": runs})

    # -- control ------------------------------------------------------------------------------
    def control(self, method, path):
        raw = self.read_body()
        doc = json.loads(raw) if raw else {}
        with LOCK:
            if path == "/_test/reset":
                reset_state()
                return self.send_json(200, {})
            if path == "/_test/faults":
                FAULTS.update(doc)
                return self.send_json(200, FAULTS)
            if path == "/_test/seed":
                for r in doc.get("releases", []):
                    rel = self.add_release(r.get("owner", "octo"), r.get("repo", "app"), r["tag_name"],
                                           r.get("draft", False), name=r.get("name"))
                    for a in r.get("assets", []):
                        self.new_asset(rel, a["name"], {}, a.get("state", "uploaded"), a.get("size", 1))
                return self.send_json(200, {"ids": sorted(STATE["releases"])})
            if path == "/_test/spec-check":
                try:
                    opid, _ = check_spec(doc["method"], doc["path"], doc.get("query", {}), doc.get("body"),
                                         doc.get("content_type"))
                    return self.send_json(200, {"operation": opid})
                except ValueError as e:
                    return self.send_json(200, {"error": str(e)})
            if path == "/_test/state":
                st = dict(STATE)
                st["releases"] = [release_json(r) for r in sorted(STATE["releases"].values(), key=lambda r: r["id"])]
                st["assets"] = sorted(STATE["assets"].values(), key=lambda a: a["id"])
                st["deployments"] = list(STATE["deployments"].values())
                st["runs"] = list(STATE["runs"].values())
                st["faults"] = dict(FAULTS)
                return self.send_json(200, st)
        self.send_json(404, {"message": "unknown control path"})


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass


def main():
    global TOKEN
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--app-id")
    ap.add_argument("--app-public-key")
    a = ap.parse_args()
    TOKEN = a.token
    APP["id"], APP["pub"] = a.app_id, a.app_public_key
    load_spec(a.spec)
    reset_state()
    api = Server(("127.0.0.1", 0), Handler)
    api.kind = "api"
    up = Server(("127.0.0.1", 0), Handler)
    up.kind = "uploads"
    PORTS["api"] = api.server_address[1]
    PORTS["uploads"] = up.server_address[1]
    for s in (api, up):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print("API %d" % PORTS["api"])
    print("UPLOADS %d" % PORTS["uploads"])
    print("READY", flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
