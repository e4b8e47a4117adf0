#!/usr/bin/env python3
"""Validates Kubernetes objects against the official OpenAPI v2 description
(tests/specs/kubernetes/swagger.json.gz): $refs resolved, types, required fields, enums,
quantities, and unknown fields rejected as the API server's strict field validation does.

As a program: reads YAML documents (or JSON) on stdin and prints one line per error,
"<doc index> <kind> <path>: <problem>"; exits 1 when there was any."""
import gzip
import json
import os
import re
import sys

# The official description, kept gzipped in the repository (tests/specs/kubernetes, with its
# licence and source); PW_K8S_SWAGGER names another copy.
SPEC = os.environ.get("PW_K8S_SWAGGER") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "specs", "kubernetes", "swagger.json.gz")

QUANTITY = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(([KMGTPE]i)|[numkMGTPE]|[eE][+-]?[0-9]+)?$")

_defs = None
_by_gvk = {}


def definitions():
    global _defs
    if _defs is None:
        opener = gzip.open if SPEC.endswith(".gz") else open
        with opener(SPEC, "rt", encoding="utf-8") as f:
            _defs = json.load(f)["definitions"]
        for name, d in _defs.items():
            for g in d.get("x-kubernetes-group-version-kind", []):
                api = g["version"] if not g["group"] else g["group"] + "/" + g["version"]
                _by_gvk.setdefault((api, g["kind"]), name)
    return _defs


def definition_for(obj):
    definitions()
    return _by_gvk.get((obj.get("apiVersion"), obj.get("kind")))


def _check(v, schema, path, errors, depth=0):
    defs = definitions()
    if depth > 60:
        return
    if "$ref" in schema:
        name = schema["$ref"].split("/")[-1]
        if name == "io.k8s.apimachinery.pkg.api.resource.Quantity":
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return
            if not isinstance(v, str) or not QUANTITY.match(v):
                errors.append("%s: %r is not a quantity" % (path, v))
            return
        if name == "io.k8s.apimachinery.pkg.util.intstr.IntOrString":
            if not isinstance(v, (int, str)) or isinstance(v, bool):
                errors.append("%s: %r is not an int or string" % (path, v))
            return
        _check(v, defs[name], path, errors, depth + 1)
        return
    t = schema.get("type")
    if t == "object" or "properties" in schema:
        if not isinstance(v, dict):
            errors.append("%s: expected an object, got %s" % (path, type(v).__name__))
            return
        props = schema.get("properties")
        for req in schema.get("required", []):
            if req not in v:
                errors.append("%s: required field %r is missing" % (path, req))
        for k, x in v.items():
            if props is not None and k in props:
                _check(x, props[k], path + "." + k, errors, depth + 1)
            elif "additionalProperties" in schema:
                _check(x, schema["additionalProperties"], path + "." + k, errors, depth + 1)
            elif props is not None:
                errors.append("%s: unknown field %r" % (path, k))
        return
    if t == "array":
        if not isinstance(v, list):
            errors.append("%s: expected an array, got %s" % (path, type(v).__name__))
            return
        for i, x in enumerate(v):
            _check(x, schema.get("items", {}), "%s[%d]" % (path, i), errors, depth + 1)
        return
    if t == "string":
        if not isinstance(v, str):
            errors.append("%s: expected a string, got %r" % (path, v))
        elif "enum" in schema and v not in schema["enum"]:
            errors.append("%s: %r is not one of %s" % (path, v, schema["enum"]))
        return
    if t == "integer":
        if not isinstance(v, int) or isinstance(v, bool):
            errors.append("%s: expected an integer, got %r" % (path, v))
        return
    if t == "number":
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            errors.append("%s: expected a number, got %r" % (path, v))
        return
    if t == "boolean":
        if not isinstance(v, bool):
            errors.append("%s: expected a boolean, got %r" % (path, v))
        return


def validate(obj, definition=None):
    """The list of problems of obj ([] when valid) against its apiVersion/kind or a named
    definition."""
    if not isinstance(obj, dict):
        return ["not an object"]
    name = definition or definition_for(obj)
    if not name:
        return ["unknown apiVersion/kind %s/%s" % (obj.get("apiVersion"), obj.get("kind"))]
    errors = []
    _check(obj, {"$ref": "#/definitions/" + name}, obj.get("kind", "object"), errors)
    return errors


DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def name_errors(obj):
    """Name rules the schema does not carry."""
    errs = []
    md = obj.get("metadata", {}) if isinstance(obj, dict) else {}
    n = md.get("name", "")
    kind = obj.get("kind")
    limit = 63 if kind in ("Job", "Namespace") else 253
    if kind in ("Job", "Namespace"):
        if not DNS_LABEL.match(n) or len(n) > limit:
            errs.append("metadata.name %r is not a DNS-1123 label of at most 63" % n)
    else:
        if len(n) > 253 or not all(DNS_LABEL.match(p) for p in n.split(".")):
            errs.append("metadata.name %r is not a DNS-1123 subdomain" % n)
    ns = md.get("namespace")
    if ns is not None and (not DNS_LABEL.match(ns) or len(ns) > 63):
        errs.append("metadata.namespace %r is not a DNS-1123 label" % ns)
    return errs


def main():
    text = sys.stdin.read()
    try:
        import yaml
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except ImportError:
        docs = [json.loads(text)]
    bad = 0
    for i, d in enumerate(docs):
        for e in validate(d) + name_errors(d):
            print("%d %s %s" % (i, d.get("kind") if isinstance(d, dict) else "?", e))
            bad += 1
    print("documents: %d" % len(docs), file=sys.stderr)
    sys.exit(1 if bad or not docs else 0)


if __name__ == "__main__":
    main()
