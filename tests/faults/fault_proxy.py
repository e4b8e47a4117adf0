#!/usr/bin/env python3
"""A fault-injecting HTTP/1.1 proxy for the tests of every remote connector.

Listens on 127.0.0.1 at an ephemeral port (prints "PORT n" then "READY"; stops when stdin
closes) and forwards each request to the upstream: --upstream unix:/path/sock or
tcp:host:port (--upstream-tls CA to reach an HTTPS upstream; --tls CERT KEY to serve HTTPS).
One request per client connection (the upstream request carries Connection: close, and so does
the answer), so that every request passes the rules.

Rules (POST /_faults/rules on the proxy itself, a JSON list; GET /_faults/state: what was
done) apply to the first requests whose "METHOD path?query" matches the regex `match`, `times`
times (default 1), in order. Actions:
  refuse                    accept and close at once (RST): a connection refused/reset
  status  code, headers, body   answer without asking the upstream: 429 + Retry-After, 5xx
  body    text              a 200 application/json answer with this (malformed) body
  truncate n                forward; send the answer's head and n bytes of its body with a
                            Content-Length of the whole, then close: a truncated body
  reset   n                 forward; send n bytes of the answer, then RST mid-response
  delay   seconds           wait that long before forwarding: slower than a deadline
  cut     n                 forward a streamed answer; close after n body bytes (a log or
                            watch stream cut mid-line); the head is passed whole
"""
import argparse
import json
import os
import re
import socket
import ssl
import struct
import sys
import threading
import time

lock = threading.Lock()
rules = []
done = []  # "action METHOD path"
args = None


def upstream_connect():
    u = args.upstream
    if u.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(u[5:])
        return s
    _, host, port = u.split(":")
    s = socket.create_connection((host, int(port)))
    if args.upstream_tls:
        ctx = ssl.create_default_context(cafile=args.upstream_tls)
        ctx.check_hostname = False
        s = ctx.wrap_socket(s)
    return s


def read_head(f):
    lines = []
    while True:
        line = f.readline(65536)
        if not line:
            return None
        lines.append(line)
        if line in (b"\r\n", b"\n"):
            return lines


def read_body(f, headers):
    te = headers.get("transfer-encoding", "").lower()
    if "chunked" in te:
        out = b""
        while True:
            size_line = f.readline()
            out += size_line
            n = int(size_line.split(b";")[0].strip() or b"0", 16)
            if n == 0:
                while True:
                    t = f.readline()
                    out += t
                    if t in (b"\r\n", b"\n", b""):
                        return out
            out += f.read(n + 2)
    n = int(headers.get("content-length", "0") or 0)
    return f.read(n) if n else b""


def parse_headers(lines):
    h = {}
    for line in lines[1:]:
        if b":" in line:
            k, v = line.decode("latin-1").split(":", 1)
            h[k.strip().lower()] = v.strip()
    return h


def take_rule(key):
    with lock:
        for r in rules:
            if r.get("times", 1) > 0 and re.search(r.get("match", "."), key):
                r["times"] = r.get("times", 1) - 1
                done.append("%s %s" % (r["action"], key))
                return dict(r)
    return None


def rst_close(s):
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    s.close()


def send_answer(c, code, headers, body):
    body = body.encode() if isinstance(body, str) else body
    head = "HTTP/1.1 %d Fault\r\n" % code
    for k, v in headers.items():
        head += "%s: %s\r\n" % (k, v)
    head += "Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
    c.sendall(head.encode() + body)


def control(c, method, path, body):
    global rules
    if method == "POST" and path == "/_faults/rules":
        with lock:
            rules = json.loads(body or b"[]")
        return send_answer(c, 200, {"Content-Type": "application/json"}, "{}")
    if path == "/_faults/state":
        with lock:
            st = {"done": list(done), "pending": [r for r in rules if r.get("times", 1) > 0]}
        return send_answer(c, 200, {"Content-Type": "application/json"}, json.dumps(st))
    return send_answer(c, 404, {}, "")


def handle(c):
    f = c.makefile("rb")
    head = read_head(f)
    if not head:
        c.close()
        return
    req_line = head[0].decode("latin-1").split()
    method, target = req_line[0], req_line[1]
    headers = parse_headers(head)
    body = read_body(f, headers)
    if target.startswith("/_faults/"):
        control(c, method, target, body)
        c.close()
        return
    key = "%s %s" % (method, target)
    r = take_rule(key)
    act = r["action"] if r else None
    if act == "refuse":
        rst_close(c)
        return
    if act == "status":
        send_answer(c, r.get("code", 503), r.get("headers", {}), r.get("body", ""))
        c.close()
        return
    if act == "body":
        send_answer(c, r.get("code", 200), {"Content-Type": "application/json"}, r.get("text", ""))
        c.close()
        return
    if act == "delay":
        time.sleep(float(r.get("seconds", 5)))
    # forward with Connection: close
    out = [head[0]]
    for line in head[1:-1]:
        if not line.lower().startswith(b"connection:"):
            out.append(line)
    out.append(b"Connection: close\r\n\r\n")
    try:
        u = upstream_connect()
        u.sendall(b"".join(out) + body)
    except OSError:
        send_answer(c, 502, {}, "upstream unreachable")
        c.close()
        return
    uf = u.makefile("rb")
    rhead = read_head(uf) or []
    rh = b"".join(rhead)
    try:
        if act == "reset":
            data = rh + uf.read(max(0, int(r.get("n", 10)) - len(rh)))
            c.sendall(data[: int(r.get("n", 10))])
            time.sleep(0.05)
            rst_close(c)
            u.close()
            return
        if act == "truncate":
            whole = read_body(uf, parse_headers(rhead)) if rhead else b""
            heads = [l for l in rhead[:-1] if not l.lower().startswith((b"content-length:",
                                                                         b"transfer-encoding:"))]
            c.sendall(b"".join(heads) + b"Content-Length: %d\r\n\r\n" % len(whole)
                      + whole[: int(r.get("n", 5))])
            time.sleep(0.05)
            c.close()
            u.close()
            return
        c.sendall(rh)
        limit = int(r.get("n", 100)) if act == "cut" else -1
        sent = 0
        while True:
            chunk = uf.read1(65536)
            if not chunk:
                break
            if limit >= 0 and sent + len(chunk) >= limit:
                c.sendall(chunk[: limit - sent])
                time.sleep(0.05)
                rst_close(c)
                u.close()
                return
            c.sendall(chunk)
            sent += len(chunk)
    except OSError:
        pass
    u.close()
    c.close()


def main():
    global args
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--upstream-tls")
    ap.add_argument("--tls", nargs=2)
    args = ap.parse_args()
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    sctx = None
    if args.tls:
        sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        sctx.load_cert_chain(args.tls[0], args.tls[1])
    print("PORT %d" % ls.getsockname()[1], flush=True)
    print("READY", flush=True)

    def serve():
        while True:
            c, _ = ls.accept()

            def run(c=c):
                try:
                    if sctx:
                        c = sctx.wrap_socket(c, server_side=True)
                    handle(c)
                except Exception:  # a client that went away
                    try:
                        c.close()
                    except OSError:
                        pass
            threading.Thread(target=run, daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    sys.stdin.read()
    os._exit(0)


if __name__ == "__main__":
    main()
