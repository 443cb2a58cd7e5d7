"""Evidence reports: one capture, or a whole case, as a Danish PDF for the police, a platform or a court.

The report says what each capture shows and, just as plainly, what it does not; it lists every file's
SHA-256, the trusted timestamp, the method and the chain of custody, and how to check all of it with
standard tools. Everything captured is shown as escaped text or as an image, never as live HTML, and
the PDF is printed by a Chromium that cannot reach the network (capture/pdf.py, through ``rt.print_pdfs``).
These functions read; recording the download as an audit event is the caller's business.

Long because a report is one document: what it gathers for each capture (files, timestamp, custody,
limits) and how it phrases and lays that out are read side by side with report_templates/.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from PIL import Image, ImageOps
from sqlalchemy import select
from sqlalchemy.orm import Session

from capture.errors import TimestampError
from capture.timestamp import verify_timestamp
from capture.judge import COVER_UNMEASURED, POST_NOT_SEEN
from capture.manifest import POST_EXCERPT_CHARS
from storage.blobs import BlobError
from storage.models import AuditEvent, Case, Evidence, User
from tracker import __version__
from tracker.oversight import audit
from tracker.cases.casefile import case_overview
from tracker.oversight.event_text import sentence
from tracker.oversight.history import CUSTODY_ACTIONS, names_for
from tracker.packaging import vocabulary
from tracker.textcut import excerpt
from tracker.packaging.wacz_report import wacz_lines
from tracker.wording import file_size

if TYPE_CHECKING:  # the record module imports the audit chain, which imports the export jobs, which import this
    from tracker.privacy.processing_record import ProcessingRecord

TEMPLATES = Path(__file__).resolve().parent / "report_templates"
CPH = ZoneInfo("Europe/Copenhagen")
#: where an evidence's files lie in the export package (tracker/packaging/export.py writes the same layout)
PACKAGE_EVIDENCE_DIR = "evidence/{id}"
IMAGE_MAX_WIDTH = 1280  #: px; wider images are scaled down for the report (the originals stay in the package)
SLICE_RATIO = 1.25  #: a full-page screenshot is cut into slices this many times as tall as wide (one per page)
MAX_FULL_SLICES = 6  #: more of a very tall page is left to the package, and the report says so
EXCERPT_CHARS = 4000  #: captured text shown in the report at most


# -- public API -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Printable:
    """A report ready to print: its HTML, the line above and below each page, and how long it may take."""

    html: str
    header: str
    footer: str
    page_label: str
    timeout_seconds: float


def evidence_report_pdf(rt, session: Session, evidence: Evidence, *, now: datetime | None = None) -> bytes:
    """The PDF report of one evidence (capture or upload); raises capture.pdf.PdfRenderFailed."""
    return print_reports(rt, [evidence_report_printable(rt, session, evidence, now=now)])[0]


def case_report_pdf(rt, session: Session, case: Case, *, now: datetime | None = None) -> bytes:
    """The PDF report of a case with every capture; raises capture.pdf.PdfRenderFailed."""
    return print_reports(rt, [case_report_printable(rt, session, case, now=now)])[0]


def print_reports(rt, reports: list[Printable]) -> list[bytes]:
    """The PDFs of several reports, in their order, printed by one Chromium (one start-up for all)."""
    return rt.print_pdfs([(r.html, r.header, r.footer, r.page_label) for r in reports],
                         timeout_seconds=sum(r.timeout_seconds for r in reports))


def evidence_report_printable(rt, session: Session, evidence: Evidence, *, now: datetime | None = None) -> Printable:
    return Printable(evidence_report_html(rt, session, evidence, now=now),
                     header=f"Værn · Bevisrapport · Sag {evidence.case.ref} · Bevis nr. {evidence.id}",
                     footer=_footer_fingerprint(evidence), page_label="Side {page} af {pages}",
                     timeout_seconds=_timeout(1))


def case_report_printable(rt, session: Session, case: Case, *, now: datetime | None = None) -> Printable:
    return Printable(case_report_html(rt, session, case, now=now),
                     header=f"Værn · Sagsrapport · Sag {case.ref} · {case.unit.name}",
                     footer=f"Sag {case.ref} · {len(case.evidence)} bevis(er)", page_label="Side {page} af {pages}",
                     timeout_seconds=_timeout(len(case.evidence)))


def evidence_report_html(rt, session: Session, evidence: Evidence, *, now: datetime | None = None) -> str:
    """The self-contained HTML (images as data: URIs) the evidence report is printed from."""
    now = now or datetime.now(timezone.utc)
    case = evidence.case
    events = _case_events(session, case)
    view = evidence_view(rt, session, evidence, number=1, events=events)
    return _env().get_template("evidence_report.html.j2").render(
        case=_case_head(rt, case), ev=view, generated=_both(now.replace(microsecond=0)), vaern_version=__version__)


def case_report_html(rt, session: Session, case: Case, *, now: datetime | None = None) -> str:
    """The self-contained HTML the case report is printed from."""
    now = now or datetime.now(timezone.utc)
    events = _case_events(session, case)
    views = [evidence_view(rt, session, ev, number=i, events=events) for i, ev in enumerate(case.evidence, 1)]
    return _env().get_template("case_report.html.j2").render(
        case=_case_head(rt, case), overview=_overview(rt, session, case, now), evidence=views,
        custody=_custody(rt, session, events), generated=_both(now.replace(microsecond=0)),
        vaern_version=__version__)


def processing_record_pdf(rt, record: "ProcessingRecord") -> bytes:
    """The record of processing (tracker.privacy.processing_record) as a Danish PDF; raises PdfRenderFailed."""
    return rt.print_pdf(processing_record_html(record), header=f"Værn · {record.title}",
                        footer=f"Dannet {_both(record.generated_at)['dk']} · {record.controller}",
                        page_label="Side {page} af {pages}", timeout_seconds=_timeout(1))


def processing_record_html(record: "ProcessingRecord") -> str:
    """The self-contained HTML the record's PDF is printed from."""
    return _env().get_template("processing_record.html.j2").render(r=record, generated=_both(record.generated_at))


def processing_record_markdown(record: "ProcessingRecord") -> str:
    """The record as Markdown, for the municipality to paste into its own record."""
    return _markdown_env().get_template("processing_record.md.j2").render(
        r=record, generated=_both(record.generated_at)).strip() + "\n"


def package_dir(evidence: Evidence) -> str:
    """The evidence's folder inside the export package, e.g. ``evidence/17``."""
    return PACKAGE_EVIDENCE_DIR.format(id=evidence.id)


# -- one evidence -----------------------------------------------------------------------------------
def evidence_view(rt, session: Session, ev: Evidence, *, number: int, events: list[AuditEvent]) -> dict[str, Any]:
    """Everything the report shows of one evidence, as strings, lists and dicts ready for the template."""
    manifest, manifest_bytes, manifest_problem = _manifest(rt, ev)
    creator = session.get(User, ev.created_by_id)
    blobs = {a.name: a for a in ev.artifacts}
    view: dict[str, Any] = {
        "number": number, "id": ev.id, "kind": ev.kind, "state": ev.state.value, "error": ev.error,
        "source_url": ev.source_url, "original_filename": ev.original_filename,
        "requested_by": _person(creator), "requested_at": _both(ev.created_at),
        "finished_at": _both(ev.finished_at), "fingerprint": ev.fingerprint,
        "status": ev.capture_status, "status_name": vocabulary.danish(vocabulary.CAPTURE_STATUS_NAMES, ev.capture_status, ev.capture_status),
        "status_text": _status_text(ev, manifest),
        "photo_request": _photo_request(rt, ev),
        "manifest": manifest is not None, "manifest_problem": manifest_problem,
        "manifest_ok": manifest_bytes is not None and hashlib.sha256(manifest_bytes).hexdigest() == ev.fingerprint,
        "dir": package_dir(ev),
        "artifacts": [_artifact_row(rt, a) for a in ev.artifacts],
        "timestamp": _timestamp(rt, ev, manifest_bytes, events),
        "timestamp_error": ev.timestamp_error,
        "custody": _custody(rt, session, [e for e in events if _concerns(e, ev)]),
    }
    view["all_intact"] = view["manifest_ok"] and all(a["intact"] for a in view["artifacts"])
    if manifest is None:
        return view
    view["times"] = {"start": _both(_iso(manifest.get("started_at_utc"))),
                     "end": _both(_iso(manifest.get("ended_at_utc")))}
    view["method"] = _method(manifest)
    view["hashes"] = {"perceptual": manifest.get("perceptual_hashes"), "text_sha256": manifest.get("text_sha256")}
    if ev.kind == "url":
        view["web"] = _web(manifest)
        view["images"] = _url_images(rt, blobs)
    else:
        view["upload"] = _upload(rt, manifest, blobs)
        view["upload"]["wacz"] = wacz_lines(manifest.get("wacz"))  # a WACZ: what was and was not checked
        # a WACZ's pictures are the screenshots of its offline replay, named as a URL capture's
        view["images"] = _url_images(rt, blobs) if manifest.get("wacz") else _upload_images(rt, manifest, blobs)
    view["text"] = _text_excerpt(rt, blobs, manifest)
    return view


def _photo_request(rt, ev: Evidence) -> dict[str, str] | None:
    """When the capture could not see the post: ask for a photo of the screen, and say where it goes."""
    if ev.kind != "url" or ev.capture_status not in POST_NOT_SEEN:
        return None
    link = f"{rt.settings.base_url.rstrip('/')}/cases/{ev.case.ref}#step-{PHOTO_STEP}"
    return {"text": vocabulary.danish_text(vocabulary.PHOTO_REQUEST).format(ref=ev.case.ref), "link": link}


def _manifest(rt, ev: Evidence) -> tuple[dict[str, Any] | None, bytes | None, str | None]:
    if not ev.manifest_sha256:
        return None, None, None
    try:
        data = rt.blobs.read(ev.manifest_sha256)
    except BlobError as exc:
        return None, None, str(exc)
    return json.loads(data), data, None


def _artifact_row(rt, art) -> dict[str, Any]:
    try:
        rt.blobs.verify(art.sha256)
        intact = True
    except BlobError:
        intact = False
    return {"name": art.name, "what": vocabulary.danish(vocabulary.ARTIFACT_ROLES, art.role, art.role), "media_type": art.media_type,
            "size": _size(art.size), "sha256": art.sha256, "intact": intact}


def _web(m: dict[str, Any]) -> dict[str, Any]:
    http = m.get("http") or {}
    headers = http.get("headers") or {}
    post = m.get("post") or {}
    meta = m.get("meta") or {}
    return {
        "requested_url": m.get("requested_url"), "final_url": m.get("final_url"),
        "redirects": m.get("redirect_chain") or [], "http_status": http.get("status"),
        # the page's own moves (meta refresh, script); shown when it moved at least once
        "navigations": list(m.get("navigation_chain") or [])
        if any(n.get("via") == "page" for n in m.get("navigation_chain") or []) else [],
        "content_type": headers.get("content-type"), "server_date": _http_date(headers.get("date")),
        "server_ip": m.get("server_ip"), "tls": m.get("tls"), "title": m.get("title"),
        "platform": _adapter_name(m.get("platform")), "post_id": post.get("id"), "author_handle": post.get("author_handle"),
        "author_profile_url": post.get("author_profile_url"),
        "published": _page_time(meta.get("article:published_time")), "meta_author": meta.get("author"),
        "warc": m.get("warc"), "truncated": m.get("truncated"),
        "blocked": (m.get("blocked_requests") or [])[:20], "blocked_total": len(m.get("blocked_requests") or []),
    }


def _method(m: dict[str, Any]) -> dict[str, Any]:
    viewport = m.get("viewport") or {}
    return {
        "versions": sorted((m.get("versions") or {}).items()), "operator": m.get("operator"),
        "user_agent": m.get("user_agent"), "locale": m.get("locale"), "timezone": m.get("timezone"),
        "viewport": f"{viewport['width']} × {viewport['height']} px (skalering {viewport.get('device_scale_factor', 1)})"
        if viewport else None,
        "actions": [{"at": _both(_iso(a.get("at"))), "step": a.get("step"), "detail": a.get("detail")}
                    for a in m.get("actions") or []],
        "notes": m.get("notes") or [], "capture_id": m.get("capture_id"), "schema": m.get("schema"),
    }


def _upload(rt, m: dict[str, Any], blobs: dict) -> dict[str, Any]:
    exif = m.get("exif") or {}
    gps = exif.get("gps") or {}
    return {
        "original": m.get("original") or {}, "size": _size((m.get("original") or {}).get("size") or 0),
        "image": m.get("image"), "pdf": m.get("pdf"),
        "email": m.get("email"),
        "exif": None if not exif else {
            "present": exif.get("present"), "camera": " ".join(filter(None, (exif.get("camera_make"),
                                                                             exif.get("camera_model")))) or None,
            "taken": _exif_time(exif.get("datetime_original") or exif.get("datetime")),
            "offset": exif.get("offset_time_original"), "software": exif.get("software"),
            "gps": bool(gps.get("present")), "error": exif.get("error")},
    }


def _text_excerpt(rt, blobs: dict, m: dict[str, Any]) -> dict[str, Any] | None:
    """The post's text as captured (or the e-mail's), cut to EXCERPT_CHARS; shown escaped."""
    post = m.get("post") or {}
    if post.get("text_excerpt"):
        text = post["text_excerpt"]
        if len(text) >= POST_EXCERPT_CHARS:  # the capture cut it at its limit, maybe mid-word
            text = excerpt(text, len(text) - 1)
        return {"source": "post", "text": excerpt(text, EXCERPT_CHARS), "cut": False}
    art = blobs.get("text.txt")
    source = "text.txt"
    if art is None and "statement.txt" in blobs:  # the employee's statement (capture/statement.py)
        art, source = blobs["statement.txt"], "statement"
    if art is None and "ocr.txt" in blobs:
        art, source = blobs["ocr.txt"], "ocr"
    if art is None:
        return None
    try:
        text = rt.blobs.read(art.sha256).decode("utf-8", errors="replace")
    except BlobError:
        return None
    return {"source": source, "text": excerpt(text, EXCERPT_CHARS), "cut": len(text.strip()) > EXCERPT_CHARS}


# -- images: shown scaled, the originals stay in the package ------------------------------------------
def _url_images(rt, blobs: dict) -> list[dict[str, Any]]:
    figures = []
    for name, title, caption in (
        ("screenshot_post.png", "Opslaget", "Udsnit af siden med selve opslaget."),
        ("screenshot_viewport.png", "Første skærmbillede",
         "Det, en besøgende så først i et vindue på browserens størrelse."),
        ("screenshot_wall.png", "Cookie- eller login-væg, før Værn klikkede",
         "Siden, som den så ud, inden Værn lukkede dialogen (se handlingerne)."),
    ):
        if name in blobs:
            figures.append(_figure(rt, blobs[name], title, caption))
    full, viewport = blobs.get("screenshot_full.png"), blobs.get("screenshot_viewport.png")
    if full is not None:
        if viewport is not None and full.sha256 == viewport.sha256:
            figures.append({"title": "Hele siden", "name": full.name, "sha256": full.sha256, "images": [],
                            "note": "Siden var ikke højere end vinduet: billedet af hele siden er det samme som "
                                    "det første skærmbillede (samme SHA-256)."})
        else:
            figures.append(_figure(rt, full, "Hele siden", "Hele den sikrede side, delt over flere sider.",
                                   sliced=True))
    return figures


def _upload_images(rt, m: dict[str, Any], blobs: dict) -> list[dict[str, Any]]:
    preview = blobs.get("preview.png")
    original = next((a for a in blobs.values() if a.role == "original"), None)
    if preview is not None:
        return [_figure(rt, preview, "Det uploadede billede",
                        "Vist som PNG-kopi, fordi originalens format ikke kan vises alle steder.")]
    if original is not None and (m.get("image") is not None):
        return [_figure(rt, original, "Det uploadede billede", "Den fil, der blev uploadet.")]
    return []


def _figure(rt, art, title: str, caption: str, sliced: bool = False) -> dict[str, Any]:
    figure = {"title": title, "caption": caption, "name": art.name, "sha256": art.sha256, "images": [],
              "note": None}
    try:
        with Image.open(io.BytesIO(rt.blobs.read(art.sha256))) as img:
            img.load()
            shown = ImageOps.exif_transpose(img)
    except BlobError as exc:
        figure["note"] = f"Billedet kunne ikke læses fra lageret: {exc}"
        return figure
    except Exception as exc:  # noqa: BLE001 - a picture the report cannot decode is named, not fatal
        figure["note"] = f"Billedet kan ikke vises i rapporten ({type(exc).__name__}); filen ligger i pakken."
        return figure
    figure["size"] = f"{img.width} × {img.height} px"
    #: wide pictures share a page (two per page); tall ones and page slices may take a whole page
    figure["large"] = sliced or shown.height > shown.width * 0.8
    if shown.width > IMAGE_MAX_WIDTH:
        shown = shown.resize((IMAGE_MAX_WIDTH, max(1, round(shown.height * IMAGE_MAX_WIDTH / shown.width))),
                             Image.Resampling.LANCZOS)
    slice_height = round(shown.width * SLICE_RATIO)
    if not sliced or shown.height <= slice_height:
        figure["images"] = [_data_uri(shown, art.media_type)]
        figure["scaled"] = shown.width != img.width
        return figure
    tops = list(range(0, shown.height, slice_height))
    figure["images"] = [_data_uri(shown.crop((0, top, shown.width, min(top + slice_height, shown.height))),
                                  art.media_type) for top in tops[:MAX_FULL_SLICES]]
    figure["scaled"] = shown.width != img.width
    figure["slices"] = len(tops)
    if len(tops) > MAX_FULL_SLICES:
        figure["note"] = (f"Siden er meget lang: rapporten viser de første {MAX_FULL_SLICES} af {len(tops)} dele. "
                          f"Hele billedet er filen {art.name} i pakken.")
    return figure


def _data_uri(img: Image.Image, media_type: str) -> str:
    out = io.BytesIO()
    if media_type == "image/jpeg":
        img.convert("RGB").save(out, "JPEG", quality=88)
        kind = "image/jpeg"
    else:
        (img if img.mode in ("RGB", "RGBA", "L", "LA") else img.convert("RGBA")).save(out, "PNG")
        kind = "image/png"
    return f"data:{kind};base64,{base64.b64encode(out.getvalue()).decode('ascii')}"


# -- the trusted timestamp ----------------------------------------------------------------------------
def _timestamp(rt, ev: Evidence, manifest_bytes: bytes | None, events: list[AuditEvent]) -> dict[str, Any] | None:
    """What the RFC 3161 token says, read from the token itself, and whether it verifies now."""
    if not ev.timestamp_sha256:
        return None
    from cryptography import x509
    from rfc3161_client import decode_timestamp_response

    out: dict[str, Any] = {"gen_time": _both(ev.timestamp_gen_time), "tsa_url": None, "late": False}
    for e in events:
        if e.object_id != str(ev.id):
            continue
        if e.action == "evidence.timestamped":
            out["tsa_url"], out["late"] = (e.details or {}).get("tsa"), True
        elif e.action == "evidence.captured" and (e.details or {}).get("tsa") and not out["late"]:
            out["tsa_url"] = e.details["tsa"]  # recorded since the TSA address went into the event
    try:
        tsr = rt.blobs.read(ev.timestamp_sha256)
        response = decode_timestamp_response(tsr)
        info, signed = response.tst_info, response.signed_data
    except Exception as exc:  # noqa: BLE001 - a token the report cannot read is named, not fatal
        out["problem"] = f"Tokenet kunne ikke læses: {exc}"
        return out
    out["gen_time"] = _both(info.gen_time if info.gen_time.tzinfo else info.gen_time.replace(tzinfo=timezone.utc))
    out["serial"] = str(info.serial_number)
    out["policy"] = info.policy.dotted_string
    out["hash_algorithm"] = _HASH_NAMES.get(info.message_imprint.hash_algorithm.dotted_string,
                                            info.message_imprint.hash_algorithm.dotted_string)
    out["imprint"] = info.message_imprint.message.hex()
    out["imprint_is_fingerprint"] = out["imprint"] == ev.fingerprint
    if info.accuracy is not None:
        acc = info.accuracy
        parts = [f"{v} {unit}" for v, unit in ((acc.seconds, "s"), (acc.millis, "ms"), (acc.micros, "µs")) if v]
        out["accuracy"] = "± " + " ".join(parts or ["0 s"])
    subjects, issuers = [], []
    for der in signed.certificates:
        cert = x509.load_der_x509_certificate(der)
        subjects.append(cert.subject.rfc4514_string())
        issuers.append(cert.issuer.rfc4514_string())
    out["signers"] = [{"subject": s, "issuer": i} for s, i in zip(subjects, issuers)]
    out["tsa_url"] = out["tsa_url"] or rt.capture_options.tsa_url
    ca_file = rt.capture_options.tsa_ca_file
    if ca_file and manifest_bytes is not None:
        try:
            verify_timestamp(tsr, manifest_bytes, ca_file)
            out["verified"] = True
        except TimestampError as exc:
            out["verified"], out["verify_problem"] = False, exc.reason
    else:
        out["verified"] = None
    return out


_HASH_NAMES = {"2.16.840.1.101.3.4.2.1": "SHA-256", "2.16.840.1.101.3.4.2.2": "SHA-384",
               "2.16.840.1.101.3.4.2.3": "SHA-512", "1.3.14.3.2.26": "SHA-1"}


# -- chain of custody ---------------------------------------------------------------------------------
def _case_events(session: Session, case: Case) -> list[AuditEvent]:
    return list(session.execute(select(AuditEvent).where(AuditEvent.case_id == case.id)
                                .order_by(AuditEvent.id)).scalars())


def _concerns(e: AuditEvent, ev: Evidence) -> bool:
    """Custody events about this evidence or its files, and the case-wide ones that handed it on (exports)."""
    if e.action not in CUSTODY_ACTIONS:
        return False
    details = e.details or {}
    if e.object_type == "evidence":
        return e.object_id == str(ev.id)
    if e.object_type == "artifact":
        return details.get("evidence") == ev.id or e.object_id in {a.sha256 for a in ev.artifacts}
    if e.object_type == "recheck":
        return ev.id in (details.get("evidence_id"), details.get("baseline_evidence_id"))
    return e.object_type == "case"


def _custody(rt, session: Session, events: list[AuditEvent]) -> list[dict[str, Any]]:
    """The chain of custody (history.CUSTODY_ACTIONS), each event said as a Danish sentence with its hash.
    Views and downloads are not in it: they stay in the audit log."""
    events = [e for e in events if e.action in CUSTODY_ACTIONS]
    names = names_for(session, events, rules=rt.rules, lang="da")
    return [_event_row(session, e, names) for e in events]


def _event_row(session: Session, e: AuditEvent, names) -> dict[str, Any]:
    actor = session.get(User, e.actor_id) if e.actor_id is not None else None
    recomputed = hashlib.sha256(audit.stored_event_body(e)).hexdigest()
    who = _person(actor) if actor else {"name": "Værn (systemet)", "role": "", "email": ""}
    return {"id": e.id, "at": _both(e.at), "actor": who,
            "action": vocabulary.danish(vocabulary.AUDIT_ACTIONS, e.action, e.action), "code": e.action, "details": sentence(e, names),
            "hash": e.hash[:16], "hash_ok": recomputed == e.hash}


# -- the case -----------------------------------------------------------------------------------------
def _case_head(rt, case: Case) -> dict[str, Any]:
    return {"ref": case.ref, "unit": case.unit.name, "employee": _person(case.employee),
            "reporter": _person(case.reported_by), "same_person": case.employee_id == case.reported_by_id,
            "opened": _both(case.created_at), "episode": _both(case.episode_at), "status": case.status,
            "closed": _both(case.closed_at), "category": vocabulary.danish(vocabulary.CATEGORIES, case.category),
            "platform": _platform_name(rt, case.platform), "description": case.description}


def _overview(rt, session: Session, case: Case, now: datetime) -> dict[str, Any]:
    overview = case_overview(session, case, rt.rules, now)
    steps = [{"label": s["label_da"], "kind": s["kind"],
              "state": "Gælder ikke efter sagens oplysninger" if s["applies"] is False and s["state"] == "todo"
              else vocabulary.danish(vocabulary.STEP_STATES, s["state"], s["state"]),
              "reason": s["reason"], "done": _both(s["done_at"] or s["sent_at"]), "applies": s["applies"],
              "untouched": s["state"] == "todo" and s["applies"] is not False and not s["reason"]}
             for s in overview["steps"]]
    deadlines = [{"label": d["label"], "start": _both(d["start"]), "due": _both(d["due_at"]),
                  "state": vocabulary.danish(vocabulary.DEADLINE_STATES, d["state"], d["state"]), "source": d["legal_source"]}
                 for d in overview["deadlines"]]
    return {"steps": steps, "deadlines": deadlines}


def _adapter_name(adapter: str | None) -> str | None:
    """The capture's platform adapter; "generic" means Værn did not recognise the site."""
    return "ikke genkendt (almindelig hjemmeside)" if adapter == "generic" else adapter


def _platform_name(rt, platform_id: str | None) -> str | None:
    if not platform_id:
        return None
    try:
        return rt.platforms.get(platform_id).name
    except KeyError:
        return platform_id


# -- small formatting helpers -------------------------------------------------------------------------
def _person(user: User | None) -> dict[str, str]:
    """A person as the report names them: name, role in Danish, e-mail (to tell namesakes apart)."""
    if user is None:
        return {"name": "ukendt", "role": "", "email": ""}
    return {"name": user.name, "role": vocabulary.danish(vocabulary.PERSON_ROLES, user.role.value, user.role.value), "email": user.email}


def _page_time(value: str | None) -> str | None:
    """A time the page states (e.g. article:published_time) as ``05.12.2026 kl. 11.05``; as given if unreadable
    or without a time zone (then it cannot be placed in Danish time)."""
    dt = _iso(value)
    if dt is None or dt.tzinfo is None:
        return value
    return _both(dt)["short"]


def _http_date(value: str | None) -> str | None:
    """The server's Date header in Danish time, with the header as sent (it is the server's own claim)."""
    if not value:
        return None
    try:
        dt = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return value
    return f"{_both(dt)['dk_sec']} (serveren sendte «{value}»)" if dt.tzinfo else value


def _exif_time(value: str | None) -> str | None:
    """EXIF's ``2026:11:20 21:14:03`` as ``20.11.2026 kl. 21.14.03`` (the camera's clock, no time zone)."""
    try:
        dt = datetime.strptime(str(value).strip(), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return value
    return f"{dt:%d.%m.%Y} kl. {dt:%H.%M.%S}"


def _iso(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _both(dt: datetime | None) -> dict[str, str] | None:
    """A moment in Danish time (with CET/CEST) and in UTC, as the report prints it."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    local = dt.astimezone(CPH)
    zone = local.tzname() or ""
    offset = int((local.utcoffset() or 0).total_seconds() // 3600) if local.utcoffset() is not None else 0
    utc = dt.astimezone(timezone.utc)
    micro = f".{utc.microsecond:06d}" if utc.microsecond else ""
    return {"dk": f"{local:%d.%m.%Y} kl. {local:%H.%M.%S} dansk tid ({zone}, UTC+{offset})",
            "utc": f"{utc:%Y-%m-%d %H:%M:%S}{micro} UTC",
            "short": f"{local:%d.%m.%Y} kl. {local:%H.%M}",
            "dk_sec": f"{local:%d.%m.%Y} kl. {local:%H.%M.%S}",
            "clock": f"kl. {local:%H.%M.%S}", "utc_clock": f"{utc:%H:%M:%S}{micro[:4]} UTC"}


def _size(n: int) -> str:
    """``1,2 MB (1.234.567 byte)``: the pages' decimal units (1 kB = 1000 bytes), with the exact count."""
    exact = f"{n:,}".replace(",", ".") + " byte"
    return exact if n < 1000 else f"{file_size(n, 'da')} ({exact})"


def _footer_fingerprint(ev: Evidence) -> str:
    return f"Fingeraftryk (SHA-256 af manifest.json): {ev.fingerprint}" if ev.fingerprint else \
        "Ikke sikret: intet fingeraftryk"


def _timeout(evidence_count: int) -> float:
    return 60.0 + 20.0 * max(0, evidence_count - 1)


@lru_cache(maxsize=1)
def _env() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                       trim_blocks=True, lstrip_blocks=True)


@lru_cache(maxsize=1)
def _markdown_env() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=False, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["md"] = _md_escape
    return env


def _md_escape(text: str) -> str:
    """Text from the data files as Markdown text: one line, with the characters Markdown would act on escaped."""
    out = " ".join(str(text).split())
    for ch in "\\*[]<>#|":  # an underscore inside a word (VAERN_DATA_DIR) is no emphasis in CommonMark
        out = out.replace(ch, "\\" + ch)
    return out


# -- what a capture's status means (the words: tracker.packaging.vocabulary) --------------------------
#: the case-page step where a photo of the screen is attached (tracker/workflow/rules/response.toml)
PHOTO_STEP = "secure_evidence"


def _status_text(ev: Evidence, manifest: dict[str, Any] | None) -> str:
    profile = (manifest or {}).get("profile") if ev.kind == "url" else None
    if profile:  # a capture profile (issue 14): whose login it saw the page with; never a cookie
        who = profile.get("account") or profile.get("name")
        said = vocabulary.danish_text(vocabulary.PROFILE_LOGGED_OUT if ev.capture_status == "login_wall"
                                      else vocabulary.PROFILE_USED) % {"who": who, "name": profile.get("name")}
        return f"{_plain_status_text(ev, manifest)} {said}".strip()
    return _plain_status_text(ev, manifest)


def _plain_status_text(ev: Evidence, manifest: dict[str, Any] | None) -> str:
    if ev.kind == "statement":
        return vocabulary.danish_text(vocabulary.STATEMENT_OK_TEXT) if ev.capture_status == "ok" else ""
    if ev.kind == "upload":
        return vocabulary.danish_text(vocabulary.UPLOAD_OK_TEXT) if ev.capture_status == "ok" else ""
    if ev.capture_status == "ok" and COVER_UNMEASURED in ((manifest or {}).get("notes") or []):
        return vocabulary.danish_text(vocabulary.OK_COVER_UNKNOWN_TEXT)
    return vocabulary.danish(vocabulary.CAPTURE_STATUS_TEXTS, ev.capture_status, "")


