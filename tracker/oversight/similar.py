"""Near-duplicate evidence across all cases, by the perceptual hashes of the post element.

Only hashes taken of the post element (``hash_basis == "screenshot_post"``) are compared. Full-page
and viewport screenshots are not: research/tech.md §3 measured the *same* post at another viewport or
scroll position as far apart (pHash 30–32, dHash 21–23) as an unrelated page, while the post element
alone scored 0 across viewport, scroll and DPR. Comparing full pages would give noise, not matches.

Image hashes do not see text: a different post with the same photo scored pHash 4 (tech.md §3), so a
match says whether the normalised post text (``text_sha256``) is identical too; the hashes only
corroborate, the text hash and the post URL decide identity.

The index lives in the process, per database engine: unsigned 64-bit arrays compared by XOR and
popcount. Hashes never change once stored, so it is refreshed incrementally by evidence id (new ids,
plus the few still being captured last time); it is safe to query from many threads (readers take
an immutable snapshot; merges swap it under a lock).
"""
from __future__ import annotations

import json
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import Case, Evidence, EvidenceState, User
from tracker.oversight import offenders
from tracker.accounts.permissions import visible_cases

if TYPE_CHECKING:
    from storage.blobs import EvidenceStore

POST_BASIS = "screenshot_post"  #: the artifact role of the post-element screenshot (capture/steps.py)
NO_HASH_BASIS = "none"  #: the manifest was read and holds no perceptual hashes (so backfill skips it)


@dataclass(frozen=True)
class Thresholds:
    """At most this many differing bits (of 64) count as "similar"; both hashes must agree."""

    phash: int
    dhash: int
    source: str


#: tech.md §3: 64-bit pHash/dHash ≤ 8–10 is "similar" (Krawetz: 0 same, 1–10 variation, > 10 different);
#: pHash takes the stricter end because a mobile reflow of the same post already scored 12
THRESHOLDS = Thresholds(phash=8, dhash=10, source="research/tech.md §3 (Krawetz via hackerfactor)")
#: rebuild the whole index at least this often: covers an id committed out of order (see ``_load``)
FULL_RELOAD_SECONDS = 3600.0


@dataclass(frozen=True)
class Match:
    """Another piece of evidence whose post looks like this one."""

    evidence_id: int
    case_id: int
    phash_distance: int
    dhash_distance: int
    same_text: bool | None  #: identical normalised post text; None: one of them has no text hash


# -- filling the columns from a manifest --------------------------------------------------------------
def _hex64(value: Any) -> str | None:
    if isinstance(value, str) and len(value) == 16:
        try:
            int(value, 16)
        except ValueError:
            return None
        return value.lower()
    return None


def _clip(value: Any, limit: int) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()[:limit]


def apply_manifest_columns(ev: Evidence, manifest: dict[str, Any]) -> None:
    """Copy author, perceptual hashes and text hash from a sealed manifest onto the evidence row."""
    post = manifest.get("post") if isinstance(manifest.get("post"), dict) else {}
    hashes = manifest.get("perceptual_hashes") if isinstance(manifest.get("perceptual_hashes"), dict) else {}
    ev.author_handle = _clip(post.get("author_handle"), 200)
    ev.author_profile_url = _clip(post.get("author_profile_url"), 2048)
    ev.phash, ev.dhash = _hex64(hashes.get("phash")), _hex64(hashes.get("dhash"))
    basis = _clip(hashes.get("basis"), 40)
    ev.hash_basis = basis if basis and ev.phash and ev.dhash else NO_HASH_BASIS
    text = manifest.get("text_sha256")
    ev.text_sha256 = text if isinstance(text, str) and len(text) == 64 else None


def backfill_columns(session: Session, blobs: "EvidenceStore", limit: int | None = None) -> int:
    """Fill the columns of evidence stored before they existed, from its manifest blob; flushes only.

    Returns how many rows were filled. Rows whose manifest cannot be read are left for the next time.
    """
    q = (select(Evidence).where(Evidence.state == EvidenceState.done, Evidence.hash_basis.is_(None),
                                Evidence.manifest_sha256.is_not(None)).order_by(Evidence.id))
    if limit is not None:
        q = q.limit(limit)
    filled = 0
    for ev in session.execute(q).scalars():
        try:
            manifest = json.loads(blobs.read(ev.manifest_sha256))
        except Exception:  # noqa: BLE001 - a missing or damaged blob is the integrity check's business
            continue
        apply_manifest_columns(ev, manifest)
        offenders.suggest_from_evidence(session, ev, manifest.get("platform"))
        filled += 1
    session.flush()
    return filled


# -- the index ----------------------------------------------------------------------------------------
def _popcount(x: np.ndarray) -> np.ndarray:
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(x)
    return _BYTE_BITS[x.view(np.uint8).reshape(-1, 8)].sum(axis=1)


_BYTE_BITS = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _u64(hex_value: str) -> np.uint64:
    return np.uint64(int(hex_value, 16))


@dataclass(frozen=True)
class _Snapshot:
    ids: np.ndarray  #: int64, evidence ids
    case_ids: np.ndarray  #: int64
    phash: np.ndarray  #: uint64
    dhash: np.ndarray  #: uint64
    texts: np.ndarray  #: object: text_sha256 or None
    seen_max: int  #: every evidence up to this id is loaded, in ``pending``, or will never get post hashes
    pending: frozenset[int]  #: ids up to ``seen_max`` still being captured when last looked at
    loaded_at: float
    generation: int = 0  #: counts full reloads: a load only adds to the snapshots of the generation it read from

    @classmethod
    def empty(cls, generation: int = 0) -> "_Snapshot":
        return cls(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.uint64), np.empty(0, np.uint64),
                   np.empty(0, object), 0, frozenset(), time.monotonic(), generation)


@dataclass(frozen=True)
class Loaded:
    """What one look at the database found, relative to the snapshot ``base`` it started from (None: a full
    reload). Its ``seen_max`` and ``pending`` hold for ``base``'s rows plus ``rows``, not for another snapshot."""

    base: _Snapshot | None
    rows: list[tuple]
    seen_max: int
    pending: frozenset[int]


@dataclass
class NearDuplicateIndex:
    """Post-element hashes of one database, refreshed by evidence id before each query."""

    thresholds: Thresholds = THRESHOLDS
    _snap: _Snapshot | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __len__(self) -> int:
        return 0 if self._snap is None else len(self._snap.ids)

    def refresh(self, session: Session, blobs: "EvidenceStore | None" = None) -> None:
        """Load what is new since the last refresh (everything, after a backfill, on first use or each
        FULL_RELOAD_SECONDS). The database work runs outside the lock (no thread waits on another's query);
        only installing the result is serialised, so two refreshes never lose rows."""
        snap = self._snap
        full = snap is None or time.monotonic() - snap.loaded_at > FULL_RELOAD_SECONDS
        if full and blobs is not None:
            backfill_columns(session, blobs)
        self.install(self.load(session, full=full))

    def load(self, session: Session, *, full: bool = False) -> Loaded:
        """Look at the database: everything (``full``) or what is new since the current snapshot."""
        base = None if full or self._snap is None else self._snap
        rows, seen_max, pending = _load(session, base or _Snapshot.empty())
        return Loaded(base, rows, seen_max, pending)

    def install(self, loaded: Loaded) -> None:
        """Make ``loaded`` part of the index. A full reload replaces the snapshot and starts a generation. A
        look that started from an older generation is dropped: it was told that an evidence was loaded already
        (in its base), which the newer snapshot may not hold (loaded by the full reload as still being captured),
        and adding it would mark that evidence seen without its row. The next query looks again."""
        with self._lock:
            current = self._snap
            if loaded.base is None:
                generation = current.generation + 1 if current is not None else 1
                self._snap = _merge(_Snapshot.empty(generation), loaded.rows, loaded.seen_max, loaded.pending,
                                    time.monotonic())
            elif current is not None and current.generation == loaded.base.generation:
                if loaded.rows or loaded.seen_max != current.seen_max or loaded.pending != current.pending:
                    self._snap = _merge(current, loaded.rows, loaded.seen_max, loaded.pending, current.loaded_at)

    def matches(self, evidence_id: int, phash: str, dhash: str, text_sha256: str | None) -> list[Match]:
        """Every other indexed evidence within the thresholds on both hashes, closest first."""
        snap = self._snap or _Snapshot.empty()
        dp = _popcount(snap.phash ^ _u64(phash))
        dd = _popcount(snap.dhash ^ _u64(dhash))
        hit = np.flatnonzero((dp <= self.thresholds.phash) & (dd <= self.thresholds.dhash) & (snap.ids != evidence_id))
        found = [Match(int(snap.ids[i]), int(snap.case_ids[i]), int(dp[i]), int(dd[i]),
                       None if text_sha256 is None or snap.texts[i] is None else snap.texts[i] == text_sha256)
                 for i in hit]
        return sorted(found, key=lambda m: (m.phash_distance + m.dhash_distance, m.evidence_id))


_PENDING = (EvidenceState.queued, EvidenceState.running)


def _load(session: Session, snap: _Snapshot) -> tuple[list[tuple], int, frozenset[int]]:
    """Post-hashed rows new since ``snap``, and the new ``seen_max`` and ``pending``.

    Every query is an id lookup or an id range above ``seen_max``: cheap however large the table.
    Pending ids are read *before* the hashed rows, so a capture finishing in between is loaded now or
    looked at again next time (a row loaded twice is dropped by the merge). An id whose INSERT commits
    after a higher one was already seen could slip through; the periodic full reload picks it up.
    """
    still = set()
    if snap.pending:
        still = set(session.execute(select(Evidence.id).where(Evidence.id.in_(snap.pending),
                                                              Evidence.state.in_(_PENDING))).scalars())
    top = session.execute(select(func.max(Evidence.id))).scalar() or 0
    fresh = set(session.execute(select(Evidence.id).where(Evidence.id > snap.seen_max, Evidence.id <= top,
                                                          Evidence.state.in_(_PENDING))).scalars())
    look = ((Evidence.id > snap.seen_max) & (Evidence.id <= top))
    finished = snap.pending - still
    if finished:
        look = look | Evidence.id.in_(finished)
    rows = session.execute(
        select(Evidence.id, Evidence.case_id, Evidence.phash, Evidence.dhash, Evidence.text_sha256)
        .where(look, Evidence.hash_basis == POST_BASIS, Evidence.phash.is_not(None), Evidence.dhash.is_not(None))
        .order_by(Evidence.id)).all()
    return [tuple(r) for r in rows], max(top, snap.seen_max), frozenset(still | fresh)


def _merge(snap: _Snapshot, rows: list[tuple], seen_max: int, pending: frozenset[int],
           loaded_at: float) -> _Snapshot:
    if rows:
        ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        fresh = ~np.isin(ids, snap.ids[snap.ids >= ids.min()])
        rows = [r for r, keep in zip(rows, fresh) if keep]
    if not rows:
        return _Snapshot(snap.ids, snap.case_ids, snap.phash, snap.dhash, snap.texts, seen_max, pending, loaded_at,
                         snap.generation)
    n = len(rows)
    texts = np.empty(n, object)
    texts[:] = [r[4] for r in rows]
    return _Snapshot(
        np.concatenate([snap.ids, np.fromiter((r[0] for r in rows), np.int64, n)]),
        np.concatenate([snap.case_ids, np.fromiter((r[1] for r in rows), np.int64, n)]),
        np.concatenate([snap.phash, np.fromiter((int(r[2], 16) for r in rows), np.uint64, n)]),
        np.concatenate([snap.dhash, np.fromiter((int(r[3], 16) for r in rows), np.uint64, n)]),
        np.concatenate([snap.texts, texts]), seen_max, pending, loaded_at, snap.generation)


_INDEXES: "weakref.WeakKeyDictionary[Any, NearDuplicateIndex]" = weakref.WeakKeyDictionary()
_INDEXES_LOCK = threading.Lock()


def index_for(session: Session) -> NearDuplicateIndex:
    """The process's index of the database ``session`` talks to."""
    engine = session.get_bind().engine
    with _INDEXES_LOCK:
        index = _INDEXES.get(engine)
        if index is None:
            index = _INDEXES[engine] = NearDuplicateIndex()
        return index


def near_duplicates(session: Session, ev: Evidence, blobs: "EvidenceStore | None" = None) -> list[Match]:
    """Evidence in any case whose post looks like ``ev``'s (empty if ``ev`` has no post hashes)."""
    if ev.hash_basis != POST_BASIS or not ev.phash or not ev.dhash:
        return []
    index = index_for(session)
    index.refresh(session, blobs)
    return index.matches(ev.id, ev.phash, ev.dhash, ev.text_sha256)


# -- what the case page shows -------------------------------------------------------------------------
@dataclass(frozen=True)
class SimilarView:
    """Matches of one evidence in other cases: those the viewer may see, and how many elsewhere."""

    shown: list[tuple[Match, Case]]
    hidden: int

    @property
    def total(self) -> int:
        return len(self.shown) + self.hidden


def similar_for_case(session: Session, case: Case, viewer: User, blobs: "EvidenceStore | None" = None
                     ) -> dict[int, SimilarView]:
    """Per evidence of ``case``: look-alikes in *other* cases (re-checks of the same case are not news)."""
    def hashed(ev: Evidence) -> bool:
        return ev.hash_basis == POST_BASIS and bool(ev.phash) and bool(ev.dhash)

    unfilled = any(ev.state == EvidenceState.done and ev.hash_basis is None for ev in case.evidence)
    if not unfilled and not any(hashed(ev) for ev in case.evidence):
        return {}
    index = index_for(session)
    index.refresh(session, blobs)  # once for the page; a first load backfills older rows, these included
    found = {ev.id: [m for m in index.matches(ev.id, ev.phash, ev.dhash, ev.text_sha256) if m.case_id != case.id]
             for ev in case.evidence if hashed(ev)}
    case_ids = {m.case_id for ms in found.values() for m in ms}
    visible = ({c.id: c for c in session.execute(visible_cases(viewer).where(Case.id.in_(case_ids))).scalars()}
               if case_ids else {})
    views = {}
    for ev_id, ms in found.items():
        if ms:
            shown = [(m, visible[m.case_id]) for m in ms if m.case_id in visible]
            views[ev_id] = SimilarView(shown, len(ms) - len(shown))
    return views
