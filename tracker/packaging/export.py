"""Case export package: one ZIP that an investigator verifies with ``sha256sum`` and ``openssl`` alone.

Layout of the package (paths are relative, ``/``-separated; each secured evidence has a folder named
by its evidence id, the "Bevis nr." of the reports, e.g. ``evidence/12``)::

    README.txt                        Danish first, then English: what is here and how to verify it
    SHA256SUMS                        ``sha256sum -c`` format (two spaces, sorted paths); covers every other file
    case-report.pdf                   the case report (tracker.packaging.reports.case_report_pdf)
    case.json                         the case's facts, steps and evidence list
    audit-extract.jsonl               the case's audit events, oldest first: id, at, actor, action, object,
                                      details, prev_hash, hash
    audit-hashed.jsonl                line N holds the exact bytes whose SHA-256 is line N's "hash"
    evidence/12/manifest.json         the capture's manifest; its SHA-256 is the evidence fingerprint
    evidence/12/<artifact>            every artifact by its name (screenshot_full.png, page.mhtml, text.txt, …)
    evidence/12/manifest.tsr          RFC 3161 token over manifest.json, when the capture was timestamped
    evidence/12/manifest.tsa-chain.pem  the TSA certificates the token was verified against when obtained
    evidence/12/report.pdf            the evidence report of that capture (tracker.packaging.reports.evidence_report_pdf)
    evidence/12/capture.wacz          a replayable WACZ of the capture's WARC, when it has one (tracker.packaging.wacz);
                                      a viewing aid, not evidence: it is not in manifest.json
    tsa/tsa-ca.pem                    the TSA's CA certificate(s) (settings.tsa_ca_file, and those stored with
                                      the tokens), when a token is included

Verifying (in the unzipped folder)::

    sha256sum -c SHA256SUMS
    openssl ts -verify -data evidence/12/manifest.json -in evidence/12/manifest.tsr -CAfile tsa/tsa-ca.pem

Only evidence that was secured (state done) gets a folder; failed and refused attempts are listed in
case.json with their reason. The ZIP is written to a temp file beside the target and linked into place
(an existing file is never overwritten); blobs are streamed through the verifying reader, so a corrupt
blob stops the export instead of shipping altered evidence.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from capture.bundle import MANIFEST_NAME, TIMESTAMP_NAME, TSA_CHAIN_NAME
from storage.blobs import BlobError
from storage.models import AuditEvent, Case, CaseClock, CaseStep, Evidence, EvidenceState, User
from storage.types import utcnow
from tracker import __version__
from tracker.oversight import audit
from tracker.errors import DomainError
from tracker.packaging.reports import case_report_printable, evidence_report_printable, print_reports
from tracker.packaging.wacz import WaczError, build_wacz

if TYPE_CHECKING:
    from tracker.adapters.runtime import Runtime

CPH = ZoneInfo("Europe/Copenhagen")
README = "README.txt"
SUMS = "SHA256SUMS"
CASE_REPORT = "case-report.pdf"
CASE_JSON = "case.json"
AUDIT_EXTRACT = "audit-extract.jsonl"
AUDIT_HASHED = "audit-hashed.jsonl"
EVIDENCE_REPORT = "report.pdf"
WACZ_NAME = "capture.wacz"
TSA_CA = "tsa/tsa-ca.pem"
#: names an artifact may have inside the package (capture's own names: screenshot_full.png, original.jpg, …)
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
#: already compressed: stored, not deflated again
STORED_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gz", ".pdf", ".zip", ".wacz", ".tsr", ".heic")
PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----\r?\n?")


@dataclass(frozen=True)
class ExportedPackage:
    """A package written to ``path``: its SHA-256, size in bytes and number of files inside."""

    path: Path
    sha256: str
    size: int
    files: int
    evidence: int  #: captures included with their files


@dataclass(frozen=True)
class _Entry:
    path: str
    chunks: Callable[[], Iterator[bytes]]
    size: int


def _bytes_entry(path: str, data: bytes) -> _Entry:
    return _Entry(path, lambda: iter((data,)), len(data))


def _blob_entry(rt: "Runtime", path: str, sha256: str, size: int) -> _Entry:
    return _Entry(path, lambda: rt.blobs.iter_verified(sha256), size)


def evidence_folder(evidence: Evidence) -> str:
    """``evidence/12``: the evidence's folder in the package (tracker.packaging.reports.package_dir says the same)."""
    return f"evidence/{evidence.id}"


def packaged_evidence(case: Case) -> list[Evidence]:
    """The captures that go into the package with their files: the secured ones, oldest first."""
    return [e for e in sorted(case.evidence, key=lambda e: e.id) if e.state is EvidenceState.done and e.artifacts]


def write_case_package(rt: "Runtime", session: Session, case: Case, out: str | os.PathLike[str], *,
                       now: datetime | None = None) -> ExportedPackage:
    """Write the case's export package to ``out`` (never overwritten: FileExistsError).

    Raises DomainError("blob_corrupt") when an evidence file no longer matches its SHA-256.
    """
    out = Path(out)
    if out.exists():
        raise FileExistsError(f"{out} exists: an export package is never overwritten")
    now = now or utcnow()
    entries: list[_Entry] = []
    folders: list[tuple[str, Evidence]] = []
    for ev in packaged_evidence(case):
        folder = evidence_folder(ev)
        folders.append((folder, ev))
        for art in ev.artifacts:
            if not SAFE_NAME.match(art.name) or art.name == EVIDENCE_REPORT:
                raise DomainError("artifact_name", f"evidence {ev.id}: artifact name {art.name!r} cannot be packaged")
            entries.append(_blob_entry(rt, f"{folder}/{art.name}", art.sha256, art.size))
        warc = next((a for a in ev.artifacts if a.role == "warc"), None)
        if warc is not None:
            entries.append(_wacz_entry(rt, f"{folder}/{WACZ_NAME}", ev, warc.sha256, warc.size))
    # every report in one go: one Chromium start-up instead of one per report (issue 11)
    pdfs = print_reports(rt, [case_report_printable(rt, session, case, now=now)]
                         + [evidence_report_printable(rt, session, ev, now=now) for _, ev in folders])
    entries.append(_bytes_entry(CASE_REPORT, pdfs[0]))
    entries += [_bytes_entry(f"{folder}/{EVIDENCE_REPORT}", pdf) for (folder, _), pdf in zip(folders, pdfs[1:])]
    extract, hashed = audit_extract(session, case)
    entries += [_bytes_entry(AUDIT_EXTRACT, extract), _bytes_entry(AUDIT_HASHED, hashed),
                _bytes_entry(CASE_JSON, _json_bytes(case_facts(session, case, folders, now)))]
    timestamped = [folder for folder, ev in folders if any(a.name == TIMESTAMP_NAME for a in ev.artifacts)]
    chains = [a.sha256 for _, ev in folders for a in ev.artifacts if a.name == TSA_CHAIN_NAME]
    ca = _tsa_certificates(rt, chains) if timestamped else None
    if ca:
        entries.append(_bytes_entry(TSA_CA, ca))
    entries.sort(key=lambda e: e.path)
    entries.insert(0, _bytes_entry(README, readme(case, folders, timestamped, has_ca=bool(ca), now=now).encode()))
    return _write_zip(rt, entries, out, now, evidence=len(folders))


def _write_zip(rt: "Runtime", entries: list[_Entry], out: Path, now: datetime, *, evidence: int) -> ExportedPackage:
    paths = [e.path for e in entries]
    if len(set(paths)) != len(paths):
        raise DomainError("duplicate_path", "two files of the package would have the same name")
    when = now.astimezone(CPH).timetuple()[:6]
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=".vaern-export-", suffix=".zip")
    try:
        sums: list[tuple[str, str]] = []
        with os.fdopen(fd, "w+b") as fh:
            with zipfile.ZipFile(fh, "w", allowZip64=True) as zf:
                for entry in entries:
                    sums.append((entry.path, _add(zf, entry, when)))
                listing = "".join(f"{sha}  {path}\n" for path, sha in sorted(sums))
                _add(zf, _bytes_entry(SUMS, listing.encode()), when)
            fh.flush()
            os.fsync(fh.fileno())
            fh.seek(0)
            digest, size = hashlib.sha256(), 0
            while chunk := fh.read(1024 * 1024):
                digest.update(chunk)
                size += len(chunk)
        os.chmod(tmp, 0o444)
        os.link(tmp, out)  # atomic, and fails if ``out`` appeared meanwhile: never overwrite
    finally:
        os.unlink(tmp)
    return ExportedPackage(path=out, sha256=digest.hexdigest(), size=size, files=len(entries) + 1, evidence=evidence)


def _add(zf: zipfile.ZipFile, entry: _Entry, when: tuple[int, ...]) -> str:
    """Stream one file into the ZIP with fixed metadata; returns its SHA-256."""
    info = zipfile.ZipInfo(entry.path, date_time=when)
    info.create_system = 3  # unix, so the permission bits below are honoured by unzip
    info.external_attr = (stat.S_IFREG | 0o644) << 16
    info.compress_type = zipfile.ZIP_STORED if entry.path.lower().endswith(STORED_SUFFIXES) else zipfile.ZIP_DEFLATED
    digest = hashlib.sha256()
    try:
        with zf.open(info, "w", force_zip64=entry.size > 0x7FFF0000) as w:
            for chunk in entry.chunks():
                digest.update(chunk)
                w.write(chunk)
    except BlobError as exc:
        raise DomainError("blob_corrupt", f"{entry.path}: {exc}") from None
    return digest.hexdigest()


def _wacz_entry(rt: "Runtime", path: str, ev: Evidence, warc_sha256: str, warc_size: int) -> _Entry:
    """capture.wacz, built from the WARC blob only while it is written: one capture's WARC in memory at a time."""
    evidence_id, manifest_sha256, fallback_url = ev.id, ev.manifest_sha256, ev.source_url or ""
    fallback_time = ev.started_at or ev.finished_at or ev.created_at

    def chunks() -> Iterator[bytes]:
        manifest = json.loads(rt.blobs.read(manifest_sha256)) if manifest_sha256 else {}
        started = manifest.get("started_at_utc")
        when = datetime.fromisoformat(started) if started else fallback_time
        url = manifest.get("final_url") or fallback_url
        try:
            yield build_wacz(rt.blobs.read(warc_sha256), title=f"Værn {evidence_id}: {manifest.get('title') or url}",
                             main_url=url, capture_time=when, software=f"Værn {__version__}")
        except WaczError as exc:
            raise DomainError("wacz_unreadable", f"evidence {evidence_id}: {exc}") from None

    return _Entry(path, chunks, 2 * warc_size + 1024 * 1024)  # an upper bound is enough: it only decides ZIP64


def _tsa_certificates(rt: "Runtime", chains: list[str]) -> bytes | None:
    """tsa/tsa-ca.pem: the CERTIFICATE blocks of the configured TSA CA file (never a key by mistake), then
    those of the chains stored with the tokens (``chains``: blob SHA-256s) that are not among them yet.

    The stored chains are what each token was verified against when it was obtained, so the package
    carries what ``openssl ts -verify`` needs even when no CA file is configured at export time.
    """
    sources: list[bytes] = []
    if rt.settings.tsa_ca_file:
        try:
            sources.append(Path(rt.settings.tsa_ca_file).read_bytes())
        except OSError:
            pass
    sources += [rt.blobs.read(sha) for sha in dict.fromkeys(chains)]
    certs: list[bytes] = []
    for data in sources:
        for m in PEM_CERT.finditer(data):
            cert = m.group(0).replace(b"\r\n", b"\n")
            cert = cert if cert.endswith(b"\n") else cert + b"\n"
            if b"".join(cert.split()) not in {b"".join(c.split()) for c in certs}:
                certs.append(cert)
    return b"".join(certs) or None


# -- what goes in -----------------------------------------------------------------------------------
def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt is not None else None


def _json_bytes(obj: object) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _person(user: User | None) -> dict | None:
    return None if user is None else {"id": user.id, "name": user.name, "role": user.role.value}


def case_facts(session: Session, case: Case, folders: list[tuple[str, Evidence]], now: datetime) -> dict:
    """case.json: the case's facts, the leader's steps and clocks, every evidence attempt."""
    folder_of = {ev.id: folder for folder, ev in folders}
    steps = session.execute(select(CaseStep).where(CaseStep.case_id == case.id).order_by(CaseStep.id)).scalars()
    clocks = session.execute(select(CaseClock).where(CaseClock.case_id == case.id).order_by(CaseClock.id)).scalars()
    return {
        "schema": "vaern.case-export/1", "vaern_version": __version__, "exported_at": _iso(now),
        "ref": case.ref, "unit": case.unit.name, "employee": _person(case.employee),
        "reported_by": _person(case.reported_by), "episode_at": _iso(case.episode_at),
        "created_at": _iso(case.created_at), "status": case.status, "closed_at": _iso(case.closed_at),
        "category": case.category, "platform": case.platform, "description": case.description,
        "author_known": case.author_known, "private_information_disclosed": case.private_information_disclosed,
        "defamatory": case.defamatory,
        "steps": [{"step": s.step_id, "state": s.state.value, "reason": s.reason, "note": s.note,
                   "done_at": _iso(s.done_at), "sent_at": _iso(s.sent_at), "channel": s.channel,
                   "platform_ref": s.platform_ref, "outcome": s.outcome,
                   "statement_of_reasons": s.statement_of_reasons,
                   "verified_by_evidence_id": s.verified_by_evidence_id} for s in steps],
        "clocks": [{"name": c.name, "at": _iso(c.at), "note": c.note} for c in clocks],
        "evidence": [{"id": e.id, "folder": folder_of.get(e.id), "kind": e.kind, "source_url": e.source_url,
                      "original_filename": e.original_filename, "state": e.state.value,
                      "capture_status": e.capture_status, "fingerprint": e.fingerprint,
                      "timestamp_gen_time": _iso(e.timestamp_gen_time), "timestamp_error": e.timestamp_error,
                      "error": e.error, "requested_at": _iso(e.created_at), "finished_at": _iso(e.finished_at),
                      "files": [{"name": a.name, "role": a.role, "media_type": a.media_type, "size": a.size,
                                 "sha256": a.sha256} for a in e.artifacts]}
                     for e in sorted(case.evidence, key=lambda e: e.id)],
    }


def audit_extract(session: Session, case: Case) -> tuple[bytes, bytes]:
    """(audit-extract.jsonl, audit-hashed.jsonl): line N of the second is what line N's hash is over.

    The body is tracker.oversight.audit.event_body's (canonical JSON of prev, at, actor, action, object_type,
    object_id, case and details), so ``sha256(line) == hash`` for an untouched event.
    """
    events = session.execute(select(AuditEvent).where(AuditEvent.case_id == case.id)
                             .order_by(AuditEvent.id)).scalars().all()
    ids = {ev.actor_id for ev in events if ev.actor_id is not None}
    users = {u.id: u for u in session.execute(select(User).where(User.id.in_(ids))).scalars()} if ids else {}
    readable, hashed = [], []
    for ev in events:
        details = ev.details or {}
        readable.append(json.dumps({
            "id": ev.id, "at": ev.at.isoformat(), "actor": _person(users.get(ev.actor_id)) if ev.actor_id else None,
            "action": ev.action, "object": {"type": ev.object_type, "id": ev.object_id}, "details": details,
            "prev_hash": ev.prev_hash, "hash": ev.hash}, ensure_ascii=False, sort_keys=True))
        hashed.append(audit.stored_event_body(ev).decode("utf-8"))
    return ("".join(f"{line}\n" for line in readable).encode("utf-8"),
            "".join(f"{line}\n" for line in hashed).encode("utf-8"))


# -- README ------------------------------------------------------------------------------------------
def readme(case: Case, folders: list[tuple[str, Evidence]], timestamped: list[str], *, has_ca: bool,
           now: datetime) -> str:
    """README.txt: Danish first, then English; the exact commands for this package."""
    local = now.astimezone(CPH)
    example = folders[0][0] if folders else "evidence/12"
    ts_cmds = [f"     openssl ts -verify -data {f}/{MANIFEST_NAME} -in {f}/{TIMESTAMP_NAME} -CAfile {TSA_CA}"
               for f in timestamped]
    fp_cmds = [f"     sha256sum {f}/{MANIFEST_NAME}" for f, _ in folders]
    da_ts = ("\n".join(ts_cmds) + "\n   Hver kommando skal skrive \"Verification: OK\". Tidspunktet i et stempel ses med:\n"
             f"     openssl ts -reply -in {timestamped[0]}/{TIMESTAMP_NAME} -text\n"
             f"   Sammenlign {TSA_CA} med det certifikat, tidsstemplingstjenesten selv offentliggør.\n" if timestamped
             else "   Ingen af beviserne i pakken har et betroet tidsstempel.\n")
    en_ts = ("\n".join(ts_cmds) + "\n   Each command must print \"Verification: OK\". The time in a token is shown by:\n"
             f"     openssl ts -reply -in {timestamped[0]}/{TIMESTAMP_NAME} -text\n"
             f"   Compare {TSA_CA} with the certificate the time-stamping authority itself publishes.\n" if timestamped
             else "   None of the evidence in this package has a trusted timestamp.\n")
    if timestamped and not has_ca:
        da_ts += "   Tidsstemplingstjenestens CA-certifikat var ikke sat op i Værn: hent det hos tjenesten.\n"
        en_ts += "   The TSA's CA certificate was not configured in Værn: obtain it from the TSA.\n"
    return f"""Værn — eksportpakke / export package: {case.ref}
Dannet / created: {local.strftime('%d.%m.%Y kl. %H.%M')} (dansk tid / Danish time), Værn {__version__}

======================================================================
DANSK
======================================================================
Pakken indeholder sag {case.ref} med alle sikrede beviser. Alt kan kontrolleres
med standardværktøjerne sha256sum og openssl alene, uden Værn.

Indhold
  {README:<24}denne vejledning
  {SUMS:<24}SHA-256 af alle andre filer i pakken
  {CASE_REPORT:<24}sagsrapport (PDF)
  {CASE_JSON:<24}sagens oplysninger, trin og beviser (JSON)
  {AUDIT_EXTRACT:<24}revisionsloggen for sagen: hvem gjorde eller så hvad, hvornår
  {AUDIT_HASHED:<24}de præcise bytes, hver hændelses hash er beregnet af (trin 5)
  evidence/NR/            én mappe pr. sikret bevis (NR = bevisets nummer, som i rapporterne):
    {MANIFEST_NAME:<22}hvad der blev sikret, hvordan og hvornår, med SHA-256 af hver fil;
                          SHA-256 af manifest.json er bevisets fingeraftryk
    {TIMESTAMP_NAME:<22}betroet tidsstempel (RFC 3161) over manifest.json, hvis beviset har et
    {TSA_CHAIN_NAME:<22}tidsstemplingstjenestens certifikater, som stemplet blev kontrolleret mod, da det kom
    {EVIDENCE_REPORT:<22}bevisrapport for netop dette bevis (PDF)
    {WACZ_NAME:<22}kan åbnes i ReplayWeb.page (replayweb.page): en genafspilning af det, Værns browser
                          modtog (når beviset har et webarkiv); selve beviset er filerne i manifest.json
    øvrige filer          skærmbilleder, sidearkiv (MHTML), HTML, synlig tekst, evt. webarkiv (WARC),
                          eller den uploadede fil, uændret
  {TSA_CA:<24}tidsstemplingstjenestens CA-certifikat (når der er tidsstempler)

Sådan kontrollerer du pakken
1. Pak ZIP-filen ud og gå ind i mappen:
     unzip PAKKE.zip -d pakke
     cd pakke
2. Kontrollér, at ingen fil er ændret, fjernet eller tilføjet:
     sha256sum -c SHA256SUMS
   Hver linje skal ende med "OK". En ændret fil står som "FAILED". Tjek også, at der
   ikke ligger filer i mappen, som ikke står i SHA256SUMS.
   (På macOS: shasum -a 256 -c SHA256SUMS)
3. Kontrollér tidsstemplerne (tidsstemplet beviser, at manifest.json fandtes uændret på det tidspunkt):
{da_ts}4. Fingeraftryk: SHA-256 af manifest.json er bevisets fingeraftryk (står også i rapporterne):
{chr(10).join(fp_cmds) or '     (ingen beviser i pakken)'}
   manifest.json angiver SHA-256 og størrelse for hver fil i mappen, så også filerne er bundet
   til tidsstemplet:  sha256sum {example}/*
5. Revisionsloggen: linje N i {AUDIT_HASHED} er de bytes, som hash på linje N i {AUDIT_EXTRACT}
   er beregnet af. Denne kommando skriver hashene i samme rækkefølge:
     while IFS= read -r l; do printf '%s' "$l" | sha256sum; done < {AUDIT_HASHED}
   Feltet "prev" er hash af den foregående hændelse i kommunens samlede log (den kan høre til en
   anden sag). Har to linjer fortløbende id, skal "prev_hash" på den anden være "hash" på den første.

======================================================================
ENGLISH
======================================================================
This package holds case {case.ref} with all secured evidence. Everything can be checked with
the standard tools sha256sum and openssl alone, without Værn.

Contents
  {README:<24}these instructions
  {SUMS:<24}SHA-256 of every other file in the package
  {CASE_REPORT:<24}case report (PDF)
  {CASE_JSON:<24}the case's facts, steps and evidence (JSON)
  {AUDIT_EXTRACT:<24}the case's audit log: who did or viewed what, when
  {AUDIT_HASHED:<24}the exact bytes each event's hash is computed over (step 5)
  evidence/NO/            one folder per secured piece of evidence (NO = its number, as in the reports):
    {MANIFEST_NAME:<22}what was captured, how and when, with the SHA-256 of every file;
                          the SHA-256 of manifest.json is the evidence fingerprint
    {TIMESTAMP_NAME:<22}trusted timestamp (RFC 3161) over manifest.json, where there is one
    {TSA_CHAIN_NAME:<22}the TSA certificates the token was verified against when it was obtained
    {EVIDENCE_REPORT:<22}the evidence report of this capture (PDF)
    {WACZ_NAME:<22}opens in ReplayWeb.page (replayweb.page) — a replay of what Værn's browser received
                          (when the capture has a web archive); the evidence is the files listed in manifest.json
    other files           screenshots, page archive (MHTML), HTML, visible text, web archive (WARC) if any,
                          or the uploaded file, unchanged
  {TSA_CA:<24}the time-stamping authority's CA certificate (when there are timestamps)

How to verify the package
1. Unzip it and enter the folder:
     unzip PACKAGE.zip -d package
     cd package
2. Check that no file was changed, removed or added:
     sha256sum -c SHA256SUMS
   Every line must end in "OK"; a changed file shows "FAILED". Also check that the folder holds
   no file that SHA256SUMS does not list.
   (On macOS: shasum -a 256 -c SHA256SUMS)
3. Check the timestamps (a token proves manifest.json existed unchanged at that time):
{en_ts}4. Fingerprints: the SHA-256 of manifest.json is the evidence fingerprint (also shown in the reports):
{chr(10).join(fp_cmds) or '     (no evidence in this package)'}
   manifest.json lists the SHA-256 and size of every file in its folder, so the files are bound
   to the timestamp too:  sha256sum {example}/*
5. The audit log: line N of {AUDIT_HASHED} is the exact bytes that the hash on line N of
   {AUDIT_EXTRACT} is computed over. This command prints the hashes in the same order:
     while IFS= read -r l; do printf '%s' "$l" | sha256sum; done < {AUDIT_HASHED}
   "prev" is the hash of the event before it in the municipality's whole log (it may belong to
   another case). Where two lines have consecutive ids, the second's "prev_hash" is the first's "hash".
"""
