"""The content-addressed blob store: atomic, write-once, verified on read, safe under concurrent writers."""
from __future__ import annotations

import hashlib
import io
import multiprocessing
import os
import random
import stat
import threading
from pathlib import Path

import pytest

from storage.blobs import CHUNK, BlobCorrupt, BlobMissing, BlobStore, Retention


@pytest.fixture
def store(tmp_path):
    return BlobStore(tmp_path / "blobs")


def temp_files(store: BlobStore) -> list[str]:
    return os.listdir(store.root / "tmp")


def big_bytes(seed: int = 1, size: int = 3 * CHUNK + 123) -> bytes:
    return random.Random(seed).randbytes(size)


def test_a_blob_is_named_by_the_sha256_of_its_bytes(store):
    data = "Skærmbillede af opslaget".encode()
    sha = store.put(data)
    assert sha == hashlib.sha256(data).hexdigest()
    assert store.path_for(sha) == store.root / sha[:2] / sha[2:4] / sha
    assert store.path_for(sha).read_bytes() == data
    assert store.read(sha) == data
    assert store.exists(sha)


def test_a_name_that_is_not_a_sha256_is_refused(store):
    for bad in ("../../etc/passwd", "ABCDEF" * 10 + "ABCD", "a" * 63, ""):
        with pytest.raises(ValueError):
            store.path_for(bad)


def test_no_partial_file_is_visible_under_the_final_name_while_writing(store):
    data = big_bytes()
    sha = hashlib.sha256(data).hexdigest()
    seen_during_write = []

    class Watching(io.BytesIO):
        def read(self, n=-1):
            seen_during_write.append((store.path_for(sha).exists(), len(temp_files(store))))
            return super().read(n)

    assert store.put_stream(Watching(data)) == sha
    assert len(seen_during_write) > 3  # several chunks were written
    assert all(final is False for final, _ in seen_during_write)
    assert all(n_tmp == 1 for _, n_tmp in seen_during_write)  # the bytes go to a temp file first
    assert store.path_for(sha).read_bytes() == data
    assert temp_files(store) == []


def test_a_write_that_fails_half_way_leaves_neither_blob_nor_temp_file(store):
    class Broken(io.BytesIO):
        def read(self, n=-1):
            if self.tell() >= CHUNK:
                raise OSError("the upload connection dropped")
            return super().read(n)

    with pytest.raises(OSError, match="dropped"):
        store.put_stream(Broken(big_bytes()))
    assert temp_files(store) == []
    assert [p for p in store.root.rglob("*") if p.is_file()] == []


def test_a_stored_blob_is_read_only_and_never_overwritten(store):
    data = b"original evidence"
    sha = store.put(data)
    path = store.path_for(sha)
    assert stat.S_IMODE(path.stat().st_mode) & 0o222 == 0
    before = path.stat()

    assert store.put(data) == sha  # storing the same bytes again is a no-op
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)

    assert temp_files(store) == []


def test_a_corrupt_blob_is_repaired_by_a_verified_duplicate_write_and_the_damage_kept(store, caplog):
    data = b"original evidence"
    sha = store.put(data)
    path = store.path_for(sha)
    path.chmod(0o644)
    path.write_bytes(b"tampered evidenc")
    with pytest.raises(BlobCorrupt):
        store.verify(sha)

    assert store.put(data) == sha  # the stored copy is re-hashed, not accepted unchecked
    store.verify(sha)
    assert path.read_bytes() == data and stat.S_IMODE(path.stat().st_mode) & 0o222 == 0
    kept = list((store.root / "quarantine").iterdir())
    assert [p.read_bytes() for p in kept] == [b"tampered evidenc"] and kept[0].name.startswith(sha)
    assert any("was corrupt" in r.getMessage() and sha in r.getMessage() for r in caplog.records)
    assert temp_files(store) == [] and sorted(os.listdir(path.parent)) == [sha]
    # vaern verify's walk still shows the quarantined file, as a file that is not a blob
    from storage.blobs import iter_store_files
    assert any(p == kept[0] for _, p in iter_store_files(store.root))

    before = path.stat()
    store.put(data)  # a good copy is kept as it is
    assert (path.stat().st_ino, path.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert len(list((store.root / "quarantine").iterdir())) == 1


def test_new_blob_folders_are_fsynced_into_their_parents(store, monkeypatch):
    import storage.blobs as blobs

    synced = []
    real = blobs._fsync_dir
    monkeypatch.setattr(blobs, "_fsync_dir", lambda p: (synced.append(Path(p)), real(p)))
    sha = store.put(b"first blob in a new folder")
    final = store.path_for(sha)
    # ab/ created in the root, cd/ created in ab/, the file linked into cd/: each parent fsynced
    assert synced == [store.root, final.parent.parent, final.parent]


def test_a_flipped_byte_is_detected_and_the_error_names_the_blob(store):
    data = big_bytes(seed=2)
    sha = store.put(data)
    path = store.path_for(sha)
    path.chmod(0o644)
    flipped = bytearray(data)
    flipped[len(flipped) // 2] ^= 0x01
    path.write_bytes(bytes(flipped))

    with pytest.raises(BlobCorrupt) as info:
        store.read(sha)
    assert info.value.sha256 == sha
    assert sha in str(info.value)
    assert info.value.actual == hashlib.sha256(flipped).hexdigest()
    with pytest.raises(BlobCorrupt):
        store.verify(sha)
    # a streaming reader learns it at the end, before it may treat the data as good
    with pytest.raises(BlobCorrupt):
        for _ in store.iter_verified(sha):
            pass


def test_a_missing_blob_raises_blob_missing_naming_it(store):
    sha = store.put(b"will vanish")
    store.path_for(sha).unlink()
    with pytest.raises(BlobMissing) as info:
        store.read(sha)
    assert info.value.sha256 == sha and sha in str(info.value)
    assert not store.exists(sha)
    with pytest.raises(BlobMissing):
        store.verify(hashlib.sha256(b"never stored").hexdigest())


def test_two_threads_writing_the_same_blob_at_once_both_succeed_with_one_intact_file(store):
    data = big_bytes(seed=3, size=8 * CHUNK)
    barrier = threading.Barrier(4)
    results, errors = [], []

    def write():
        try:
            barrier.wait()
            results.append(store.put(data))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert len(set(results)) == 1 and len(results) == 4
    sha = results[0]
    assert store.read(sha) == data
    assert [p.name for p in store.root.rglob("*") if p.is_file()] == [sha]
    assert temp_files(store) == []


def _put_in_process(root: str, seed: int, size: int, barrier, results) -> None:
    data = random.Random(seed).randbytes(size)
    store = BlobStore(root)
    barrier.wait()
    results.put(store.put(data))


def test_two_processes_writing_the_same_blob_at_once_both_succeed_with_one_intact_file(store):
    ctx = multiprocessing.get_context("spawn")
    size, n = 8 * CHUNK, 3
    barrier, results = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_put_in_process, args=(str(store.root), 4, size, barrier, results))
             for _ in range(n)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0] * n
    shas = {results.get(timeout=5) for _ in range(n)}
    results.close()
    results.join_thread()
    data = random.Random(4).randbytes(size)
    assert shas == {hashlib.sha256(data).hexdigest()}
    sha = shas.pop()
    assert store.read(sha) == data
    assert [p.name for p in store.root.rglob("*") if p.is_file()] == [sha]
    assert temp_files(store) == []


def test_the_local_store_keeps_no_lock_and_deletes_a_blob_durably(store):
    sha = store.put(b"to be erased")
    assert store.retention(sha) == Retention(None, None)
    assert store.location(sha) == str(store.path_for(sha))
    assert store.delete(sha) is True
    assert not store.exists(sha)
    assert store.delete(sha) is False
    with pytest.raises(BlobMissing):
        store.retention(sha)
