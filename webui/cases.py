"""Case pages: the list a user may see, one case with its evidence, artifact downloads."""
from __future__ import annotations

import io

from flask import Blueprint, Response, abort, get_flashed_messages, jsonify, render_template, request, session
from flask_babel import format_decimal, ngettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from markupsafe import Markup
from PIL import Image, ImageOps

from capture.judge import POST_NOT_SEEN
from storage.blobs import BlobError
from storage.models import Evidence, EvidenceState, Role
from storage.types import utcnow
from tracker.cases import files
from tracker.cases.hold import can_hold
from tracker.cases.register import get_case_for, view_case
from tracker.errors import NotFound
from tracker.packaging import vocabulary
from tracker.packaging.exports import jobs_for
from tracker.accounts.permissions import can_report
from tracker.workflow.steps import urgency_order
from tracker.textcut import excerpt
from tracker.wording import file_size
from webui import case_page, oversight, workflow
from webui.db import abort_keeping, db, runtime
from webui.timefmt import page_language

bp = Blueprint("cases", __name__)
bp.add_app_template_filter(case_page.weekday_due, "weekday_due")
bp.add_app_template_global(case_page.action_text, "action_text")
bp.add_url_rule("/cases/<ref>/steps/<step_id>/rung-and-state", view_func=login_required(case_page.save_rung),
                methods=["POST"])  # one form per ladder rung

#: shown inline as images; everything else is a download, never rendered as live HTML
INLINE_TYPES = {"image/png", "image/jpeg", "image/webp"}
EMAIL_PREVIEW_CHARS = 5000
OCR_EXCERPT_CHARS = 400  #: text read in an uploaded picture, shown on the case page


#: what a refusal or failure means to the person reading the case (the technical reason is shown too)
REASONS = {
    "blocked_address": _l("Værn may not open this address: it points into a private or internal network."),
    "unresolvable": _l("The address's host name could not be found. Check the address."),
    "malformed": _l("The address could not be read. Copy it again from the browser's address bar."),
    "port": _l("Værn only opens ordinary web addresses (ports 80 and 443)."),
    "scheme": _l("Only http:// and https:// addresses can be captured."),
    "userinfo": _l("The address contains a user name or password, which Værn does not open."),
    "too_long": _l("The address is too long."),
    "unsupported_type": _l("Værn cannot read this kind of file. Attach a picture, a PDF or an .eml e-mail."),
    "corrupt": _l("The file is damaged and cannot be read. Try saving or photographing it again."),
    "too_many_pixels": _l("The picture is too large to process safely. Attach a smaller version."),
    "too_large": _l("The file is larger than Værn accepts."),
    "empty": _l("The file is empty."),
    "attempts_exhausted": _l("Værn could not secure the page after 3 attempts — take a picture of the screen."),
}


#: what each file of a bundle is, for people who do not know MHTML from WARC
ROLE_LABELS = {role: _l(msgid) for role, msgid in vocabulary.ARTIFACT_ROLES.items()}


#: what the capture found, said plainly (status codes from capture/)
CAPTURE_STATUS = {
    "consent_dismissed": _l("A cookie dialog was shown. Værn rejected optional cookies or closed the dialog without "
                            "consenting; the page as first shown is kept too."),
    "consent_accepted": _l("A cookie dialog could not be rejected or closed, so Værn accepted cookies to see the "
                           "content. The capture shows the page as it looks after accepting; the dialog is kept too."),
    "consent_wall": _l("A window (for example a cookie dialog) still covered the content after Værn tried to "
                       "remove it. The capture does not show the post."),
    "login_wall": _l("The page asked for a login, or a login page was shown instead of the post; the post may "
                     "not be visible in the capture."),
    "navigated_away": _l("The page sent the browser on to another website. The capture shows where it ended, "
                         "not necessarily the post; the chain of addresses is in the manifest."),
    "not_found": _l("The page says the content does not exist (removed, or a wrong address)."),
    "blocked_by_policy": _l("The address, or one the page sent the browser on to, led into a network Værn may not "
                            "open; the capture shows at most Værn's own block page, not the post."),
    "truncated": _l("The page was very long; the full-page screenshot is cut at the limit."),
    "timed_out": _l("The page did not finish loading in time; what had appeared is secured."),
    "failed": _l("The page could not be captured properly."),
}

#: the checklist step whose upload takes a photo of the screen (tracker/workflow/rules/response.toml)
PHOTO_STEP = "secure_evidence"


@bp.app_template_global("photo_step")
def photo_step() -> str:
    return PHOTO_STEP


@bp.app_template_test("post_not_seen")
def post_not_seen(status: str | None) -> bool:
    """The capture could not see the post: the case page asks for a photo of the screen."""
    return status in POST_NOT_SEEN


CHANNEL_LABELS = {
    "dsa_notice_url": _l("Report illegal content (DSA notice)"),
    "general_report_url": _l("Report form"),
    "privacy_report_url": _l("Privacy report"),
    "defamation_report_url": _l("Defamation report"),
    "email": _l("E-mail"),
}


@bp.app_template_global("channel_label")
def channel_label(kind: str) -> str:
    return str(CHANNEL_LABELS.get(kind, kind))


@bp.app_template_global("platform_of")
def platform_of(case):
    """The platform directory entry of the case (detected from its URL when the case was opened)."""
    if not case.platform:
        return None
    try:
        return runtime().platforms.get(case.platform)
    except KeyError:  # the directory was edited since: say nothing rather than something wrong
        return None


@bp.app_template_filter("capture_status_text")
def capture_status_text(status: str) -> str:
    return str(CAPTURE_STATUS.get(status, status))


@bp.app_template_filter("excerpt")
def excerpt_filter(text: str | None, limit: int = 140) -> str:
    """Cut at a word boundary with "…" (tracker.textcut)."""
    return excerpt(" ".join((text or "").split()), limit)


@bp.app_template_filter("role_label")
def role_label(role: str) -> str:
    return str(ROLE_LABELS.get(role, role))


@bp.app_template_filter("human_size")
def human_size(size: int, exact: bool = False) -> str | Markup:
    """``1,5 MB``, ``135 kB``, ``525 B`` (English ``1.5 MB``; 1 kB = 1000 bytes). With ``exact`` (evidence), a
    ``<data>`` element that keeps the byte count as its value and title."""
    text = file_size(size, page_language())
    if not exact:
        return text
    count = ngettext("%(count)s byte", "%(count)s bytes", size, count=format_decimal(size))
    return Markup('<data value="{}" title="{}">{}</data>').format(size, count, text)


@bp.app_template_filter("evidence_reason")
def evidence_reason(error: str | None) -> str:
    code = (error or "").split(":", 1)[0]
    return str(REASONS.get(code, _l("The capture did not succeed. Your leader can try again or attach a screenshot instead.")))


#: the case list's status filter: value → label
STATUS_FILTER = {"": _l("Open and closed"), "open": _l("Open"), "closed": _l("Closed")}
THUMB_WIDTH = 240  #: px; the case list's picture of the post
#: the picture a case list shows of a capture, best first (an image, never the captured HTML)
THUMB_NAMES = ("screenshot_post.png", "screenshot_viewport.png", "preview.png")


def thumbnail(case) -> tuple[Evidence, str] | None:
    """The evidence and file name of the first secured picture of the post (the post, else what was visible
    first, else an uploaded picture); None when nothing was secured yet."""
    for ev in case.evidence:
        if ev.state is not EvidenceState.done:
            continue
        names = {a.name: a for a in ev.artifacts}
        for name in THUMB_NAMES:
            if name in names:
                return ev, name
        original = next((a for a in ev.artifacts if a.role == "original" and a.media_type in INLINE_TYPES), None)
        if original is not None:
            return ev, original.name
    return None


@bp.route("/")
@login_required
def index():
    user = current_user.user
    session = db()
    status = request.args.get("status", "")
    if status not in STATUS_FILTER:
        status = ""
    rows = files.list_cases(session, user, status or None)
    rows, next_due = urgency_order(session, rows, workflow.rules(), utcnow())
    return render_template("cases/list.html", cases=rows, next_due=next_due, can_report=can_report(user),
                           is_admin_only=user.role is Role.admin, status=status, status_filter=STATUS_FILTER,
                           thumbnails={c.id: thumbnail(c) for c in rows}, excerpt_chars=LIST_EXCERPT_CHARS)


LIST_EXCERPT_CHARS = 140


def _case_or_404(ref: str, *, log_view: bool = False):
    try:
        if log_view:
            return view_case(db(), ref, current_user.user, rules=workflow.rules())
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
    flash_at = session.pop(workflow.FLASH_AT, None)  # the employee's page shows the outcome at its top
    if case_page.calm_view(current_user.user, case):  # the employee: evidence and next steps, no machinery
        return render_template("cases/employee.html", case=case, email_texts=_email_texts(case),
                               may_report=can_report(current_user.user),
                               **case_page.employee_context(case, current_user.user))
    page = workflow.page_context(case, current_user.user)
    context = dict(case=case, EvidenceState=EvidenceState,
                   email_texts=_email_texts(case), export_jobs=jobs_for(db(), current_user.user, case),
                   may_report=can_report(current_user.user), may_hold=can_hold(current_user.user, case),
                   **page, **case_page.cockpit_context(case, page), **case_page.redress_context(case),
                   **oversight.case_context(case, current_user.user))
    flashes = get_flashed_messages(with_categories=True)
    refused_at = flash_at if any(category == "error" for category, _text in flashes) else None  # its form opens again
    html = render_template("cases/detail.html", flashes=flashes, flash_at=flash_at, refused_at=refused_at, **context)
    if flashes and flash_at and "data-flash-placed" not in html:  # the form's place is gone (e.g. a step that
        html = render_template("cases/detail.html", flashes=flashes, flash_at=None, refused_at=None, **context)
    return html


def _email_texts(case) -> dict:
    """The text of uploaded e-mails, shown as plain (escaped) text since there is no picture of them."""
    texts = {}
    for ev in case.evidence:
        text = next((a for a in ev.artifacts if a.role == "text"), None)
        ocr = next((a for a in ev.artifacts if a.role == "ocr_text"), None)
        if ev.kind == "upload" and text is None and ocr is not None:
            try:
                body = runtime().blobs.read(ocr.sha256).decode("utf-8", "replace")
            except BlobError:
                continue
            texts[("ocr", ev.id)] = excerpt(body, OCR_EXCERPT_CHARS)
        replayed = any(a.role == "html" for a in ev.artifacts)  # a WACZ: its text is the page's, with pictures
        if ev.kind in ("upload", "statement") and text is not None and not replayed:
            try:
                body = runtime().blobs.read(text.sha256).decode("utf-8", "replace")
            except BlobError:
                continue
            texts[ev.id] = body[:EMAIL_PREVIEW_CHARS] + ("…" if len(body) > EMAIL_PREVIEW_CHARS else "")
    return texts


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
    thumb = request.args.get("thumb") == "1"
    try:
        opened = files.open_artifact(db(), runtime().blobs, current_user.user, case, evidence_id, name,
                                     inline_types=INLINE_TYPES, thumbnail=thumb)
    except NotFound:
        abort(404)
    except files.BrokenFile:
        abort_keeping(500)  # the integrity error is recorded
    ev, art, data, inline = opened.evidence, opened.artifact, opened.data, opened.inline
    thumb = thumb and inline
    if thumb:  # a small copy for the case list; the stored file is untouched
        data = _thumbnail(data)
        resp = Response(data, mimetype="image/png")
    else:
        resp = Response(data, mimetype=art.media_type if inline else "application/octet-stream")
    disposition = "inline" if inline else "attachment"
    resp.headers["Content-Disposition"] = f'{disposition}; filename="{case.ref}-{ev.id}-{art.name}"'
    resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    resp.headers["X-Evidence-SHA256"] = art.sha256
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


def _thumbnail(data: bytes) -> bytes:
    """A PNG at most THUMB_WIDTH wide and as tall as wide (the top of a tall picture)."""
    with Image.open(io.BytesIO(data)) as img:
        img = ImageOps.exif_transpose(img)
        if img.width > THUMB_WIDTH:
            img = img.resize((THUMB_WIDTH, max(1, round(img.height * THUMB_WIDTH / img.width))))
        img = img.crop((0, 0, img.width, min(img.height, img.width)))
        out = io.BytesIO()
        (img if img.mode in ("RGB", "RGBA", "L") else img.convert("RGB")).save(out, "PNG", optimize=True)
    return out.getvalue()
