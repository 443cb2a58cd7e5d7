"""The access package of one employee (GDPR art. 15): a ZIP with subject.json, the stored files and a Danish PDF.

Layout (paths ``/``-separated, sorted; docs/subject-access.md describes subject.json field by field)::

    README.txt                          Danish: what is here and how to check it
    SHA256SUMS                          ``sha256sum -c`` format; covers every other file
    manifest.json                       every file but itself and SHA256SUMS: path, size, SHA-256 (JSON)
    subject.json                        what Værn holds (schema vaern.subject-access/1)
    indsigt.pdf                         "Indsigt efter databeskyttelsesforordningens artikel 15"
    cases/<ref>/evidence/<id>/<name>    each stored evidence file, byte for byte (its SHA-256 is its name in the store)
    cases/<ref>/attachments/<id>        each uploaded step attachment
    cases/<ref>/letters/<id>.txt        each letter's subject and text

What is "about them" is decided in ``tracker.privacy.subject_access``. Given the same database and ``now``,
subject.json, the letters, README.txt, manifest entries of stored files and the ZIP's order and timestamps are
the same; the PDF is printed by Chromium, whose output was not checked for byte-identity (its hash is in the
manifest like every file's). Blobs are streamed through the verifying reader: a corrupt blob stops the package.
"""
from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy.orm import Session

from storage.models import User
from storage.types import utcnow
from tracker import __version__
from tracker.privacy.subject_access import WITHHELD, SubjectAccess, gather
from tracker.packaging import vocabulary
from tracker.packaging.export import SAFE_NAME, ExportedPackage, _blob_entry, _bytes_entry, _Entry, _write_zip
from tracker.packaging.reports import TEMPLATES, _both

if TYPE_CHECKING:
    from tracker.adapters.runtime import Runtime

README, SUMS, MANIFEST, DOCUMENT, PDF = "README.txt", "SHA256SUMS", "manifest.json", "subject.json", "indsigt.pdf"
MANIFEST_SCHEMA = "vaern.subject-access-manifest/1"
TITLE = "Indsigt efter databeskyttelsesforordningens artikel 15"


def json_bytes(obj: object) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")


def gather_for(rt: "Runtime", session: Session, subject: User, now: datetime) -> SubjectAccess:
    """``gather`` with the retention rules in force and the checklist's step names."""
    return gather(session, subject, retention=rt.retention, now=now, step_label=_step_label(rt),
                  safe_name=lambda name: bool(SAFE_NAME.match(name)))


def write_subject_export(rt: "Runtime", session: Session, subject: User, out: str | os.PathLike[str], *,
                         now: datetime | None = None) -> ExportedPackage:
    """Write the access package of ``subject`` to ``out`` (never overwritten: FileExistsError).

    Raises DomainError("blob_corrupt") when a stored file no longer matches its SHA-256, and
    capture.pdf.PdfRenderFailed when the PDF cannot be printed.
    """
    out = Path(out)
    if out.exists():
        raise FileExistsError(f"{out} exists: an access package is never overwritten")
    now = (now or utcnow()).replace(microsecond=0)
    access = gather_for(rt, session, subject, now)
    entries: list[_Entry] = [_blob_entry(rt, f.path, f.sha256, f.size) for f in access.files]
    for case_doc in access.document["cases"]:
        for letter in case_doc["letters"]:
            text = f"Emne: {letter['subject']}\n\n{letter['body']}\n"
            entries.append(_bytes_entry(f"cases/{case_doc['ref']}/letters/{letter['id']}.txt", text.encode()))
    entries.append(_bytes_entry(DOCUMENT, json_bytes(access.document)))
    entries.append(_bytes_entry(PDF, subject_pdf(rt, access, now)))
    entries.sort(key=lambda e: e.path)
    entries.insert(0, _bytes_entry(README, readme(access, now).encode()))
    entries.append(_bytes_entry(MANIFEST, json_bytes(manifest(entries, access))))
    evidence = sum(len(c["evidence"]) for c in access.document["cases"])
    return _write_zip(rt, entries, out, now, evidence=evidence)


def manifest(entries: list[_Entry], access: SubjectAccess) -> dict[str, Any]:
    """manifest.json: every file's path, size and SHA-256 (stored files by their content address)."""
    stored = {f.path: f.sha256 for f in access.files}
    rows = []
    for e in sorted(entries, key=lambda e: e.path):
        sha = stored.get(e.path) or hashlib.sha256(b"".join(e.chunks())).hexdigest()
        rows.append({"path": e.path, "size": e.size, "sha256": sha})
    return {"schema": MANIFEST_SCHEMA, "subject_id": access.subject_id,
            "exported_at": access.document["exported_at"], "files": rows}


# -- the PDF ----------------------------------------------------------------------------------------------
def subject_pdf(rt: "Runtime", access: SubjectAccess, now: datetime) -> bytes:
    """The Danish summary, printed by Chromium without network (rt.print_pdf)."""
    doc = access.document
    return rt.print_pdf(subject_html(rt, access, now), header=f"Værn · {TITLE}",
                        footer=f"{doc['subject']['name']} · dannet {_both(now)['short']}",
                        page_label="Side {page} af {pages}", timeout_seconds=60.0)


def subject_html(rt: "Runtime", access: SubjectAccess, now: datetime) -> str:
    """The self-contained HTML the PDF is printed from."""
    doc = access.document
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    return env.get_template("subject_access.html.j2").render(
        title=TITLE, doc=doc, generated=_both(now), created=_when(doc["subject"]["created_at"]), vaern_version=__version__, cases=[_case_view(c) for c in doc["cases"]],
        role=vocabulary.danish(vocabulary.PERSON_ROLES, doc["subject"]["role"], doc["subject"]["role"]),
        counts=_counts(doc, access), recipients=_recipients(doc, _step_label(rt)), withheld=WITHHELD,
        retention=rt.retention.rules, storage="S3" if rt.blobs.kind == "s3" else "local")


def _counts(doc: dict, access: SubjectAccess) -> dict[str, int]:
    cases = doc["cases"]
    return {"cases": len(cases), "evidence": sum(len(c["evidence"]) for c in cases), "files": len(access.files),
            "letters": sum(len(c["letters"]) for c in cases), "events": len(doc["audit_events"]),
            "reported_for_others": len(doc["cases_reported_for_others"]),
            "withheld_events": sum(1 for e in doc["audit_events"] if e["details_withheld"])}


def _when(iso: str | None) -> dict[str, str] | None:
    return _both(datetime.fromisoformat(iso)) if iso else None


def _case_view(c: dict) -> dict[str, Any]:
    ret = c["retention"]
    if ret["state"] == "erased":
        due = f"Sagens indhold blev slettet {_when(ret['erased_at'])['short']} efter reglen «{ret['rule']}»."
    elif ret["state"] == "legal_hold":
        due = "Sagen er tilbageholdt af retlige grunde og slettes ikke, før tilbageholdelsen ophæves."
    elif ret["state"] == "open":
        keep = (f"{ret['keep_after_closing_years']} år" if ret.get("keep_after_closing_years") is not None
                else f"{ret['keep_after_closing_days']} dage")
        due = f"Sagen er åben. Efter lukning gemmes den {keep} (reglen «{ret['rule']}»)."
    elif ret["state"] == "closed":
        due = f"Sagens indhold slettes {_when(ret['due_at'])['short']} (reglen «{ret['rule']}»)."
    else:
        due = "Ingen håndhævet slettefrist for lukkede sager er sat op."
    return {"ref": c["ref"], "unit": c["unit"], "status": "Lukket" if c["status"] == "closed" else "Åben",
            "created": _when(c["created_at"]), "category": vocabulary.danish(vocabulary.CATEGORIES, c["category"]),
            "evidence": len(c["evidence"]), "letters": len(c["letters"]), "attachments": len(c["attachments"]),
            "due": due, "folder": f"cases/{c['ref']}"}


def _step_label(rt: "Runtime"):
    def label(step_id: str) -> str:
        try:
            return rt.rules.step(step_id).label_da
        except Exception:  # noqa: BLE001 - a step removed from the rules since: its id
            return step_id
    return label


def _recipients(doc: dict, label) -> list[str]:
    """Who the data was handed to outside Værn: the letters sent and the steps sent through a channel."""
    out = []
    for c in doc["cases"]:
        for le in c["letters"]:
            if le["state"] == "sent":
                out.append(f"Sag {c['ref']}: brev til {le['recipient_da'] or le['template']}, "
                           f"sendt {_when(le['sent_at'])['short']}.")
        for s in c["steps"]:
            if s["sent_at"]:
                out.append(f"Sag {c['ref']}: trinnet «{label(s['step'])}» sendt {_when(s['sent_at'])['short']}"
                           + (f" via {s['channel']}." if s["channel"] else "."))
    return out


def readme(access: SubjectAccess, now: datetime) -> str:
    doc = access.document
    return f"""Værn — {TITLE}
Dannet: {_both(now)['dk']}, Værn {__version__}
Den registrerede: {doc['subject']['name']} ({doc['subject']['email']})

Pakken indeholder de oplysninger, Værn har om dig. indsigt.pdf forklarer dem på dansk.

Indhold
  {README:<34}denne vejledning
  {SUMS:<34}SHA-256 af alle andre filer (kontrol: sha256sum -c SHA256SUMS)
  {MANIFEST:<34}sti, størrelse og SHA-256 af hver fil (JSON)
  {DOCUMENT:<34}alle oplysninger som JSON (skema {doc['schema']})
  {PDF:<34}sammenfatning på dansk
  cases/SAG/evidence/NR/FIL          beviserne i dine sager, uændrede
  cases/SAG/attachments/NR           vedhæftede filer i dine sager
  cases/SAG/letters/NR.txt           brevene i dine sager

Sådan kontrollerer du pakken
  unzip PAKKE.zip -d pakke && cd pakke
  sha256sum -c SHA256SUMS        (hver linje skal ende med "OK"; på macOS: shasum -a 256 -c SHA256SUMS)
Bevisfilerne ligger i Værn under deres SHA-256; den står ud for hver fil i subject.json og manifest.json.
"""

