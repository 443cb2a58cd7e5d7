"""The JSON API (v1) under /api/v1: bearer tokens, the pages' permission rules, JSON in and out.

Authentication: every route needs ``Authorization: Bearer vaern_…`` (``vaern token create``). The
API reads no cookie and sets none, so it is exempt from CSRF (a browser cannot attach the header to
a forged cross-site request). A case the token's user may not see is a 404, exactly like a case
that does not exist.

Routes: ``GET /cases`` (the cases you may see), ``POST /cases`` (open a case from
``{"url", "episode_at", "description"}``; 201 with ``{"ref", "url"}`` and ``Location``),
``GET /cases/<ref>`` (the case file: evidence, steps, deadlines, built by ``tracker.cases.casefile``;
a deadline's ``state`` is met, open, at_risk, overdue, unknown_start (``due_at`` null) or closed),
``GET /cases/<ref>/evidence/<id>/<name>`` (one stored file, as a download).
Packages and PDF reports are built by a job: ``POST /cases/<ref>/exports`` with ``{"kind": "package" |
"case_report" | "evidence_report", "evidence_id"}`` answers 202 with ``{"id", "state", "url"}`` and
``Location``; ``GET /cases/<ref>/exports/<id>`` gives ``state`` (queued, running, done, failed, expired),
``step`` and, once done, ``sha256``, ``size`` and ``download_url``;
``GET /cases/<ref>/exports/<id>/download`` is the file (audited; 404 until it is ready). Only the
token's user sees their own jobs.
``POST /cases/<ref>/rechecks`` (capture every captured URL of the case again and compare; an empty
body or ``{}``; 202 with ``{"id", "ids", "rechecks"}``, the re-checks started or still running).

The case file lists ``rechecks``: ``id``, ``state`` (pending, decided), ``verdict`` (still_online,
changed, removed, unreachable, uncertain; null while pending), ``removal_confirmed`` (for removed:
true once two re-checks in a row agree), ``reason`` (English) and ``reason_code``, ``evidence_id``
(the new capture), ``baseline_evidence_id``, ``created_at``, ``decided_at`` and ``decided_by`` (the
leader who decided an uncertain one; null when Værn's rules decided). A removal is claimed only on
positive evidence; "uncertain" means Værn could not tell, and the leader decides on the case page.

Times are ISO 8601 with the offset, in Europe/Copenhagen local time (e.g. ``2026-11-20T14:05:00+01:00``).
Input times must carry an offset (``Z`` or ``±HH:MM``); a time without one is refused.

Errors are JSON ``{"error": <English sentence>, "code": <stable code>, "field": <input field or null>}``:

- 400 the request is wrong: ``bad_json`` (not JSON, or not an object), ``unknown_field``,
  ``wrong_type``, ``episode_malformed``, ``episode_naive`` (a time without offset), or a value the
  domain refuses, under the domain's own DomainError code (``url_missing``, ``url_scheme``,
  ``url_malformed``, ``invalid_url`` (an address that cannot be parsed at all), ``url_too_long``, ``episode_future``, ``episode_too_old``,
  ``description_too_long``). All validation is 400; 422 is not used.
- 401 ``unauthorized``: no, malformed, unknown or revoked token, or an inactive user
  (with ``WWW-Authenticate: Bearer realm="vaern"``).
- 403 ``not_allowed``: the user's role may not do this (e.g. HR or an admin opening a case).
- 404 ``not_found``: no such route, case, evidence or file, or not visible to the user.
- 409 ``no_captured_url``: a re-check of a case with no captured URL to check again.
- 405 ``method_not_allowed`` (with ``Allow``), 413 ``too_large`` (body over 64 KiB),
  415 ``unsupported_media_type`` (a body that is not ``application/json``), 500 ``internal_error``
  or ``integrity_error`` (a stored file no longer matches its SHA-256).
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request, session, url_for
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from storage.blobs import BlobError
from storage.types import utcnow
from tracker.oversight import audit
from tracker.workflow import recheck
from tracker.cases.register import Report, get_case_for, list_cases_for, open_case
from tracker.errors import DomainError, NotFound
from tracker.accounts.tokens import authenticate_token
from webui.db import db, runtime
from webui.labels import RULES_KEY
from tracker.cases.casefile import case_overview
from tracker.packaging.exports import get_job_for, request_export
from tracker.workflow.rules import load_rules
from webui.exports import send_export
from webui.extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")

PREFIX = "/api/"
MAX_BODY_BYTES = 64 * 1024
CPH = ZoneInfo("Europe/Copenhagen")
CASE_FIELDS = {"url", "episode_at", "description"}
#: domain codes that are about the user's role rather than the input
FORBIDDEN_CODES = {"not_allowed"}
HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "not_allowed", 404: "not_found",
              405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
              500: "internal_error"}


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


def init_app(app: Flask) -> None:
    """Register the API: the blueprint, its CSRF exemption, JSON errors for any /api/ path."""
    app.register_blueprint(bp)
    csrf.exempt(bp)

    @app.before_request
    def _api_routing_errors():
        # an unknown path or method never reaches the blueprint, whose handlers would answer in JSON
        exc = request.routing_exception
        if request.path.startswith(PREFIX) and isinstance(exc, HTTPException) and exc.code in HTTP_CODES:
            resp = error_response(exc.code, HTTP_CODES[exc.code], _http_message(exc.code))
            if exc.code == 405:
                resp.headers["Allow"] = ", ".join(sorted(getattr(exc, "valid_methods", None) or ()))
            return resp
        return None

    @app.after_request
    def _api_sets_no_cookie(resp: Response) -> Response:
        if request.path.startswith(PREFIX):
            session.modified = False  # e.g. ?lang= would otherwise start a session
        return resp


def _http_message(status: int) -> str:
    return {
        404: "there is no such resource, or you do not have access to it",
        405: "this method is not allowed on this resource",
        413: f"the request body is larger than {MAX_BODY_BYTES} bytes",
        415: "the request body must be JSON (Content-Type: application/json)",
        500: "Værn could not complete the request; try again in a moment",
    }.get(status, "the request could not be handled")


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    return error_response(exc.status, exc.code, exc.message, exc.field)


def _http_error(exc: HTTPException):
    status = exc.code or 500
    return error_response(status, HTTP_CODES.get(status, "http_error"), _http_message(status))


# by class and by each code: the app's HTML error pages are registered by code, which Flask prefers
bp.register_error_handler(HTTPException, _http_error)
for _code in HTTP_CODES:
    bp.register_error_handler(_code, _http_error)


# -- authentication: every route ------------------------------------------------------------------
@bp.before_request
def _authenticate():
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.strip().partition(" ")
    if not header:
        raise ApiError(401, "unauthorized", "an API token is required: send 'Authorization: Bearer <token>'")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiError(401, "unauthorized", "the Authorization header must be 'Bearer <token>'")
    s = db()
    found = authenticate_token(s, secret.strip())
    if found is None:
        s.rollback()
        raise ApiError(401, "unauthorized", "the API token is not valid (unknown, revoked, or its user is inactive)")
    # the use is recorded even if the request then fails
    s.commit()
    g.api_user, g.api_token = found


def _user():
    return g.api_user


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


def json_body(fields: set[str] = CASE_FIELDS) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise RequestEntityTooLarge()
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", _http_message(415))
    request.max_content_length = MAX_BODY_BYTES  # also bounds a chunked body without a length
    raw = request.get_data(cache=False)
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "bad_json", "the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "bad_json", "the request body must be a JSON object")
    unknown = sorted(set(body) - fields)
    if unknown:
        raise ApiError(400, "unknown_field", f"unknown field {unknown[0]!r} (known: {', '.join(sorted(fields))})",
                       unknown[0])
    return body


def _string(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise ApiError(400, "wrong_type", f"{name} must be a string", name)
    return value


def parse_episode(value: str | None) -> datetime | None:
    """ISO 8601 with an offset; None (or absent) means the time is not known."""
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ApiError(400, "episode_malformed",
                       "episode_at is not an ISO 8601 time, e.g. 2026-11-20T14:05:00+01:00", "episode_at") from None
    if at.utcoffset() is None:
        raise ApiError(400, "episode_naive",
                       "episode_at needs a UTC offset, e.g. 2026-11-20T14:05:00+01:00 or 2026-11-20T13:05:00Z",
                       "episode_at")
    return at


# -- routes -----------------------------------------------------------------------------------------
@bp.post("/cases")
def create_case():
    body = json_body()
    report = Report(url=_string(body, "url"), episode_at=parse_episode(_string(body, "episode_at")),
                    description=_string(body, "description") or "")
    s = db()
    try:
        case = open_case(s, _user(), report, directory=runtime().platforms)
        s.commit()
    except DomainError as exc:
        s.rollback()
        status = 403 if exc.code in FORBIDDEN_CODES else 400
        raise ApiError(status, exc.code, exc.message, exc.field) from None
    location = url_for("api.get_case", ref=case.ref)
    resp = jsonify(ref=case.ref, url=location)
    resp.status_code = 201
    resp.headers["Location"] = location
    return resp


@bp.get("/cases")
def list_cases():
    s = db()
    rows = list_cases_for(s, _user())
    audit.record(s, _user(), "case.list", "case", "-", count=len(rows), via="api", token=g.api_token.id)
    s.commit()
    return jsonify(cases=[{"ref": c.ref, "url": url_for("api.get_case", ref=c.ref), "status": c.status,
                           "created_at": iso(c.created_at), "episode_at": iso(c.episode_at)} for c in rows])


def _case_or_404(ref: str):
    try:
        return get_case_for(db(), ref, _user())
    except NotFound:
        raise ApiError(404, "not_found", _http_message(404)) from None


def _rules():
    """The checked rule files, which create_app loads at start (loaded here only if an app did not)."""
    rules = current_app.extensions.get(RULES_KEY)
    if rules is None:
        rules = current_app.extensions[RULES_KEY] = load_rules()
    return rules


@bp.get("/cases/<ref>")
def get_case(ref: str):
    s = db()
    case = _case_or_404(ref)
    data = case_overview(s, case, _rules(), utcnow())
    data["rechecks"] = recheck.rechecks_data(s, case)
    for ev in data["evidence"]:
        for art in ev["artifacts"]:
            art["url"] = url_for("api.artifact", ref=case.ref, evidence_id=ev["id"], name=art["name"])
    audit.record(s, _user(), "case.view", "case", case.ref, case.id, via="api", token=g.api_token.id)
    s.commit()
    return jsonify(jsonable(data))


@bp.get("/cases/<ref>/evidence/<int:evidence_id>/<name>")
def artifact(ref: str, evidence_id: int, name: str):
    """One file of an evidence bundle, as stored (always a download, never rendered)."""
    case = _case_or_404(ref)
    ev = next((e for e in case.evidence if e.id == evidence_id), None)
    art = next((a for a in ev.artifacts if a.name == name), None) if ev is not None else None
    if art is None:
        raise ApiError(404, "not_found", _http_message(404))
    s = db()
    try:
        data = runtime().blobs.read(art.sha256)
    except BlobError as exc:
        audit.record(s, _user(), "artifact.integrity_error", "artifact", art.sha256, case.id,
                     name=name, error=str(exc), via="api")
        s.commit()
        raise ApiError(500, "integrity_error", "the stored file does not match its SHA-256") from None
    audit.record(s, _user(), "artifact.download", "artifact", art.sha256, case.id, evidence=ev.id, name=name,
                 via="api", token=g.api_token.id)
    s.commit()
    resp = Response(data, mimetype="application/octet-stream")
    resp.headers["Content-Disposition"] = f'attachment; filename="{case.ref}-{ev.id}-{art.name}"'
    resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    resp.headers["X-Evidence-SHA256"] = art.sha256
    return resp


# -- packages and reports, built by a job ------------------------------------------------------------------
def _export_json(case, job) -> dict[str, Any]:
    done = job.state == "done"
    return {"id": job.id, "kind": job.kind, "evidence_id": job.evidence_id, "state": job.state, "step": job.step,
            "error": job.error, "created_at": iso(job.created_at), "finished_at": iso(job.finished_at),
            "sha256": job.sha256 if done else None, "size": job.size if done else None,
            "url": url_for("api.export_status", ref=case.ref, job_id=job.id),
            "download_url": url_for("api.export_download", ref=case.ref, job_id=job.id) if done else None}


def _export_or_404(case, job_id: int):
    try:
        return get_job_for(db(), _user(), case, job_id)
    except NotFound:
        raise ApiError(404, "not_found", _http_message(404)) from None


@bp.post("/cases/<ref>/exports")
def start_export(ref: str):
    case = _case_or_404(ref)
    body = json_body({"kind", "evidence_id"})
    kind, evidence_id = body.get("kind"), body.get("evidence_id")
    if not isinstance(kind, str):
        raise ApiError(400, "wrong_type", "kind must be a string", "kind")
    if evidence_id is not None and (not isinstance(evidence_id, int) or isinstance(evidence_id, bool)):
        raise ApiError(400, "wrong_type", "evidence_id must be an integer", "evidence_id")
    try:
        job = request_export(db(), _user(), case, kind, evidence_id=evidence_id, via="api")
    except NotFound:
        raise ApiError(404, "not_found", _http_message(404)) from None
    except DomainError as exc:
        raise ApiError(400, exc.code, exc.message, exc.field) from None
    db().commit()
    resp = jsonify(_export_json(case, job))
    resp.status_code = 202
    resp.headers["Location"] = url_for("api.export_status", ref=case.ref, job_id=job.id)
    return resp


@bp.get("/cases/<ref>/exports/<int:job_id>")
def export_status(ref: str, job_id: int):
    case = _case_or_404(ref)
    return jsonify(_export_json(case, _export_or_404(case, job_id)))


@bp.get("/cases/<ref>/exports/<int:job_id>/download")
def export_download(ref: str, job_id: int):
    case = _case_or_404(ref)
    job = _export_or_404(case, job_id)
    if job.state != "done":
        raise ApiError(404, "not_found", "the file is not ready (see the job's state)")
    return send_export(case, job, _user(), "api")
@bp.post("/cases/<ref>/rechecks")
def start_rechecks(ref: str):
    """Start a re-check of every captured URL of the case (one already running is not started twice)."""
    if request.content_length or request.is_json or request.headers.get("Transfer-Encoding"):
        body = json_body(set())  # no fields are defined: an empty body or {} is fine
        if body:
            raise ApiError(400, "unknown_field", f"unknown field {sorted(body)[0]!r} (this request takes none)",
                           sorted(body)[0])
    s = db()
    case = _case_or_404(ref)
    try:
        rows = recheck.request_recheck(s, case, _user())
    except NotFound:
        s.rollback()
        raise ApiError(404, "not_found", _http_message(404)) from None
    except DomainError as exc:
        s.rollback()
        status = 403 if exc.code in FORBIDDEN_CODES else 409 if exc.code == "no_captured_url" else 400
        raise ApiError(status, exc.code, exc.message, exc.field) from None
    audit.record(s, _user(), "recheck.request", "case", case.ref, case.id, via="api", token=g.api_token.id,
                 rechecks=[r.id for r in rows])
    s.commit()
    resp = jsonify(jsonable({"id": rows[0].id, "ids": [r.id for r in rows],
                             "rechecks": [recheck.recheck_data(r) for r in rows]}))
    resp.status_code = 202
    resp.headers["Location"] = url_for("api.get_case", ref=case.ref)
    return resp
