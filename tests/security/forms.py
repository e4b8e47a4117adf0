#!/usr/bin/env python3
"""Prints, one per line, every form of each secret given as an argument that must never appear
in pipewright's output: the raw value, its base64 and base64url (also the digits that depend on
the value alone when it sits inside a longer blob at any alignment), URL-encoded (both ways)
and JSON-escaped. Arguments starting with "=" are printed as they are (fixed markers such as the
prefix of a token a test server issues)."""
import base64
import json
import re
import sys
import urllib.parse

out = set()
for v in sys.argv[1:]:
    if v.startswith("="):
        out.add(v[1:])
        continue
    b = v.encode()
    out.add(v)
    b64 = {base64.b64encode(b).decode()}
    for k in range(3):
        # the digits of base64(k bytes + v + ...) that depend on v alone
        enc = base64.b64encode(b"\0" * k + b + b"\0\0\0").decode()
        first, end = (8 * k + 5) // 6, (8 * (k + len(b))) // 6
        b64.add(enc[first:end])
    # and the same in base64url (Docker's X-Registry-Auth, JWTs)
    out |= b64 | {x.replace("+", "-").replace("/", "_").rstrip("=") for x in b64}
    q = urllib.parse.quote(v, safe="")
    out.add(q)
    out.add(re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), q))
    out.add(urllib.parse.quote_plus(v))
    out.add(json.dumps(v)[1:-1])
    out.add(json.dumps(v)[1:-1].replace("/", "\\/"))
for f in sorted(x for x in out if x):
    print(f)
