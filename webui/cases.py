"""Case pages: the list a user may see, one case with its evidence, artifact downloads."""
from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify, render_template
from flask_login import current_user, login_required

from storage.blobs import BlobError
from storage.models import Evidence, EvidenceState, Role
from tracker import audit
from tracker.cases import get_case_for, list_cases_for, view_case
from tracker.errors import NotFound
from tracker.permissions import can_report
from webui.db import db, runtime

bp = Blueprint("cases", __name__)

#: shown inline as images; everything else is a download, never rendered as live HTML
INLINE_TYPES = {"image/png", "image/jpeg", "image/webp"}


@bp.route("/")
@login_required
def index():
    user = current_user.user
    session = db()
    rows = list_cases_for(session, user)
    audit.record(session, user, "case.list", "case", "-", count=len(rows))
    session.commit()
    return render_template("cases/list.html", cases=rows, can_report=can_report(user),
                           is_admin_only=user.role is Role.admin)


def _case_or_404(ref: str, *, log_view: bool = False):
    try:
        if log_view:
            return view_case(db(), ref, current_user.user)
        return get_case_for(db(), ref, current_user.user)
    except NotFound:
        abort(404)


def _evidence_or_404(case, evidence_id: int) -> Evidence:
    ev = next((e for e in case.evidence if e.id == evidence_id), None)
    if ev is None:
        abort(404)
    return ev


@bp.route("/cases/<ref>")
@login_required
def detail(ref: str):
    case = _case_or_404(ref, log_view=True)
    db().commit()
    return render_template("cases/detail.html", case=case, EvidenceState=EvidenceState)


@bp.route("/cases/<ref>/evidence/<int:evidence_id>/status.json")
@login_required
def evidence_status(ref: str, evidence_id: int):
    ev = _evidence_or_404(_case_or_404(ref), evidence_id)
    return jsonify(state=ev.state.value, capture_status=ev.capture_status, fingerprint=ev.fingerprint,
                   finished=ev.state in (EvidenceState.done, EvidenceState.failed, EvidenceState.refused))


@bp.route("/cases/<ref>/evidence/<int:evidence_id>/<name>")
@login_required
def artifact(ref: str, evidence_id: int, name: str):
    case = _case_or_404(ref)
    ev = _evidence_or_404(case, evidence_id)
    art = next((a for a in ev.artifacts if a.name == name), None)
    if art is None:
        abort(404)
    try:
        data = runtime().blobs.read(art.sha256)
    except BlobError as exc:
        audit.record(db(), current_user.user, "artifact.integrity_error", "artifact", art.sha256, case.id,
                     name=name, error=str(exc))
        db().commit()
        abort(500)
    inline = art.media_type in INLINE_TYPES
    audit.record(db(), current_user.user, "artifact.view" if inline else "artifact.download", "artifact",
                 art.sha256, case.id, evidence=ev.id, name=name)
    db().commit()
    resp = Response(data, mimetype=art.media_type if inline else "application/octet-stream")
    disposition = "inline" if inline else "attachment"
    resp.headers["Content-Disposition"] = f'{disposition}; filename="{case.ref}-{ev.id}-{art.name}"'
    resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    resp.headers["X-Evidence-SHA256"] = art.sha256
    resp.headers["Cache-Control"] = "private, no-store"
    return resp
