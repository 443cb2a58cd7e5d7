"""The API's description, built from the route registry (``webui.api.core.OPERATIONS``) and the answer
schemas (``webui.api.schemas``): ``GET /api/v1/openapi.json`` (OpenAPI 3.1) and ``GET /api/v1/docs``, a plain
server-rendered page of the same document (no script, no CDN: the app's CSP holds). Both need no token:
they describe the routes, not any case. The page is in English, like the API's error sentences.
"""
from __future__ import annotations

import re
from typing import Any

from flask import Response, url_for
from markupsafe import Markup, escape

from tracker import __version__
from webui.api.core import CONFLICT_CODES, MAX_BODY_BYTES, OPERATIONS, Field, Operation, answer, operation
from webui.api.schemas import SCHEMAS

PREFIX = "/api/v1"
CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")
PATH_PARAMS = {"ref": "the case's reference, e.g. V-2026-00012", "step_id": "a step id of the rule files",
               "evidence_id": "evidence of the case", "name": "the file's name in the bundle (e.g. text.txt)"}
STATUS_TEXT = {
    200: "OK", 201: "Created", 202: "Accepted (the work continues in a job)",
    400: "The request is wrong: bad_json, unknown_field, wrong_type, unknown_parameter, bad_parameter, "
         "a time without offset (…_naive) or unreadable (…_malformed), or the domain's own code for a value it refuses",
    401: "unauthorized: no, malformed, unknown or revoked token, or an inactive user",
    403: "not_allowed: you may see the case but your role may not do this",
    404: "not_found: no such case, item or route, or not visible to you (the same answer for both)",
    409: "The case or item is in a state that does not allow it: " + ", ".join(sorted(CONFLICT_CODES)),
    413: f"too_large: the body is over the limit ({MAX_BODY_BYTES} bytes for JSON unless the route says more)",
    415: "unsupported_media_type: the body is not of the type the route takes",
    500: "internal_error, or integrity_error: a stored file no longer matches its SHA-256",
}
INTRO = (
    "Værn's JSON API. Every route but this description needs `Authorization: Bearer vaern_…` (a token from "
    "`vaern token create`). The API reads no cookie and sets none, so it needs no CSRF token. A case you may "
    "not see is a 404, exactly like one that does not exist. Permissions and audit events are the pages': "
    "each route calls the same operation as the page it mirrors (so a change is the same event), and the reads and "
    "downloads the API records carry `via: api` and the token. "
    "Times are ISO 8601 with the offset, written in Europe/Copenhagen local time; input times must carry an "
    "offset. Errors are JSON `{\"error\", \"code\", \"field\"}` with a stable `code`."
)


def _field_schema(spec: Field) -> dict[str, Any]:
    base = {"string": {"type": "string"}, "integer": {"type": "integer"}, "boolean": {"type": "boolean"},
            "time": {"type": "string", "format": "date-time"}, "date": {"type": "string", "format": "date"},
            "strings": {"type": "array", "items": {"type": "string"}}}[spec.kind]
    schema: dict[str, Any] = {**base, "description": spec.doc}
    if spec.choices:
        target = schema["items"] if spec.kind == "strings" else schema
        target["enum"] = list(spec.choices)
    if spec.nullable:
        schema["type"] = [schema["type"], "null"]
        if spec.choices and spec.kind != "strings":
            schema["enum"] = [*spec.choices, None]
    return schema


def path_of(op: Operation) -> tuple[str, list[dict[str, Any]]]:
    """The OpenAPI path (``{ref}``) of a Flask rule, and its path parameters."""
    params = []
    for converter, name in CONVERTER.findall(op.rule):
        params.append({"name": name, "in": "path", "required": True,
                       "description": PATH_PARAMS.get(name, name.replace("_", " ")),
                       "schema": {"type": "integer"} if converter == "int" else {"type": "string"}})
    return PREFIX + CONVERTER.sub(r"{\2}", op.rule), params


def _operation_object(op: Operation) -> dict[str, Any]:
    path, params = path_of(op)
    params += [{"name": name, "in": "query", "required": False, "description": spec.doc,
                "schema": _field_schema(spec)} for name, spec in op.query.items()]
    ok: dict[str, Any] = {"description": STATUS_TEXT[op.ok]}
    if op.response:
        ok["content"] = {op.media_type: {"schema": {"$ref": f"#/components/schemas/{op.response}"}}}
    elif op.media_type == "application/json":
        ok["content"] = {op.media_type: {"schema": {"type": "object"}}}
    else:
        ok["content"] = {op.media_type: {"schema": {"type": "string", "contentMediaType": op.media_type}}}
    responses: dict[str, Any] = {str(op.ok): ok}
    for status in sorted({*op.errors, *(() if op.public else (401,))}):
        responses[str(status)] = {"$ref": f"#/components/responses/E{status}"}
    out: dict[str, Any] = {"operationId": op.endpoint, "tags": [op.tag], "summary": op.summary,
                           "description": f"{op.doc}\n\nWho may: {op.who}.", "responses": responses}
    if params:
        out["parameters"] = params
    if op.public:
        out["security"] = []
    if op.upload:
        out["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": ["file"],
            "properties": {"file": {"type": "string", "contentMediaType": "application/octet-stream"}}}}}}
    elif op.body is not None:
        required = [name for name, spec in op.body.items() if spec.required]
        schema: dict[str, Any] = {"type": "object", "additionalProperties": False,
                                  "properties": {name: _field_schema(spec) for name, spec in op.body.items()}}
        if required:
            schema["required"] = required
        out["requestBody"] = {"required": bool(required), "content": {"application/json": {"schema": schema}}}
    return out


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of every registered route."""
    paths: dict[str, dict[str, Any]] = {}
    tags: list[str] = []
    for op in OPERATIONS.values():
        path, _params = path_of(op)
        paths.setdefault(path, {})[op.method.lower()] = _operation_object(op)
        if op.tag not in tags:
            tags.append(op.tag)
    errors = {f"E{status}": {"description": STATUS_TEXT[status], "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}} for status in STATUS_TEXT
        if status >= 400}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Værn API", "version": __version__, "description": INTRO},
        "servers": [{"url": "/"}],
        "tags": [{"name": t} for t in tags],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {"schemas": SCHEMAS, "responses": errors,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                                      "description": "a token from `vaern token create`"}}},
    }


@operation("GET", "/openapi.json", tag="About the API", summary="This description (OpenAPI 3.1)", response=None,
           who="anyone (no token)", public=True)
def openapi_json():
    """The document the docs page shows; generated from the routes themselves."""
    return answer(document())


# -- the readable page ---------------------------------------------------------------------------------
def _code(text: str) -> Markup:
    """Backticks as <code> (the intro and docstrings use them), everything escaped."""
    parts = str(text).split("`")
    return Markup("").join(Markup("<code>{}</code>").format(p) if n % 2 else escape(p) for n, p in enumerate(parts))


def _schema_text(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " or ".join(_schema_text(x) for x in schema["anyOf"])
    kind = schema.get("type", "any")
    kind = " or ".join(kind) if isinstance(kind, list) else kind
    if kind == "array":
        return f"list of {_schema_text(schema.get('items', {}))}"
    if schema.get("format"):
        kind += f" ({schema['format']})"
    if schema.get("enum"):
        kind += ": " + ", ".join("null" if v is None else str(v) for v in schema["enum"])
    return kind


def _fields_table(rows: list[tuple[str, dict[str, Any], bool]]) -> Markup:
    out = [Markup("<table><tr><th>name</th><th>type</th><th>required</th><th>meaning</th></tr>")]
    for name, schema, required in rows:
        out.append(Markup("<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>").format(
            name, _schema_text(schema), "yes" if required else "", _code(schema.get("description", ""))))
    out.append(Markup("</table>"))
    return Markup("").join(out)


def _operation_html(path: str, method: str, op: dict[str, Any]) -> Markup:
    out = [Markup('<section id="{}"><h3><code>{} {}</code></h3><p><strong>{}</strong></p>').format(
        op["operationId"], method.upper(), path, op["summary"])]
    out += [Markup("<p>{}</p>").format(_code(para)) for para in op["description"].split("\n\n")]
    params = op.get("parameters", [])
    if params:
        out.append(Markup("<h4>Parameters</h4>"))
        out.append(_fields_table([(f"{p['name']} ({p['in']})", {**p["schema"], "description": p["description"]},
                                   p["required"]) for p in params]))
    content = op.get("requestBody", {}).get("content", {})
    for media_type, body in content.items():
        schema = body["schema"]
        out.append(Markup("<h4>Body ({})</h4>").format(media_type))
        out.append(_fields_table([(name, prop, name in schema.get("required", ()))
                                  for name, prop in schema["properties"].items()]))
    out.append(Markup("<h4>Answers</h4><ul>"))
    for status, resp in op["responses"].items():
        if "$ref" in resp:
            out.append(Markup('<li>{} — see <a href="#errors">errors</a></li>').format(status))
            continue
        [(media_type, body)] = resp["content"].items()
        schema = body["schema"]
        shown = (Markup('<a href="#schema-{0}">{0}</a>').format(_schema_text(schema)) if "$ref" in schema
                 else _schema_text(schema))
        out.append(Markup("<li>{} {}: {}</li>").format(status, media_type, shown))
    out.append(Markup("</ul></section>"))
    return Markup("").join(out)


def page(doc: dict[str, Any]) -> str:
    """The whole document as one HTML page: operations by tag, then the schemas and the errors."""
    css = url_for("static", filename="vaern.css")
    out = [Markup('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Værn API</title>'
                  '<link rel="stylesheet" href="{}"></head><body><main><h1>Værn API {}</h1><p>{}</p>'
                  '<p>Machine-readable: <a href="{}">openapi.json</a> (OpenAPI 3.1).</p>').format(
        css, doc["info"]["version"], _code(doc["info"]["description"]), url_for("api.openapi_json"))]
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, item in doc["paths"].items():
        for method, op in item.items():
            by_tag.setdefault(op["tags"][0], []).append((path, method, op))
    out.append(Markup("<nav><ul>"))
    for tag, ops in by_tag.items():
        links = Markup(", ").join(Markup('<a href="#{}">{} {}</a>').format(o["operationId"], m.upper(), p)
                                  for p, m, o in ops)
        out.append(Markup("<li><strong>{}</strong>: {}</li>").format(tag, links))
    out.append(Markup("</ul></nav>"))
    for tag, ops in by_tag.items():
        out.append(Markup("<h2>{}</h2>").format(tag))
        out += [_operation_html(p, m, o) for p, m, o in ops]
    out.append(Markup('<h2 id="schemas">Schemas</h2>'))
    for name, schema in doc["components"]["schemas"].items():
        out.append(Markup('<h3 id="schema-{}">{}</h3>').format(name, name))
        if schema.get("description"):
            out.append(Markup("<p>{}</p>").format(schema["description"]))
        out.append(_fields_table([(k, v, k in schema.get("required", ())) for k, v in schema["properties"].items()]))
    out.append(Markup('<h2 id="errors">Errors</h2><ul>'))
    for key, resp in doc["components"]["responses"].items():
        out.append(Markup("<li><strong>{}</strong> {}</li>").format(key[1:], resp["description"]))
    out.append(Markup("</ul></main></body></html>"))
    return str(Markup("").join(out))


@operation("GET", "/docs", tag="About the API", summary="This description as a page", response=None,
           media_type="text/html", who="anyone (no token)", public=True)
def docs():
    """Operations, their parameters and bodies, the answer schemas and the error codes."""
    return Response(page(document()), mimetype="text/html")
