#!/usr/bin/env python3
"""Checks recorded Engine API requests against the official swagger description.

Usage: spec_check.py SPEC.yaml REQUESTS.jsonl [--allow-empty]
Each line of REQUESTS is {"method", "path", "body"} (body: JSON text or null). For every
request: the path (after the /vX.Y prefix) matches a documented path, the method is
documented for it, every query parameter is declared, and a JSON body's keys (recursively
for HostConfig) are properties of the documented schema with the documented types.
Podman's own endpoints (/libpod/...) are outside the Docker spec and are only counted.
Exits non-zero with one line per violation.
"""
import json
import re
import sys
import urllib.parse

import yaml


def resolve(spec, schema):
    """Flattens $ref and allOf into one {properties, type} dict."""
    if schema is None:
        return {}
    if "$ref" in schema:
        name = schema["$ref"].split("/")[-1]
        return resolve(spec, spec["definitions"][name])
    if "allOf" in schema:
        out = {"type": "object", "properties": {}}
        for part in schema["allOf"]:
            r = resolve(spec, part)
            out["properties"].update(r.get("properties", {}))
        return out
    return schema


TYPES = {"string": str, "integer": int, "boolean": bool, "array": list, "object": dict, "number": (int, float)}


def check_value(spec, schema, value, where, errors):
    schema = resolve(spec, schema)
    t = schema.get("type")
    if t and t in TYPES:
        ok = isinstance(value, TYPES[t]) and not (t in ("integer", "number") and isinstance(value, bool))
        if not ok:
            errors.append("%s: %r is not of type %s" % (where, value, t))
            return
    if isinstance(value, dict) and "properties" in schema:
        for k, v in value.items():
            if k not in schema["properties"]:
                errors.append("%s: unknown property %s" % (where, k))
                continue
            check_value(spec, schema["properties"][k], v, where + "." + k, errors)
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            check_value(spec, schema["items"], v, "%s[%d]" % (where, i), errors)


def template_regex(template, name_any):
    out = "^"
    for part in re.split(r"(\{[^}]+\})", template):
        if part.startswith("{"):
            out += ".+" if (name_any and part == "{name}") else "[^/]+"
        else:
            out += re.escape(part)
    return out + "$"


def match_path(spec, path):
    for template in spec["paths"]:
        if re.match(template_regex(template, False), path):
            return template
    # image names hold slashes: /images/{name}/json etc.
    for template in spec["paths"]:
        if "{name}" in template and re.match(template_regex(template, True), path):
            return template
    return None


def main():
    spec = yaml.safe_load(open(sys.argv[1]))
    errors = []
    checked = libpod = 0
    for n, line in enumerate(open(sys.argv[2]), 1):
        if not line.strip():
            continue
        req = json.loads(line)
        url = urllib.parse.urlsplit(req["path"])
        path = url.path
        if path.startswith("/v4.0.0/libpod/"):
            libpod += 1
            continue
        m = re.match(r"^/v(\d+\.\d+)(/.*)$", path)
        if m:
            path = m.group(2)
        template = match_path(spec, path)
        where = "%s %s" % (req["method"], req["path"][:120])
        if not template:
            errors.append("%s: path not in the spec" % where)
            continue
        op = spec["paths"][template].get(req["method"].lower())
        if not op:
            errors.append("%s: method not documented for %s" % (where, template))
            continue
        params = {p["name"]: p for p in op.get("parameters", [])}
        for name, values in urllib.parse.parse_qs(url.query, keep_blank_values=True).items():
            p = params.get(name)
            if not p or p["in"] != "query":
                errors.append("%s: query parameter %s not declared" % (where, name))
                continue
            if p.get("type") == "integer" and not all(re.match(r"^-?\d+$", v) for v in values):
                errors.append("%s: query parameter %s is not an integer" % (where, name))
            if p.get("type") == "boolean" and not all(v in ("0", "1", "true", "false") for v in values):
                errors.append("%s: query parameter %s is not a boolean" % (where, name))
            if name in ("labels", "buildargs"):
                for v in values:
                    d = json.loads(v)
                    if not isinstance(d, dict) or not all(isinstance(x, str) for x in d.values()):
                        errors.append("%s: %s must be a JSON map of strings" % (where, name))
        for name, p in params.items():
            if p.get("required") and p["in"] == "query" and name not in urllib.parse.parse_qs(url.query):
                errors.append("%s: required query parameter %s missing" % (where, name))
        body_params = [p for p in op.get("parameters", []) if p["in"] == "body"]
        if req.get("body") is not None and body_params and "schema" in body_params[0]:
            body = json.loads(req["body"])
            check_value(spec, body_params[0]["schema"], body, where + " body", errors)
        elif body_params and body_params[0].get("required") and req.get("body") is None and \
                body_params[0].get("schema", {}).get("type") != "string":
            errors.append("%s: required body missing" % where)
        checked += 1
    for e in errors:
        print("spec_check:", e)
    print("spec_check: %d requests checked against the spec, %d Podman-only, %d violations" % (checked, libpod, len(errors)))
    allow_empty = len(sys.argv) > 3 and sys.argv[3] == "--allow-empty"
    return 1 if errors or (checked == 0 and not allow_empty) else 0


if __name__ == "__main__":
    sys.exit(main())
