"""What every API route shares: the blueprint, bearer-token authentication, JSON errors, the route
registry (one ``Operation`` per route: its Flask rule, its documented input and output) and reading
input through that registry, so the OpenAPI document (``webui.api.openapi``) is built from the very
declarations the views parse with and cannot drift from them.

The transaction is the request's (``webui.db``: committed after an answer below 500, also a refusal's,
rolled back on a 5xx). A view runs a change with ``run(operation)``: the tracker function (permission
check and audit inside, as for the pages) in a savepoint, so a refused change leaves nothing behind.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request, session
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from storage.models import Case, User
from tracker.accounts.tokens import authenticate_token
from tracker.cases.register import get_case_for
from tracker.errors import NotFound
from tracker.workflow.rules import load_rules
from webui.db import db, perform
from webui.extensions import csrf
from webui.labels import RULES_KEY

bp = Blueprint("api", __name__, url_prefix="/api/v1")

PREFIX = "/api/"
MAX_BODY_BYTES = 64 * 1024
CPH = ZoneInfo("Europe/Copenhagen")
#: domain codes that are about the user's role rather than the input
FORBIDDEN_CODES = {"not_allowed"}
#: domain codes that say the case or item is in a state that does not allow the change (409)
CONFLICT_CODES = {"no_captured_url", "already_closed", "not_closed", "letter_sent", "letter_changed",
                  "letter_unfinished", "not_uncertain"}
HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "not_allowed", 404: "not_found",
              405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
              500: "internal_error"}
T = TypeVar("T")


class ApiError(Exception):
    """Ends the request with the JSON error ``{"error", "code", "field"}`` and ``status``."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


def error_response(status: int, code: str, message: str, field: str | None = None) -> Response:
    resp = jsonify(error=message, code=code, field=field)
    resp.status_code = status
    if status == 401:
        resp.headers["WWW-Authenticate"] = 'Bearer realm="vaern"'
    return resp


def http_message(status: int) -> str:
    return {
        404: "there is no such resource, or you do not have access to it",
        405: "this method is not allowed on this resource",
        413: "the request body is larger than this route accepts",
        415: "the request body must be JSON (Content-Type: application/json)",
        500: "Værn could not complete the request; try again in a moment",
    }.get(status, "the request could not be handled")


def not_found() -> ApiError:
    return ApiError(404, "not_found", http_message(404))


def init_app(app: Flask) -> None:
    """Register the API: the blueprint, its CSRF exemption, JSON errors for any /api/ path."""
    app.register_blueprint(bp)
    csrf.exempt(bp)

    @app.before_request
    def _api_routing_errors():
        # an unknown path or method never reaches the blueprint, whose handlers would answer in JSON
        exc = request.routing_exception
        if request.path.startswith(PREFIX) and isinstance(exc, HTTPException) and exc.code in HTTP_CODES:
            resp = error_response(exc.code, HTTP_CODES[exc.code], http_message(exc.code))
            if exc.code == 405:
                resp.headers["Allow"] = ", ".join(sorted(getattr(exc, "valid_methods", None) or ()))
            return resp
        return None

    @app.after_request
    def _api_sets_no_cookie(resp: Response) -> Response:
        if request.path.startswith(PREFIX):
            session.modified = False  # e.g. ?lang= would otherwise start a session
        return resp


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    return error_response(exc.status, exc.code, exc.message, exc.field)


def _http_error(exc: HTTPException):
    status = exc.code or 500
    return error_response(status, HTTP_CODES.get(status, "http_error"), http_message(status))


# by class and by each code: the app's HTML error pages are registered by code, which Flask prefers
bp.register_error_handler(HTTPException, _http_error)
for _code in HTTP_CODES:
    bp.register_error_handler(_code, _http_error)


# -- the route registry ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Field:
    """One input field (JSON body or query string): its type for parsing and its documentation.

    ``kind``: string, integer, boolean, strings (a list), time (ISO 8601 with an offset) or date (query
    strings only). ``choices`` are documented;
    the domain function refuses other values with its own code (so the codes stay the pages' codes).
    """

    kind: str
    doc: str
    choices: tuple[str, ...] = ()
    required: bool = False
    nullable: bool = False


@dataclass(frozen=True)
class Operation:
    """One API route as it is served and documented."""

    method: str
    rule: str  #: the Flask rule under /api/v1, e.g. ``/cases/<ref>/letters/<int:letter_id>``
    endpoint: str
    tag: str
    summary: str
    doc: str
    who: str  #: who may call it, in words (the rule itself is the tracker function's)
    body: dict[str, Field] | None = None
    query: dict[str, Field] = field(default_factory=dict)
    ok: int = 200
    response: str | None = None  #: a schema name in webui.api.schemas, or None for a file
    media_type: str = "application/json"  #: of the answer
    upload: bool = False  #: the body is multipart/form-data with ``file``
    errors: tuple[int, ...] = ()
    public: bool = False  #: no token needed (the API's own description)
    max_body: int = MAX_BODY_BYTES  #: bytes of JSON accepted


OPERATIONS: dict[str, Operation] = {}


def operation(method: str, rule: str, *, tag: str, summary: str, who: str, **kw: Any) -> Callable:
    """Register a view on the blueprint and in OPERATIONS (the OpenAPI document's only source)."""
    def wrap(view: Callable) -> Callable:
        endpoint = view.__name__
        doc = " ".join((view.__doc__ or "").split())
        OPERATIONS[endpoint] = Operation(method, rule, endpoint, tag, summary, doc, who, **kw)
        bp.add_url_rule(rule, endpoint, view, methods=[method])
        return view
    return wrap


def current_operation() -> Operation:
    return OPERATIONS[request.endpoint.split(".", 1)[1]]


# -- authentication: every route but the public ones --------------------------------------------------
@bp.before_request
def _authenticate():
    endpoint = (request.endpoint or "").split(".", 1)[-1]
    if endpoint in OPERATIONS and OPERATIONS[endpoint].public:
        return
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.strip().partition(" ")
    if not header:
        raise ApiError(401, "unauthorized", "an API token is required: send 'Authorization: Bearer <token>'")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiError(401, "unauthorized", "the Authorization header must be 'Bearer <token>'")
    found = authenticate_token(db(), secret.strip())  # marks the token used (kept by any answer below 500)
    if found is None:
        raise ApiError(401, "unauthorized", "the API token is not valid (unknown, revoked, or its user is inactive)")
    g.api_user, g.api_token = found


def user() -> User:
    return g.api_user


def via() -> dict[str, Any]:
    """What API audit events add to the pages' details: the channel and the token used."""
    return {"via": "api", "token": g.api_token.id}


# -- the transaction ----------------------------------------------------------------------------------
def status_for(code: str) -> int:
    return 403 if code in FORBIDDEN_CODES else 409 if code in CONFLICT_CODES else 400


def run(operation_: Callable[[Session], T]) -> T:
    """Run one operation in a savepoint of the request (``webui.db.perform``) and return its value.

    NotFound is the 404 of a case you may not see; a DomainError keeps its code (403, 409 or 400). Either
    way the operation's writes are undone.
    """
    try:
        outcome = perform(operation_)
    except NotFound:
        raise not_found() from None
    if not outcome:
        exc = outcome.error
        raise ApiError(status_for(exc.code), exc.code, exc.message, exc.field)
    return outcome.value


def keep_records() -> None:
    """A 5xx answer that must keep what it recorded (the audit event of a file that failed its check);
    the JSON twin of ``webui.db.abort_keeping``."""
    g.db_keep = True


def case_or_404(ref: str) -> Case:
    try:
        return get_case_for(db(), ref, user())
    except NotFound:
        raise not_found() from None


def rules():
    """The checked rule files, which create_app loads at start (loaded here only if an app did not)."""
    loaded = current_app.extensions.get(RULES_KEY)
    if loaded is None:
        loaded = current_app.extensions[RULES_KEY] = load_rules()
    return loaded


# -- JSON in and out ------------------------------------------------------------------------------
def iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(CPH).isoformat()


def jsonable(value: Any) -> Any:
    """Plain data with aware datetimes → JSON-ready values (times as ISO 8601, Copenhagen)."""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def answer(data: Any, status: int = 200, location: str | None = None) -> Response:
    resp = jsonify(jsonable(data))
    resp.status_code = status
    if location:
        resp.headers["Location"] = location
    return resp


def _time_codes(name: str) -> tuple[str, str]:
    stem = "episode" if name == "episode_at" else name.removesuffix("_at")
    return f"{stem}_malformed", f"{stem}_naive"


def parse_time(value: str, name: str) -> datetime:
    """ISO 8601 with an offset (``Z`` or ``±HH:MM``); a time without one is refused."""
    malformed, naive = _time_codes(name)
    try:
        at = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ApiError(400, malformed, f"{name} is not an ISO 8601 time, e.g. 2026-11-20T14:05:00+01:00",
                       name) from None
    if at.utcoffset() is None:
        raise ApiError(400, naive, f"{name} needs a UTC offset, e.g. 2026-11-20T14:05:00+01:00 or "
                       "2026-11-20T13:05:00Z", name)
    return at


_TYPES = {"string": (str,), "integer": (int,), "boolean": (bool,), "time": (str,), "strings": (list,)}
_NAMES = {"string": "a string", "integer": "an integer", "boolean": "true or false", "time": "a string",
          "strings": "a list of strings"}


def _typed(name: str, spec: Field, value: Any) -> Any:
    if value is None:
        if spec.nullable:
            return None
        raise ApiError(400, "wrong_type", f"{name} must be {_NAMES[spec.kind]}, not null", name)
    ok = isinstance(value, _TYPES[spec.kind]) and not (spec.kind == "integer" and isinstance(value, bool))
    ok = ok and not (spec.kind == "strings" and not all(isinstance(v, str) for v in value))
    if not ok:
        raise ApiError(400, "wrong_type", f"{name} must be {_NAMES[spec.kind]}", name)
    return parse_time(value, name) if spec.kind == "time" else value


def read_json(limit: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """The body as a JSON object of at most ``limit`` bytes."""
    if request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge()
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", http_message(415))
    request.max_content_length = limit  # also bounds a chunked body without a length
    raw = request.get_data(cache=False)
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "bad_json", "the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "bad_json", "the request body must be a JSON object")
    return body


def has_body() -> bool:
    return bool(request.content_length or request.is_json or request.headers.get("Transfer-Encoding"))


def body() -> dict[str, Any]:
    """The JSON body checked against the route's declared fields: only those, each of its type.

    Absent fields are absent from the result (a route with no required input accepts an empty body).
    Times come back as aware datetimes.
    """
    op = current_operation()
    fields = op.body or {}
    if not fields and not has_body():
        return {}
    raw = read_json(op.max_body)
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        known = ", ".join(sorted(fields)) or "none"
        raise ApiError(400, "unknown_field", f"unknown field {unknown[0]!r} (known: {known})", unknown[0])
    return {name: _typed(name, fields[name], value) for name, value in raw.items()}


def query() -> dict[str, Any]:
    """The query string checked against the route's declared parameters (unknown ones are refused)."""
    fields = current_operation().query
    unknown = sorted(set(request.args) - set(fields) - {"lang"})
    if unknown:
        raise ApiError(400, "unknown_parameter", f"unknown query parameter {unknown[0]!r}", unknown[0])
    out: dict[str, Any] = {}
    for name, spec in fields.items():
        raw = request.args.get(name)
        if raw is None or raw == "":
            continue
        if spec.choices and raw not in spec.choices:
            raise ApiError(400, "bad_parameter", f"{name} must be one of {', '.join(spec.choices)}", name)
        if spec.kind == "integer":
            if not re.fullmatch(r"\d{1,18}", raw):
                raise ApiError(400, "bad_parameter", f"{name} must be an integer", name)
            out[name] = int(raw)
        elif spec.kind == "date":
            try:
                out[name] = date.fromisoformat(raw)
            except ValueError:
                raise ApiError(400, "bad_parameter", f"{name} must be a date, e.g. 2026-11-20", name) from None
        else:
            out[name] = raw
    return out
