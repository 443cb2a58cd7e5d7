"""Near-duplicate evidence across cases by the post element's perceptual hashes (tracker/oversight/similar.py):
thresholds, the text-hash verdict, incremental refresh, backfill of older rows, threads, and 100,000 rows."""
from __future__ import annotations

import random
import threading

import pytest
from sqlalchemy import insert, select, update

from storage.models import Case, CaseOffender, Evidence, EvidenceState, User
from tests.support.factories import make_case, make_done_evidence, make_post_bundle, make_unit, make_user
from tracker.oversight import similar
from tracker.cases.register import add_evidence
from tracker.cases.evidence import store_bundle

BASE_P, BASE_D = 0x8F3C_A1B2_0F0F_7E11, 0x1234_5678_9ABC_DEF0
TEXT = "a" * 64


def flip(value: int, bits: int, offset: int = 0) -> str:
    """``value`` with ``bits`` low bits (from ``offset``) flipped, as 16 hex digits."""
    return f"{value ^ (((1 << bits) - 1) << offset):016x}"


def org(rt, cases: int = 3):
    with rt.transaction() as s:
        unit = make_unit(s)
        employee = make_user(s, "employee", unit)
        case_ids = [make_case(s, employee).id for _ in range(cases)]
        return employee.id, case_ids


def post(rt, case_id, actor_id, phash, dhash, text=TEXT, basis="screenshot_post", author=None):
    return make_done_evidence(rt, case_id, actor_id, bundle=make_post_bundle(
        phash=phash, dhash=dhash, text_sha256=text, basis=basis, author_handle=author))


def matches_of(rt, evidence_id):
    with rt.Session() as s:
        return similar.near_duplicates(s, s.get(Evidence, evidence_id), rt.blobs)


def test_a_look_alike_post_in_another_case_is_found_with_distances_and_the_text_verdict(runtime):
    actor, (c1, c2, c3) = org(runtime)
    base = post(runtime, c1, actor, flip(BASE_P, 0), flip(BASE_D, 0))
    same = post(runtime, c2, actor, flip(BASE_P, 3), flip(BASE_D, 1))  # 3 and 1 bits apart, same text
    photo = post(runtime, c3, actor, flip(BASE_P, 4, 8), flip(BASE_D, 6, 8), text="b" * 64)  # tech.md: pHash 4
    far = post(runtime, c3, actor, flip(BASE_P, 9), flip(BASE_D, 0))  # pHash 9 > 8
    far_d = post(runtime, c3, actor, flip(BASE_P, 0), flip(BASE_D, 11))  # dHash 11 > 10
    no_text = post(runtime, c2, actor, flip(BASE_P, 8), flip(BASE_D, 10), text=None)  # both at the limit
    viewport = post(runtime, c2, actor, flip(BASE_P, 0), flip(BASE_D, 0), basis="screenshot_viewport")

    found = {m.evidence_id: m for m in matches_of(runtime, base)}
    assert set(found) == {same, photo, no_text}
    assert (found[same].phash_distance, found[same].dhash_distance, found[same].same_text) == (3, 1, True)
    assert (found[photo].phash_distance, found[photo].dhash_distance, found[photo].same_text) == (4, 6, False)
    assert found[no_text].same_text is None and found[no_text].case_id == c2
    assert far not in found and far_d not in found and viewport not in found
    # a viewport-based capture is never compared, not even with an identical hash
    assert matches_of(runtime, viewport) == []


def test_evidence_stored_after_the_index_was_loaded_is_found_even_when_it_was_queued_earlier(runtime):
    actor, (c1, c2, c3) = org(runtime)
    with runtime.transaction() as s:  # queued before the others, captured last
        early = add_evidence(s, s.get(User, actor), s.get(Case, c3), url="https://example.org/opslag/9").id
    base = post(runtime, c1, actor, flip(BASE_P, 0), flip(BASE_D, 0))
    assert matches_of(runtime, base) == []
    later = post(runtime, c2, actor, flip(BASE_P, 2), flip(BASE_D, 2))
    assert [m.evidence_id for m in matches_of(runtime, base)] == [later]
    store_bundle(runtime, early, make_post_bundle(phash=flip(BASE_P, 1), dhash=flip(BASE_D, 1), text_sha256=TEXT))
    assert [m.evidence_id for m in matches_of(runtime, base)] == [early, later]


def test_older_evidence_without_the_columns_is_backfilled_from_its_manifest(runtime):
    actor, (c1, c2, _c3) = org(runtime)
    a = post(runtime, c1, actor, flip(BASE_P, 0), flip(BASE_D, 0), author="@Gammel.Profil")
    b = post(runtime, c2, actor, flip(BASE_P, 1), flip(BASE_D, 1))
    with runtime.transaction() as s:  # as stored before migration 0003's columns were filled
        s.execute(update(Evidence).values(author_handle=None, author_profile_url=None, hash_basis=None,
                                          phash=None, dhash=None, text_sha256=None))
        s.execute(CaseOffender.__table__.delete())
    index = similar.NearDuplicateIndex()
    with runtime.transaction() as s:
        index.refresh(s, runtime.blobs)
    assert len(index) == 2
    with runtime.Session() as s:
        row = s.get(Evidence, a)
        assert (row.hash_basis, row.phash, row.text_sha256, row.author_handle) == (
            "screenshot_post", flip(BASE_P, 0), TEXT, "@Gammel.Profil")
        assert s.execute(select(CaseOffender.case_id)).scalars().all() == [c1]  # the suggestion, too
    assert [m.evidence_id for m in index.matches(a, flip(BASE_P, 0), flip(BASE_D, 0), TEXT)] == [b]


def test_a_manifest_without_hashes_is_marked_so_the_backfill_reads_it_once(runtime):
    actor, (c1, *_rest) = org(runtime)
    ev = make_done_evidence(runtime, c1, actor)  # make_bundle: no perceptual hashes in the manifest
    with runtime.Session() as s:
        assert s.get(Evidence, ev).hash_basis == similar.NO_HASH_BASIS
        assert similar.backfill_columns(s, runtime.blobs) == 0


def test_many_threads_query_while_captures_are_stored(runtime):
    actor, (c1, c2, _c3) = org(runtime)
    base = post(runtime, c1, actor, flip(BASE_P, 0), flip(BASE_D, 0))
    errors, seen = [], []

    def reader():
        try:
            for _ in range(15):
                seen.append(len(matches_of(runtime, base)))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for i in range(5):
        post(runtime, c2, actor, flip(BASE_P, i + 1), flip(BASE_D, 1))
    for t in threads:
        t.join()
    assert errors == []
    assert len(seen) == 60 and all(0 <= n <= 5 for n in seen)
    assert len(matches_of(runtime, base)) == 5
    with runtime.Session() as s:
        assert len(similar.index_for(s)) == 6



def test_a_full_reload_installed_late_does_not_let_an_older_look_mark_a_capture_seen_without_its_row(runtime):
    """The interleaving a full run on a loaded machine once hit (4 of 5 look-alikes found): a full reload that
    read while a capture was still running is installed after a look that started from a snapshot already
    holding that capture. Installing the older look after it marked the capture seen without its row."""
    actor, (c1, c2, _c3) = org(runtime)
    base = post(runtime, c1, actor, flip(BASE_P, 0), flip(BASE_D, 0))
    with runtime.transaction() as s:
        capture = add_evidence(s, s.get(User, actor), s.get(Case, c2), url="https://example.org/opslag/7").id
    index = similar.NearDuplicateIndex()
    with runtime.Session() as s:
        slow_full = index.load(s, full=True)  # reads while the capture is still queued
    assert capture in slow_full.pending
    store_bundle(runtime, capture, make_post_bundle(phash=flip(BASE_P, 1), dhash=flip(BASE_D, 1), text_sha256=TEXT))
    with runtime.Session() as s:
        index.install(index.load(s, full=True))  # a quicker full reload: holds the capture
        assert capture in set(index._snap.ids.tolist())
        older_look = index.load(s)  # from that snapshot: nothing new, nothing pending
    assert older_look.rows == [] and capture not in older_look.pending

    index.install(slow_full)  # the slow reload lands: the capture is pending again, not loaded
    index.install(older_look)  # dropped: it was told the capture is loaded, which this snapshot does not hold
    assert capture in index._snap.pending
    with runtime.Session() as s:
        index.refresh(s)
    assert [m.evidence_id for m in index.matches(base, flip(BASE_P, 0), flip(BASE_D, 0), TEXT)] == [capture]

# -- 100,000 evidence rows --------------------------------------------------------------------------
def bulk_evidence(rt, count: int, case_ids: list[int], actor_id: int, seed: int = 5) -> None:
    """``count`` done evidence rows with random post hashes, inserted in bulk (no blobs: only columns)."""
    rnd = random.Random(seed)
    with rt.transaction() as s:
        for start in range(0, count, 10_000):
            s.execute(insert(Evidence), [
                dict(case_id=case_ids[i % len(case_ids)], kind="url", source_url=f"https://example.org/p/{i}",
                     state=EvidenceState.done, created_by_id=actor_id, hash_basis="screenshot_post",
                     phash=f"{rnd.getrandbits(64):016x}", dhash=f"{rnd.getrandbits(64):016x}",
                     text_sha256=f"{rnd.getrandbits(256):064x}", attempts=1)
                for i in range(start, min(start + 10_000, count))])


def far_from_base(rt) -> None:
    """Random 64-bit hashes sit ~32 bits apart; remove the (astronomically rare) ones within reach."""
    with rt.Session() as s:
        rows = s.execute(select(Evidence.id, Evidence.phash, Evidence.dhash)).all()
    close = [i for i, p, d in rows if p and bin(int(p, 16) ^ BASE_P).count("1") <= 8
             and bin(int(d, 16) ^ BASE_D).count("1") <= 10]
    if close:
        with rt.transaction() as s:
            s.execute(update(Evidence).where(Evidence.id.in_(close)).values(hash_basis=similar.NO_HASH_BASIS))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_query_over_100000_evidence_items_finds_exactly_the_planted_ones(runtime):
    """The answer at scale, first (loading) and repeated (cached); benchmarks/near_duplicates.py times it."""
    actor, case_ids = org(runtime, cases=20)
    with runtime.transaction() as s:  # the cases' own first captures: finished long ago
        s.execute(update(Evidence).values(state=EvidenceState.failed))
    bulk_evidence(runtime, 100_000, case_ids, actor)
    far_from_base(runtime)
    base = post(runtime, case_ids[0], actor, flip(BASE_P, 0), flip(BASE_D, 0))
    planted = {post(runtime, case_ids[k], actor, flip(BASE_P, k % 9), flip(BASE_D, k % 11)) for k in range(1, 6)}
    with runtime.Session() as s:
        ev = s.get(Evidence, base)
        first = similar.near_duplicates(s, ev, runtime.blobs)
        warm_result = similar.near_duplicates(s, ev, runtime.blobs)
    assert {m.evidence_id for m in first} == planted == {m.evidence_id for m in warm_result}


def test_the_popcount_fallback_counts_like_numpy():
    import numpy as np

    values = np.array([0, 1, 0xFFFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0001, BASE_P], dtype=np.uint64)
    table = similar._BYTE_BITS[values.view(np.uint8).reshape(-1, 8)].sum(axis=1)
    assert list(table) == [bin(int(v)).count("1") for v in values] == list(similar._popcount(values))
