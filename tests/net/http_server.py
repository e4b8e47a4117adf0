#!/usr/bin/python3
"""Scripted HTTP/1.1 keep-alive server for the net tests.

Serves plain HTTP on 127.0.0.1 (and optionally HTTPS and a unix socket), then prints
"PORT <n>", "TLSPORT <n>" (with --tls-cert/--tls-key), "MTLSPORT <n>" (with
--client-ca as well: mutual TLS) and "READY" on stdout. With --nagle the plain port leaves
Nagle's algorithm on, so that a response's headers and body, written separately, meet the
client's delayed ACK. Behaviours by path:

  /echo                      JSON of method, path, headers, body, conn (connection number)
  /conn                      the number of the connection serving the request
  /flaky/<key>/<n>           503 for the first n requests with that key, then 200 "ok"
  /ratelimit/<key>           429 with Retry-After: 1 the first time, then 200 "ok"
  /status/<code>/<key>       answers <code>, counting requests under key
  /hits/<key>                how many requests /flaky, /ratelimit, /status, /reset saw for key
  /slow?ms=N                 waits N ms, then 200 "slow"
  /reset/<key>/<n>           the first n times: half a response, then a TCP reset; then 200 "ok"
  /stream?chunks=N&ms=M      chunked body of N pieces "chunk-i\\n", M ms apart
  /big?bytes=N               N bytes of "x"
  /headers                   sets repeated and mixed-case headers
  /redirect?to=URL&code=N    answers N (302 by default) with Location: URL
  /otherport                 the port of a second plain server (the same behaviours)
  /drop/<key>                reads the request, counts it, closes the connection unanswered
"""
import argparse
import json
import os
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
hits = {}
conn_counter = [0]
other_port = [0]


def bump(key):
    with lock:
        hits[key] = hits.get(key, 0) + 1
        return hits[key]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY, as real servers answer: the handler writes the headers and the body
    # separately, and on a kept-alive connection Nagle held the body back until the client's
    # delayed ACK, 40 ms later, for every request
    disable_nagle_algorithm = True

    def setup(self):
        super().setup()
        with lock:
            conn_counter[0] += 1
            self.conn_id = conn_counter[0]

    def log_message(self, fmt, *args):
        pass

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length", "0") or 0)
        return self.rfile.read(n) if n else b""

    def reply(self, status, body=b"", ctype="text/plain", headers=()):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        body = self.read_body()
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        parts = url.path.strip("/").split("/")
        name = parts[0]
        try:
            if name == "echo":
                doc = {
                    "method": self.command,
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body.decode("utf-8", "replace"),
                    "conn": self.conn_id,
                }
                self.reply(200, json.dumps(doc), "application/json")
            elif name == "conn":
                self.reply(200, str(self.conn_id))
            elif name == "flaky":
                n = bump(parts[1])
                if n <= int(parts[2]):
                    self.reply(503, "busy")
                else:
                    self.reply(200, "ok")
            elif name == "ratelimit":
                if bump(parts[1]) == 1:
                    self.reply(429, "slow down", headers=[("Retry-After", "1")])
                else:
                    self.reply(200, "ok")
            elif name == "status":
                bump(parts[2])
                self.reply(int(parts[1]), "status " + parts[1])
            elif name == "hits":
                with lock:
                    self.reply(200, str(hits.get(parts[1], 0)))
            elif name == "slow":
                time.sleep(int(q.get("ms", "1000")) / 1000.0)
                self.reply(200, "slow")
            elif name == "reset":
                if bump(parts[1]) <= int(parts[2]):
                    self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
                    self.wfile.flush()
                    time.sleep(0.05)
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    self.close_connection = True
                else:
                    self.reply(200, "ok")
            elif name == "stream":
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for i in range(int(q.get("chunks", "3"))):
                    piece = ("chunk-%d\n" % i).encode()
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    self.wfile.flush()
                    time.sleep(int(q.get("ms", "20")) / 1000.0)
                self.wfile.write(b"0\r\n\r\n")
            elif name == "big":
                self.reply(200, b"x" * int(q.get("bytes", "1000")))
            elif name == "redirect":
                self.reply(int(q.get("code", "302")), "moved", headers=[("Location", q.get("to", "/"))])
            elif name == "drop":
                bump(parts[1])
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
            elif name == "otherport":
                self.reply(200, str(other_port[0]))
            elif name == "headers":
                self.reply(200, "h", headers=[("X-Multi", "a"), ("X-Multi", "b"), ("X-MiXeD-Case", "v"),
                                              ("Set-Cookie", "session=sekrit")])
            else:
                self.reply(404, "no such path")
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass


class UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass


class NagleHandler(Handler):
    disable_nagle_algorithm = False


class UnixHandler(Handler):
    disable_nagle_algorithm = False  # not a TCP socket

    def address_string(self):
        return "unix"


def serve(server):
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--unix")
    ap.add_argument("--client-ca", help="also serve mutual TLS, requiring client certificates from this CA")
    ap.add_argument("--nagle", action="store_true",
                    help="leave Nagle's algorithm on, as many small servers do (Python's own among them)")
    args = ap.parse_args()

    plain = Server(("127.0.0.1", 0), NagleHandler if args.nagle else Handler)
    serve(plain)
    other = Server(("127.0.0.1", 0), Handler)
    serve(other)
    other_port[0] = other.server_address[1]
    print("PORT %d" % plain.server_address[1])
    if args.tls_cert:
        tls = Server(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
        serve(tls)
        print("TLSPORT %d" % tls.server_address[1])
    if args.tls_cert and args.client_ca:
        mtls = Server(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(args.client_ca)
        mtls.socket = ctx.wrap_socket(mtls.socket, server_side=True)
        serve(mtls)
        print("MTLSPORT %d" % mtls.server_address[1])
    if args.unix:
        if os.path.exists(args.unix):
            os.unlink(args.unix)
        serve(UnixServer(args.unix, UnixHandler))
    print("READY", flush=True)
    # Runs until the test program closes our stdin or kills us.
    try:
        sys.stdin.read()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
