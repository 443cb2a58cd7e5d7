"""`vaern verify`: re-hash every evidence blob, walk the audit chain, and check the chain's anchors.

What one run proves:
- every blob a row refers to (an artifact, an uploaded original, a manifest, a timestamp token, a
  step attachment) is on disk and its bytes still hash to its name; a blob nothing refers to is a
  note, not a failure;
- every capture's artifact rows agree with its sealed manifest (names and SHA-256s), and its
  fingerprint is its manifest's hash, so a row re-pointed at other, intact bytes is caught too;
- every audit event still hashes to its stored hash (not edited) and names the hash of the event
  before it (nothing removed or inserted in between);
- every case row's facts (description, episode time, category, status, …) hash to what the chain last
  recorded for them (tracker.cases.casefacts), so a row edited with SQL is named;
- every anchor in ``<data_dir>/audit-anchors.jsonl`` still holds: the event it recorded exists with
  the same hash. Each intact run, and a daily job, appends the chain's head to that file.

Limits, honestly: the chain carries no secret, so whoever can write to the database can append
well-formed events, cut off the newest events or rewrite the whole chain consistently. Anchors catch
the last two for everything up to the latest anchor (events after it are unprotected until the next
one). Whoever can write both the database and the anchor file can still rewrite everything
undetected: copy the anchor file off the host (another machine, write-once storage, a printout) to
close that gap. Likewise a capture rewritten as a whole (new bytes, new manifest, rows re-pointed)
is consistent in itself: its fingerprint, recorded in the audit chain at capture time
(``evidence.captured``) and in an RFC 3161 token where a TSA is configured, is what exposes it.
"""
from __future__ import annotations

import json
import logging
import os
import re
import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.blobs import BlobStore, iter_store_files, sha256_of_file
from storage.models import Artifact, AuditEvent, Case, CaseStep, Evidence, StepAttachment
from storage.types import utcnow
from tracker.oversight import audit
from tracker.cases import casefacts
from capture.bundle import MANIFEST_NAME, TIMESTAMP_NAME, TSA_CHAIN_NAME

if TYPE_CHECKING:
    from tracker.adapters.runtime import Runtime
    from tracker.settings import Settings

log = logging.getLogger(__name__)

ANCHOR_FILE = "audit-anchors.jsonl"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Problem:
    """One thing that does not hold, as one English line for the operator."""

    #: blob_missing | blob_altered | blob_unreadable | blob_name_invalid | evidence_mismatch | event_edited |
    #: chain_broken | anchor_failed | anchor_unreadable | case_mismatch
    kind: str
    subject: str  #: the blob's SHA-256, ``event:<id>`` or ``anchor:<line>``
    message: str


class AnchorWriteError(Exception):
    """The anchor file could not be appended to (a configuration problem, not tampering)."""


@dataclass
class IntegrityReport:
    """The outcome of one verification; ``ok`` when there is no problem (notes do not count)."""

    blobs_checked: int | None = None  #: None: blobs were not checked
    blob_bytes: int = 0
    events: int = 0
    head_id: int | None = None
    head_hash: str | None = None  #: the hash of ``head_id`` as the walk saw it: what an anchor records
    anchors: int = 0
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: cases whose facts the chain has no record of yet (opened before facts were audited): recorded by
    #: ``run_verification`` as a baseline
    unrecorded: list = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def chain_holds(self) -> bool:
        return not any(p.kind.startswith(("event_", "chain_", "anchor_")) for p in self.problems)

    def summary(self) -> str:
        blobs = ("blobs not checked" if self.blobs_checked is None
                 else f"{_count(self.blobs_checked, 'blob')} ({_size(self.blob_bytes)}) re-hashed")
        anchors = "no anchors yet" if not self.anchors else _count(self.anchors, "anchor")
        if self.ok:
            hold = "" if not self.anchors else (" holds" if self.anchors == 1 else " hold")
            return f"OK: {blobs}, {_count(self.events, 'audit event')} in an unbroken chain, {anchors}{hold}"
        return (f"FAILED: {_count(len(self.problems), 'problem')} found — {blobs}, "
                f"{_count(self.events, 'audit event')} walked, {anchors} checked")

    def lines(self) -> list[str]:
        """The problems, then the notes, then the summary: what `vaern verify` prints."""
        return [p.message for p in self.problems] + [f"note: {n}" for n in self.notes] + [self.summary()]

    def as_dict(self) -> dict:
        return {"ok": self.ok, "summary": self.summary(), "blobs_checked": self.blobs_checked,
                "blob_bytes": self.blob_bytes, "events": self.events, "head_id": self.head_id,
                "anchors": self.anchors, "problems": [asdict(p) for p in self.problems], "notes": self.notes}


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _size(n: int) -> str:
    for unit, factor in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= factor:
            return f"{n / factor:.2f} {unit}"
    return f"{n} bytes"


def _when(at: datetime | None) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC") if at else "an unknown time"


def _span(lo: int, hi: int) -> str:
    return f"event {lo}" if lo == hi else f"events {lo}–{hi}"


# -- the whole check ------------------------------------------------------------------------------
def verify_everything(rt: "Runtime", *, blobs: bool = True) -> IntegrityReport:
    """Check every blob (unless ``blobs`` is False), the audit chain and its anchors; change nothing."""
    anchors, anchor_problems = read_anchors(anchor_path(rt.settings))  # before the walk: see check_chain
    report = IntegrityReport(anchors=len(anchors))
    with rt.Session() as session:
        refs = blob_references(session) if blobs else None
        sealed = sealed_evidence(session) if blobs else []
    walk = audit.walk_chain_in_batches(rt.Session)
    with rt.Session() as session:
        chain_problems = check_chain(session, walk, anchors)
        mismatches, report.unrecorded = casefacts.check_case_facts(session, {e.id for e in walk.edited})
    chain_problems += [Problem("case_mismatch", f"case:{m.ref}", m.message) for m in mismatches]
    report.notes += [f"case {u.ref}: the audit chain has no record yet of its {', '.join(casefacts.FACTS[f] for f in u.facts)} "
                     "(opened before case facts were audited); `vaern verify` records them as a baseline"
                     for u in report.unrecorded]
    report.events, report.head_id, report.head_hash = walk.count, walk.head_id, walk.head_hash
    if refs is not None:
        blob_problems, notes, report.blobs_checked, report.blob_bytes = check_blobs(rt.blobs, refs)
        bad = {p.subject for p in blob_problems}
        report.problems += blob_problems + check_manifests(rt.blobs, sealed, bad, {e.id for e in walk.edited})
        report.notes += notes
    report.problems += chain_problems + anchor_problems
    return report


def run_verification(rt: "Runtime", *, blobs: bool = True, actor=None) -> tuple[IntegrityReport, "Anchor | None"]:
    """What `vaern verify` does: check everything, record the outcome, then anchor the head if the chain holds.

    An anchor vouches for the chain as it was walked: it names the head the walk verified, never an
    event appended since (the ``integrity.verify`` event of this run is anchored by the next run).
    A chain with a problem is never anchored. Raises
    AnchorWriteError when the anchor file cannot be written (the outcome is recorded already).
    """
    report = verify_everything(rt, blobs=blobs)
    record_verification(rt, report, actor)
    if not report.chain_holds:
        return report, None
    if report.unrecorded:
        with rt.transaction() as session:
            recorded = casefacts.record_baselines(session, report.unrecorded)
        report.notes = [n for n in report.notes if not n.endswith("records them as a baseline")]
        report.notes += [f"case {ref}: its facts were recorded now as a baseline (audit event {event_id}); "
                         "a change made to the row before that cannot be detected" for ref, event_id in recorded.items()]
    try:
        return report, anchor_head(rt, report.head_id, report.head_hash, report.events)
    except OSError as exc:
        raise AnchorWriteError(f"cannot write the anchor file {anchor_path(rt.settings)}: {exc.strerror or exc}") from exc


def record_verification(rt: "Runtime", report: IntegrityReport, actor=None) -> None:
    """Append the run's outcome to the chain as ``integrity.verify`` (after the walk, never during it)."""
    with rt.transaction() as session:
        audit.record(session, actor, "integrity.verify", "integrity", "blobs+audit" if report.blobs_checked is not None
                     else "audit", None, ok=report.ok, problems=len(report.problems),
                     blobs=report.blobs_checked, events=report.events, anchors=report.anchors,
                     subjects=[p.subject for p in report.problems[:20]] or None)


# -- blobs ------------------------------------------------------------------------------------------
def blob_references(session: Session) -> dict[str, list[tuple[tuple, str]]]:
    """Every blob a row refers to: SHA-256 → [(sort key, "evidence 12 (case V-2026-00003), artifact x.png"), ...]."""
    refs: dict[str, list[tuple[tuple, str]]] = {}

    def add(sha: str, key: tuple, text: str) -> None:
        refs.setdefault(sha, []).append((key, text))

    artifact_shas: set[tuple[int, str]] = set()
    for sha, name, ev_id, ref in session.execute(
            select(Artifact.sha256, Artifact.name, Artifact.evidence_id, Case.ref)
            .join(Evidence, Evidence.id == Artifact.evidence_id).join(Case, Case.id == Evidence.case_id)):
        artifact_shas.add((ev_id, sha))
        add(sha, (0, ev_id, name), f"evidence {ev_id} (case {ref}), artifact {name}")
    for ev_id, ref, upload, filename, manifest, tsr in session.execute(
            select(Evidence.id, Case.ref, Evidence.upload_sha256, Evidence.original_filename,
                   Evidence.manifest_sha256, Evidence.timestamp_sha256).join(Case, Case.id == Evidence.case_id)
            .where((Evidence.upload_sha256.is_not(None)) | (Evidence.manifest_sha256.is_not(None))
                   | (Evidence.timestamp_sha256.is_not(None)))):
        if upload:
            add(upload, (0, ev_id, "\0upload"), f"evidence {ev_id} (case {ref}), uploaded original {filename or '(no name)'}")
        for sha, what in ((manifest, "manifest"), (tsr, "timestamp token")):
            if sha and (ev_id, sha) not in artifact_shas:  # normally an artifact row names it already
                add(sha, (0, ev_id, "\0" + what), f"evidence {ev_id} (case {ref}), {what}")
    for att_id, sha, filename, step_id, ref in session.execute(
            select(StepAttachment.id, StepAttachment.sha256, StepAttachment.filename, CaseStep.step_id, Case.ref)
            .join(CaseStep, CaseStep.id == StepAttachment.case_step_id).join(Case, Case.id == CaseStep.case_id)
            .where(StepAttachment.sha256.is_not(None))):
        add(sha, (1, att_id, ""), f"step attachment {att_id} (case {ref}, step {step_id}), file {filename or '(no name)'}")
    return refs


def rehash_workers() -> int:
    """Threads for re-hashing: one per core, at least 2 (reads overlap hashing), at most 4."""
    return max(2, min(4, os.cpu_count() or 1))


def rehash_paths(paths: Iterable[Path], workers: int | None = None) -> dict[Path, tuple[str, int] | OSError]:
    """Re-hash files on a few threads: path → (SHA-256, size), or the OSError met (e.g. FileNotFoundError)."""
    return _parallel(list(paths), _hash_or_error, workers or rehash_workers())


def _hash_or_error(path: Path) -> tuple[str, int] | OSError:
    try:
        return sha256_of_file(path)
    except OSError as exc:
        return exc


def _parallel(items: list, fn: Callable, workers: int) -> dict:
    """``{item: fn(item)}``, threads pulling from one shared iterator (no per-item future overhead)."""
    results: dict = {}
    errors: list[BaseException] = []
    it, lock = iter(items), threading.Lock()

    def run() -> None:
        while True:
            with lock:
                item = next(it, _END)
            if item is _END or errors:
                return
            try:
                results[item] = fn(item)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                errors.append(exc)
                return

    threads = [threading.Thread(target=run, name=f"vaern-rehash-{i}") for i in range(min(workers, max(1, len(items))))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


_END = object()


def check_blobs(store: BlobStore, refs: dict[str, list[tuple[tuple, str]]],
                workers: int | None = None) -> tuple[list[Problem], list[str], int, int]:
    """Re-hash every referenced blob and every file in the store: (problems, notes, files hashed, bytes)."""
    notes: list[str] = []
    on_disk: set[str] = set()
    for name, path in iter_store_files(store.root):
        if _HEX64.match(name) and path == store.path_for(name):
            on_disk.add(name)
        else:
            notes.append(f"{path} in the blob store is not a blob (unexpected name or folder)")
    problems: list[tuple[tuple, Problem]] = []
    paths: dict[str, Path] = {}
    for sha in sorted(set(refs) | on_disk):
        if _HEX64.match(sha):
            paths[sha] = store.path_for(sha)
        else:
            key, who = _referrers(refs[sha])
            problems.append((key, Problem("blob_name_invalid", sha, f"blob name {sha!r} is not a SHA-256 — {who}")))
    results = rehash_paths(paths.values(), workers)
    hashed = size = 0
    for sha, path in paths.items():
        res = results[path]
        if not isinstance(res, OSError):
            hashed += 1
            size += res[1]
        if sha not in refs:
            if isinstance(res, OSError):
                continue  # removed while we looked, and nothing needs it
            altered = "" if res[0] == sha else f", and its content hashes to {res[0]}"
            notes.append(f"blob {sha} at {path} is not referred to by any row{altered}")
            continue
        key, who = _referrers(refs[sha])
        if isinstance(res, FileNotFoundError):
            problems.append((key, Problem("blob_missing", sha, f"blob {sha} is missing (expected at {path}) — {who}")))
        elif isinstance(res, OSError):
            problems.append((key, Problem("blob_unreadable", sha,
                                          f"blob {sha} at {path} cannot be read ({res.strerror or res}) — {who}")))
        elif res[0] != sha:
            problems.append((key, Problem("blob_altered", sha, f"blob {sha} at {path} was altered: its content "
                                                               f"hashes to {res[0]} — {who}")))
    return [p for _, p in sorted(problems, key=lambda kp: (kp[0], kp[1].subject))], notes, hashed, size


def _referrers(entries: list[tuple[tuple, str]]) -> tuple[tuple, str]:
    ordered = sorted(set(entries))
    return ordered[0][0], "; ".join(text for _, text in ordered)


# -- rows against their sealed manifests --------------------------------------------------------------
@dataclass
class SealedEvidence:
    """A done capture's rows: what its sealed manifest must agree with."""

    id: int
    ref: str
    fingerprint: str | None
    manifest_sha256: str
    timestamp_sha256: str | None
    artifacts: dict[str, str] = field(default_factory=dict)  #: name → sha256, as the rows say
    captured: tuple[int, str | None] | None = None  #: the ``evidence.captured`` event: (id, fingerprint recorded)


def sealed_evidence(session: Session) -> list[SealedEvidence]:
    """Every evidence with a stored manifest, with its artifact rows, in id order."""
    found: dict[int, SealedEvidence] = {}
    for ev_id, ref, fp, manifest, tsr in session.execute(
            select(Evidence.id, Case.ref, Evidence.fingerprint, Evidence.manifest_sha256, Evidence.timestamp_sha256)
            .join(Case, Case.id == Evidence.case_id).where(Evidence.manifest_sha256.is_not(None)).order_by(Evidence.id)):
        found[ev_id] = SealedEvidence(ev_id, ref, fp, manifest, tsr)
    for ev_id, name, sha in session.execute(select(Artifact.evidence_id, Artifact.name, Artifact.sha256)):
        if ev_id in found:
            found[ev_id].artifacts[name] = sha
    for event_id, object_id, details in session.execute(
            select(AuditEvent.id, AuditEvent.object_id, AuditEvent.details)
            .where(AuditEvent.action == "evidence.captured").order_by(AuditEvent.id)):
        ev = found.get(int(object_id)) if object_id.isdigit() else None
        if ev is not None:
            ev.captured = (event_id, (details or {}).get("fingerprint") if isinstance(details, dict) else None)
    return list(found.values())


def check_manifests(store: BlobStore, sealed: list[SealedEvidence], bad_blobs: set[str],
                    edited_events: set[int]) -> list[Problem]:
    """Each capture's rows must agree with its sealed manifest and with the fingerprint the chain recorded
    at capture time: a row re-pointed at other (intact) bytes, or a capture replaced as a whole, shows here.

    ``bad_blobs`` and ``edited_events`` are reported already: they are not read again.
    """
    problems = []
    for ev in sealed:
        where = f"evidence {ev.id} (case {ev.ref})"

        def problem(text: str) -> None:
            problems.append(Problem("evidence_mismatch", f"evidence:{ev.id}", f"{where}: {text}"))

        if ev.fingerprint != ev.manifest_sha256:
            problem(f"its fingerprint {ev.fingerprint} is not the SHA-256 of its manifest ({ev.manifest_sha256})")
        if ev.captured is not None and ev.captured[0] not in edited_events and ev.captured[1] != ev.fingerprint:
            problem(f"its fingerprint {ev.fingerprint} is not the one audit event {ev.captured[0]} recorded at capture "
                    f"time ({ev.captured[1]}): the capture was replaced")
        if ev.artifacts.get(MANIFEST_NAME) != ev.manifest_sha256:
            problem(f"its {MANIFEST_NAME} row points at {ev.artifacts.get(MANIFEST_NAME)}, not at its manifest {ev.manifest_sha256}")
        if ev.artifacts.get(TIMESTAMP_NAME) != ev.timestamp_sha256:
            problem(f"its {TIMESTAMP_NAME} row points at {ev.artifacts.get(TIMESTAMP_NAME)}, "
                    f"not at its timestamp token {ev.timestamp_sha256}")
        if ev.manifest_sha256 in bad_blobs or not _HEX64.match(ev.manifest_sha256):
            continue
        try:
            listed = {a["name"]: a["sha256"] for a in json.loads(store.read(ev.manifest_sha256))["artifacts"]}
        except Exception as exc:  # noqa: BLE001 - a manifest that is not what Værn sealed is the finding
            problem(f"its manifest {ev.manifest_sha256} cannot be read as a Værn manifest ({type(exc).__name__})")
            continue
        rows = {n: sha for n, sha in ev.artifacts.items() if n not in (MANIFEST_NAME, TIMESTAMP_NAME, TSA_CHAIN_NAME)}
        for name in sorted(set(rows) | set(listed)):
            if name not in listed:
                problem(f"artifact {name} (blob {rows[name]}) is not in its sealed manifest (a row was added)")
            elif name not in rows:
                problem(f"artifact {name} (blob {listed[name]}) is in its sealed manifest but has no row (a row was removed)")
            elif rows[name] != listed[name]:
                problem(f"artifact {name} points at blob {rows[name]}, but its sealed manifest lists {listed[name]} "
                        "(the row was altered)")
    return problems


# -- the audit chain ------------------------------------------------------------------------------
def check_chain(session: Session, walk: audit.ChainWalk, anchors: list["Anchor"]) -> list[Problem]:
    """Check the anchors against the walked chain and explain each edited event and broken link.

    ``anchors`` must be read before the walk begins: an anchor written later may name an event the
    walk did not reach.
    """
    held, anchor_problems = _check_anchors(session, anchors, walk)
    problems: list[tuple[int, int, Problem]] = []
    for e in walk.edited:
        what = f"{e.action} on {e.object_type} {e.object_id}, {_when(e.at)}"
        problems.append((e.id, 1, Problem("event_edited", f"event:{e.id}",
                                          f"audit event {e.id} was edited: its content no longer matches its hash ({what})")))
    broken_ids = [b.event_id for b in walk.broken]
    for b in walk.broken:
        problems.append((b.event_id, 0, Problem("chain_broken", f"event:{b.event_id}",
                                                _explain_break(session, b, held, broken_ids))))
    return [p for _, _, p in sorted(problems, key=lambda t: t[:2])] + anchor_problems


def _explain_break(session: Session, b: audit.BrokenLink, held: set[int], broken_ids: list[int]) -> str:
    """Which events border the gap, and whether something was removed or inserted."""
    cur, before = b.event_id, b.before_id
    if b.claimed_prev == audit.GENESIS:
        followed: int | None = 0
        first_other = session.scalar(select(func.min(AuditEvent.id)))
        claim = "claims to be the first event of the chain"
    else:
        followed = session.scalar(select(AuditEvent.id).where(AuditEvent.hash == b.claimed_prev))
        first_other = session.scalar(select(func.min(AuditEvent.id)).where(AuditEvent.id > followed)) if followed else None
        claim = f"claims to follow event {followed}"
    if followed is None:  # it follows an event that is no longer there
        if before is None:
            return (f"audit chain broken before event {cur}: it follows an event that is no longer in the chain "
                    "(the start of the chain was removed)")
        cause = (f"{_span(before + 1, cur - 1)} removed, or event {before} rewritten" if cur - before > 1
                 else f"event {before} rewritten or replaced")
        return (f"audit chain broken between event {before} and event {cur}: event {cur} follows an event "
                f"that is no longer in the chain ({cause})")
    if before is None or followed >= cur or first_other is None or first_other > before:
        return f"audit event {cur} {claim}, which does not come right before it: it was inserted out of order"
    others, were = _span(first_other, before), ("was" if first_other == before else "were")
    place = f"event {followed}" if followed else "the start of the chain"
    if any(first_other <= h <= before for h in held):
        return (f"audit event {cur} was inserted: it {claim}, but {others} already {'holds' if were == 'was' else 'hold'} "
                f"that place and {'is' if were == 'was' else 'are'} covered by an anchor")
    next_break = min((i for i in broken_ids if i > cur), default=None)
    if any(h >= cur and (next_break is None or h < next_break) for h in held):
        return (f"audit {others} {were} inserted between {place} and event {cur}: event {cur} follows {place} "
                "directly and is covered by an anchor")
    return (f"audit chain forks at {place}: event {cur} and {others} both follow it — "
            f"event {cur} was inserted, or {others} {were}")


# -- anchors ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Anchor:
    """One line of the anchor file: the chain's head at ``anchored_at``."""

    line: int
    event_id: int
    hash: str
    count: int
    anchored_at: datetime


def anchor_path(settings: "Settings") -> Path:
    return settings.data_dir.resolve() / ANCHOR_FILE


def read_anchors(path: Path) -> tuple[list[Anchor], list[Problem]]:
    """Every anchor in the file (none when it does not exist yet); an unreadable line is a problem."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return [], []
    anchors, problems = [], []
    for n, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            anchor = Anchor(n, int(d["event_id"]), str(d["hash"]), int(d["count"]),
                            datetime.fromisoformat(d["anchored_at"]))
            if not _HEX64.match(anchor.hash) or anchor.anchored_at.tzinfo is None:
                raise ValueError("bad hash or time")
        except (ValueError, KeyError, TypeError):
            problems.append(Problem("anchor_unreadable", f"anchor:{n}",
                                    f"anchor file {path}, line {n}, is unreadable (the file was altered)"))
            continue
        anchors.append(anchor)
    return anchors, problems


def _check_anchors(session: Session, anchors: list[Anchor], walk: audit.ChainWalk) -> tuple[set[int], list[Problem]]:
    """The ids of anchored events that still hold, and one problem per anchored event that does not."""
    ids = sorted({a.event_id for a in anchors})
    now: dict[int, str] = {}
    for i in range(0, len(ids), 500):
        rows = session.execute(select(AuditEvent.id, AuditEvent.hash).where(AuditEvent.id.in_(ids[i:i + 500])))
        now.update({row.id: row.hash for row in rows})
    held: set[int] = set()
    problems: list[Problem] = []
    seen: set[tuple[int, str]] = set()
    for a in anchors:
        if (a.event_id, a.hash) in seen:
            continue
        seen.add((a.event_id, a.hash))
        current = now.get(a.event_id)
        if current == a.hash:
            held.add(a.event_id)
            continue
        if current is None:
            ends = (f"the chain now ends at event {walk.head_id}, {_count(walk.count, 'event')}"
                    if walk.head_id is not None else "the chain is now empty")
            what = f"is gone ({ends}; the anchor recorded {_count(a.count, 'event')})"
        else:
            what = f"has changed: its hash is now {current}, the anchor recorded {a.hash}"
        problems.append(Problem("anchor_failed", f"event:{a.event_id}",
                                f"audit chain rewritten or truncated after anchor of {_when(a.anchored_at)}: "
                                f"event {a.event_id} {what}"))
    return held, problems


def append_anchor(path: Path, event_id: int, hash_: str, count: int) -> Anchor | None:
    """Append the head to the anchor file (fsynced); None when the last anchor already names it."""
    anchors, _ = read_anchors(path)
    if anchors and (anchors[-1].event_id, anchors[-1].hash) == (event_id, hash_):
        return None
    at = utcnow()
    line = json.dumps({"event_id": event_id, "hash": hash_, "count": count, "anchored_at": at.isoformat()},
                      sort_keys=True) + "\n"
    created = not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return Anchor(len(anchors) + 1, event_id, hash_, count, at)


def anchor_head(rt: "Runtime", head_id: int | None, head_hash: str | None, count: int) -> Anchor | None:
    """Anchor the head a walk verified: ``head_id`` with the hash and event count the walk saw.

    Not the chain's current head: an event appended (or changed) after the walk was never checked,
    and an anchor must not vouch for it. None: the walk found no events, or the head is anchored already.
    """
    if head_id is None or head_hash is None:
        return None
    return append_anchor(anchor_path(rt.settings), head_id, head_hash, count)


def anchor_if_intact(rt: "Runtime") -> int | None:
    """The periodic job: walk the chain and check its anchors; anchor the head only if all of it holds."""
    anchors, anchor_problems = read_anchors(anchor_path(rt.settings))
    walk = audit.walk_chain_in_batches(rt.Session)
    with rt.Session() as session:
        problems = check_chain(session, walk, anchors) + anchor_problems
    if problems:
        log.error("audit chain does not hold; not anchoring (run `vaern verify`):\n%s",
                  "\n".join(p.message for p in problems))
        return None
    anchor = anchor_head(rt, walk.head_id, walk.head_hash, walk.count)
    return anchor.event_id if anchor else None
