"""Is `vaern verify`'s blob re-hash at least half as fast as `sha256sum` on the same files?

Fills a temporary blob store through ``BlobStore.put`` with captures shaped like real ones (a few
MB of full-page PNG, MHTML and WARC, smaller viewport PNGs and HTML, many small text files and
manifests; random bytes), reads every file once so both runs hash from the page cache, then times
``sha256sum`` over the files and Værn's blob check (``tracker.integrity.blob_check.check_blobs``, the function
`vaern verify` uses) over the same store, interleaved, several rounds. Prints both throughputs and,
last, ``ratio=X.XX`` (Værn / sha256sum; target >= 0.5). On a shared machine absolute figures move:
compare within one run.

    .venv/bin/python benchmarks/verify_speed.py [--size-mb 1024] [--rounds 3] [--workers N]
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from storage.blobs import BlobStore, iter_store_files  # noqa: E402
from tracker.integrity.blob_check import check_blobs, rehash_workers  # noqa: E402

MB = 1024 * 1024
#: one capture's files: (name, smallest, largest size in bytes, probability the capture has it)
CAPTURE = [
    ("screenshot_full.png", 1 * MB, 6 * MB, 1.0),
    ("screenshot_viewport.png", 150_000, 900_000, 1.0),
    ("page.mhtml", 500_000, 4 * MB, 1.0),
    ("page.html", 40_000, 600_000, 1.0),
    ("traffic.warc.gz", 2 * MB, 12 * MB, 0.3),
    ("text.txt", 1_000, 30_000, 1.0),
    ("manifest.json", 3_000, 9_000, 1.0),
    ("manifest.tsr", 4_000, 6_000, 0.8),
]


def fill(store: BlobStore, size: int, seed: int = 5) -> tuple[int, int]:
    """Store random captures until ``size`` bytes are in; returns (files, bytes)."""
    rng = random.Random(seed)
    files = total = 0
    while total < size:
        for _, lo, hi, p in CAPTURE:
            if rng.random() < p:
                n = rng.randint(lo, hi)
                store.put(os.urandom(n))
                files, total = files + 1, total + n
    return files, total


def warm(paths: list[Path]) -> None:
    """Read every file once, so the timed runs hash from the page cache and not the disk."""
    for p in paths:
        with open(p, "rb") as fh:
            while fh.read(4 * MB):
                pass


def time_sha256sum(paths: list[Path], batch: int = 2000) -> float:
    t0 = time.perf_counter()
    for i in range(0, len(paths), batch):
        subprocess.run(["sha256sum", "--", *map(str, paths[i:i + batch])], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def time_vaern(store: BlobStore, refs: dict, workers: int) -> float:
    t0 = time.perf_counter()
    problems, notes, hashed, _ = check_blobs(store, refs, workers=workers)
    elapsed = time.perf_counter() - t0
    if problems or notes or hashed != len(refs):
        raise SystemExit(f"benchmark store did not verify: {problems[:3]} {notes[:3]}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=1024, help="evidence to create, in MiB (default 1024)")
    ap.add_argument("--rounds", type=int, default=3, help="timed runs of each (default 3; medians are compared)")
    ap.add_argument("--workers", type=int, default=None, help=f"re-hash threads (default {rehash_workers()})")
    args = ap.parse_args()
    if shutil.which("sha256sum") is None:
        raise SystemExit("sha256sum not found")
    workers = args.workers or rehash_workers()

    tmp = Path(tempfile.mkdtemp(prefix="vaern-verify-bench-"))
    try:
        store = BlobStore(tmp / "blobs")
        t0 = time.perf_counter()
        files, total = fill(store, args.size_mb * MB)
        print(f"stored {files} files, {total / 1e6:.0f} MB through BlobStore.put in {time.perf_counter() - t0:.1f}s")
        stored = list(iter_store_files(store.root))
        paths = [p for _, p in stored]
        refs = {name: [((0, 0, ""), "benchmark")] for name, _ in stored}
        warm(paths)
        time_vaern(store, refs, workers)  # once more through the code path, untimed
        sums, vaern = [], []
        for _ in range(args.rounds):
            sums.append(time_sha256sum(paths))
            vaern.append(time_vaern(store, refs, workers))
    finally:
        for p in tmp.rglob("*"):
            if p.is_file():
                p.chmod(0o644)
        shutil.rmtree(tmp)
    s, v = statistics.median(sums), statistics.median(vaern)
    mb = total / 1e6
    print(f"files={files} bytes={total} cores={os.cpu_count()} vaern_threads={workers} rounds={args.rounds}")
    print(f"sha256sum: median {s:.2f}s = {mb / s:.0f} MB/s (runs {', '.join(f'{x:.2f}' for x in sums)})")
    print(f"vaern:     median {v:.2f}s = {mb / v:.0f} MB/s (runs {', '.join(f'{x:.2f}' for x in vaern)})")
    print(f"ratio={s / v:.2f}")


if __name__ == "__main__":
    main()
