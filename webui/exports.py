"""Evidence reports (PDF) and case export packages (ZIP): asked for, built by a job, downloaded, audited.

The request never builds the file (tracker.packaging.exports): the download URLs of before
(``…/package.zip``, ``…/report.pdf``) start a job — or hand out the file once it is ready — and
show a page that follows the job's progress (it reloads itself with JavaScript; without it the
person presses "Update"). Every download is an audit event with the file's SHA-256, as before.
"""
from __future__ import annotations

import re

from flask import Blueprint, Response, abort, jsonify, redirect, render_template, send_file, url_for
from flask_login import current_user, login_required

from tracker.packaging import exports as export_jobs
from tracker.cases.register import get_case_for
from tracker.errors import NotFound
from webui.db import db, runtime

bp = Blueprint("exports", __name__)


def _case_or_404(ref: str):
    """Exactly the case page's rule: a case the user may not see is a 404 (and nothing is logged)."""
    try:
        return get_case_for(db(), ref, current_user.user)
    except NotFound:
        abort(404)


def _job_or_404(case, job_id: int):
    try:
        return export_jobs.get_job_for(db(), current_user.user, case, job_id)
    except NotFound:
        abort(404)


def _safe_filename(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:120]


def _attachment(resp: Response, filename: str, sha256: str) -> Response:
    resp.headers["Content-Disposition"] = f'attachment; filename="{_safe_filename(filename)}"'
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["X-Evidence-SHA256"] = sha256
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


def send_export(case, job, user, via: str) -> Response:
    """Audit the download, then stream the file: the request commits before the body is sent (webui.db),
    and a failed commit answers 500 instead, so a file is never handed out without its audit event."""
    try:
        ready = export_jobs.ready_file(runtime(), job, case)
    except NotFound:
        abort(404)  # not ready, or removed after its keeping time
    fh = open(ready.path, "rb")
    try:
        export_jobs.record_download(db(), user, case, job, via)
    except BaseException:
        fh.close()
        raise
    resp = send_file(fh, mimetype=ready.media_type, as_attachment=True, download_name=ready.filename,
                     max_age=0, conditional=False, etag=False)
    resp.content_length = job.size
    return _attachment(resp, ready.filename, job.sha256)


def _old_url(ref: str, kind: str, evidence_id: int | None = None):
    """The download URLs of before: the ready file if there is one not yet handed out, else start a job."""
    case = _case_or_404(ref)
    if kind == "evidence_report" and not any(e.id == evidence_id for e in case.evidence):
        abort(404)
    user = current_user.user
    ready = export_jobs.take_ready(runtime(), db(), user, case, kind, evidence_id)
    if ready is not None:
        return send_export(case, ready, user, "web")
    job = export_jobs.request_export(db(), user, case, kind, evidence_id=evidence_id, via="web")
    return redirect(url_for("exports.status", ref=case.ref, job_id=job.id), code=303)


@bp.route("/cases/<ref>/evidence/<int:evidence_id>/report.pdf")
@login_required
def evidence_report(ref: str, evidence_id: int):
    return _old_url(ref, "evidence_report", evidence_id)


@bp.route("/cases/<ref>/report.pdf")
@login_required
def case_report(ref: str):
    return _old_url(ref, "case_report")


@bp.route("/cases/<ref>/package.zip")
@login_required
def case_package(ref: str):
    return _old_url(ref, "package")


@bp.route("/cases/<ref>/exports/<int:job_id>")
@login_required
def status(ref: str, job_id: int):
    case = _case_or_404(ref)
    job = _job_or_404(case, job_id)
    return render_template("cases/export_status.html", case=case, job=job,
                           filename=export_jobs.filename_for(job, case))


@bp.route("/cases/<ref>/exports/<int:job_id>/status.json")
@login_required
def status_json(ref: str, job_id: int):
    job = _job_or_404(_case_or_404(ref), job_id)
    return jsonify(state=job.state, step=job.step, finished=job.state not in export_jobs.ACTIVE)


@bp.route("/cases/<ref>/exports/<int:job_id>/download")
@login_required
def download(ref: str, job_id: int):
    case = _case_or_404(ref)
    return send_export(case, _job_or_404(case, job_id), current_user.user, "web")
