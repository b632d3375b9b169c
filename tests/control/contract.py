"""api/openapi.yaml as a checker of real answers: the route must be in the document, the
status listed for it, and the body valid against the response's JSON Schema (OpenAPI 3.1
schemas are JSON Schema 2020-12, checked with python3-jsonschema)."""

import re

import jsonschema
import yaml

METHODS = ("get", "post", "put", "patch", "delete")


class Contract:
    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            self.doc = yaml.safe_load(f)
        self.routes = []
        for template, item in self.doc["paths"].items():
            rx = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$")
            for m in METHODS:
                if m in item:
                    self.routes.append((m.upper(), rx, template))
        self.resolver = jsonschema.RefResolver("", self.doc)
        self.seen = set()  # (method, template, status) answered so far

    def operations(self):
        """Every (method, template) of the document."""
        return [(m, t) for m, _, t in self.routes]

    def template(self, method, path):
        for m, rx, t in self.routes:
            if m == method and rx.match(path):
                return t
        return None

    def _resolve(self, obj):
        while "$ref" in obj:
            _, obj = self.resolver.resolve(obj["$ref"])
        return obj

    def validate(self, instance, schema):
        jsonschema.Draft202012Validator(
            schema, resolver=self.resolver,
            format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
        ).validate(instance)

    def check(self, method, path, r):
        path = path.split("?", 1)[0]
        template = self.template(method, path)
        assert template, f"{method} {path} is not in api/openapi.yaml"
        op = self.doc["paths"][template][method.lower()]
        status = str(r.status_code)
        assert status in op["responses"], (
            f"{method} {template} answered {status}, which openapi.yaml does not list: "
            f"{r.text[:500]}")
        self.seen.add((method, template, status))
        response = self._resolve(op["responses"][status])
        content = response.get("content")
        if not content:
            assert r.content == b"", f"{method} {template} {status} has a body: {r.text[:200]}"
            return
        ctype = r.headers.get("Content-Type", "").split(";")[0].strip()
        assert ctype in content, f"{method} {template} {status}: Content-Type {ctype!r}"
        if ctype == "application/json":
            self.validate(r.json(), content[ctype]["schema"])
