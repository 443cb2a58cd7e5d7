"""Evidence reports (PDF) and case export packages (ZIP), downloaded with permission and audited."""
from __future__ import annotations

import hashlib
import os
import re
import tempfile

from flask import Blueprint, Response, abort, send_file
from flask_login import current_user, login_required

from tracker import audit
from tracker.cases import get_case_for
from tracker.errors import DomainError, NotFound
from webui.db import db, runtime

bp = Blueprint("exports", __name__)


def _case_or_404(ref: str):
    """Exactly the case page's rule: a case the user may not see is a 404 (and nothing is logged)."""
    try:
        return get_case_for(db(), ref, current_user.user)
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


def _audited_pdf(case, data: bytes, report: str, object_id: object, filename: str) -> Response:
    """Record the download (with the PDF's SHA-256), commit, and send the PDF."""
    sha = hashlib.sha256(data).hexdigest()
    audit.record(db(), current_user.user, "report.download", report, object_id, case.id,
                 report=report, sha256=sha, size=len(data))
    db().commit()
    return _pdf(data, filename, sha)


def _pdf(data: bytes, filename: str, sha256: str) -> Response:
    return _attachment(Response(data, mimetype="application/pdf"), filename, sha256)


@bp.route("/cases/<ref>/evidence/<int:evidence_id>/report.pdf")
@login_required
def evidence_report(ref: str, evidence_id: int):
    from tracker.reports import evidence_report_pdf

    case = _case_or_404(ref)
    ev = next((e for e in case.evidence if e.id == evidence_id), None)
    if ev is None:
        abort(404)
    data = evidence_report_pdf(runtime(), db(), ev)
    return _audited_pdf(case, data, "evidence", ev.id, f"{case.ref}-bevis-{ev.id}-rapport.pdf")


@bp.route("/cases/<ref>/report.pdf")
@login_required
def case_report(ref: str):
    from tracker.reports import case_report_pdf

    case = _case_or_404(ref)
    data = case_report_pdf(runtime(), db(), case)
    return _audited_pdf(case, data, "case", case.ref, f"{case.ref}-sagsrapport.pdf")


@bp.route("/cases/<ref>/package.zip")
@login_required
def case_package(ref: str):
    from tracker.export import write_case_package

    case = _case_or_404(ref)
    rt = runtime()
    work = rt.settings.data_dir / "tmp"
    work.mkdir(parents=True, exist_ok=True)
    tmpdir = tempfile.mkdtemp(dir=work, prefix="export-")
    path = os.path.join(tmpdir, "package.zip")
    try:
        try:
            package = write_case_package(rt, db(), case, path)
        except DomainError as exc:  # a corrupt blob: say so in the log, never ship altered evidence
            audit.record(db(), current_user.user, "package.export_failed", "case", case.ref, case.id,
                         error=exc.message)
            db().commit()
            abort(500)
        fh = open(path, "rb")  # the open handle keeps the bytes; the name goes at once
    finally:
        if os.path.exists(path):
            os.unlink(path)
        os.rmdir(tmpdir)
    filename = f"{case.ref}-sagspakke.zip"
    try:
        audit.record(db(), current_user.user, "package.export", "case", case.ref, case.id, via="web",
                     sha256=package.sha256, size=package.size, files=package.files, filename=filename)
        db().commit()
    except BaseException:
        fh.close()  # not in the audit log: not handed out
        raise
    resp = send_file(fh, mimetype="application/zip", as_attachment=True, download_name=filename,
                     max_age=0, conditional=False, etag=False)
    resp.content_length = package.size
    return _attachment(resp, filename, package.sha256)
