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
- what retention erased (tracker.privacy.retention) is listed as notes: which case, when, by which rule;
  an erased case's rows no longer refer to its blobs, so their absence is no problem;
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
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import AuditEvent
from storage.types import utcnow
from tracker.oversight import audit
from tracker.cases import casefacts
from tracker.integrity.blob_check import (  # noqa: F401 - the file checks, readable from here as before
    blob_references, check_blobs, check_manifests, rehash_paths, rehash_workers, sealed_evidence)
from tracker.integrity.integrity_report import (  # noqa: F401 - the report types, readable from here as before
    HEX64, AnchorWriteError, IntegrityReport, Problem, event_span, plural, utc_text)

if TYPE_CHECKING:
    from tracker.adapters.runtime import Runtime
    from tracker.settings import Settings

log = logging.getLogger(__name__)

ANCHOR_FILE = "audit-anchors.jsonl"


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
        erasures = erasures_in_chain(session)  # erased on purpose by retention: said, not a problem
    chain_problems += [Problem("case_mismatch", f"case:{m.ref}", m.message) for m in mismatches]
    report.notes += [f"case {u.ref}: the audit chain has no record yet of its {', '.join(casefacts.FACTS[f] for f in u.facts)} "
                     "(opened before case facts were audited); `vaern verify` records them as a baseline"
                     for u in report.unrecorded]
    report.notes += erasures
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


# -- the audit chain ------------------------------------------------------------------------------
def check_chain(session: Session, walk: audit.ChainWalk, anchors: list["Anchor"]) -> list[Problem]:
    """Check the anchors against the walked chain and explain each edited event and broken link.

    ``anchors`` must be read before the walk begins: an anchor written later may name an event the
    walk did not reach.
    """
    held, anchor_problems = _check_anchors(session, anchors, walk)
    problems: list[tuple[int, int, Problem]] = []
    for e in walk.edited:
        what = f"{e.action} on {e.object_type} {e.object_id}, {utc_text(e.at)}"
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
        cause = (f"{event_span(before + 1, cur - 1)} removed, or event {before} rewritten" if cur - before > 1
                 else f"event {before} rewritten or replaced")
        return (f"audit chain broken between event {before} and event {cur}: event {cur} follows an event "
                f"that is no longer in the chain ({cause})")
    if before is None or followed >= cur or first_other is None or first_other > before:
        return f"audit event {cur} {claim}, which does not come right before it: it was inserted out of order"
    others, were = event_span(first_other, before), ("was" if first_other == before else "were")
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
            if not HEX64.match(anchor.hash) or anchor.anchored_at.tzinfo is None:
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
            ends = (f"the chain now ends at event {walk.head_id}, {plural(walk.count, 'event')}"
                    if walk.head_id is not None else "the chain is now empty")
            what = f"is gone ({ends}; the anchor recorded {plural(a.count, 'event')})"
        else:
            what = f"has changed: its hash is now {current}, the anchor recorded {a.hash}"
        problems.append(Problem("anchor_failed", f"event:{a.event_id}",
                                f"audit chain rewritten or truncated after anchor of {utc_text(a.anchored_at)}: "
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


#: the audit actions of an erasure (retention and erasure on request write them; `vaern verify` lists them)
ERASE_ACTIONS = ("case.erase", "offender.erase", "offender.suggestion_erase")


def erasures_in_chain(session: Session) -> list[str]:
    """One line per erasure the chain records (for `vaern verify`): what, when, by which rule, which event."""
    lines = []
    for ev_id, at, action, object_id, details in session.execute(
            select(AuditEvent.id, AuditEvent.at, AuditEvent.action, AuditEvent.object_id, AuditEvent.details)
            .where(AuditEvent.action.in_(ERASE_ACTIONS)).order_by(AuditEvent.id)):
        what = {"case.erase": f"case {object_id}", "offender.erase": f"offender {object_id}",
                "offender.suggestion_erase": f"offender suggestion {object_id}"}[action]
        rule = (details or {}).get("rule") if isinstance(details, dict) else None
        why = ("on the data subject's request (art. 17, tracker.privacy.subject_erasure)" if rule == "art17_request"
               else f"by retention rule {rule}")
        lines.append(f"{what} erased {at:%Y-%m-%d %H:%M} UTC {why} (audit event {ev_id})")
    return lines
