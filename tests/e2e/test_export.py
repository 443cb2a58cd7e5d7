"""The case export package as an investigator meets it: `vaern export` as a subprocess, then only the real
`unzip`, `sha256sum -c`, `openssl ts -verify` and a shell loop; and `vaern verify-package` naming exactly
the file that was changed, removed or added.

Real parts: SQLite (and PostgreSQL where configured), the blob store, a local RFC 3161 TSA run by
`openssl ts`, Chromium printing the reports.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from canon import canonical_json
from capture.bundle import Artifact as BundleArtifact
from capture.bundle import EvidenceBundle
from capture.timestamp import request_timestamp
from storage.models import AuditEvent, Case, Role
from tests.support.factories import make_bundle, make_case, make_done_evidence, make_settings, make_unit, make_user, png_bytes
from tests.support.cli import said, vaern
from tests.support.tsa import LocalTSA
from tests.support.database import new_runtime
from tracker.errors import DomainError
from tracker.packaging.export import write_case_package
from tracker.packaging.package import verify_package
from tracker.adapters.runtime import Runtime

SUM_LINE = re.compile(r"^[0-9a-f]{64}  (\S.*)$")


@dataclass
class Exported:
    rt: Runtime
    tsa: LocalTSA
    ref: str
    case_id: int
    leader_id: int
    leader_email: str
    outsider_email: str
    stamped: int  #: evidence id with a timestamp token
    upload: int  #: evidence id of an uploaded screenshot, without a token
    package: Path
    cli: subprocess.CompletedProcess


def upload_bundle() -> EvidenceBundle:
    original = BundleArtifact("original.png", "original", "image/png", png_bytes(90, 60, (20, 120, 40)))
    return EvidenceBundle.seal("ok", [original], {"schema": "vaern.manifest/1", "kind": "upload"})


def build_case(rt: Runtime) -> tuple[str, int, int, str, str, int, int]:
    """A case in unit A with a queued capture, a timestamped capture and an upload; a leader in unit B."""
    with rt.transaction() as s:
        a, b = make_unit(s, "Jobcenter"), make_unit(s, "Borgerservice")
        employee = make_user(s, Role.employee, a, name="Søren Sørensen")
        leader = make_user(s, Role.leader, a, name="Lone Leder")
        outsider = make_user(s, Role.leader, b)
        case = make_case(s, employee, description="Trusler i kommentarfeltet — æøå")
        ids = (case.ref, case.id, leader.id, leader.email, outsider.email, employee.id)
    ref, case_id, leader_id, leader_email, outsider_email, employee_id = ids
    bundle = make_bundle()
    bundle.timestamp = request_timestamp(bundle.manifest_bytes, rt.capture_options)
    stamped = make_done_evidence(rt, case_id, employee_id, bundle=bundle)
    upload = make_done_evidence(rt, case_id, employee_id, bundle=upload_bundle())
    return ref, case_id, leader_id, leader_email, outsider_email, stamped, upload


def cli_env(rt: Runtime) -> dict[str, str]:
    return {"tsa_ca_file": str(rt.settings.tsa_ca_file), "tsa_url": rt.settings.tsa_url}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """One case exported once by the leader through `vaern export` (a subprocess on the same SQLite)."""
    tmp = tmp_path_factory.mktemp("export")
    with LocalTSA(tmp) as tsa:
        rt = new_runtime(make_settings(tmp / "data", tsa_url=tsa.url, tsa_ca_file=tsa.ca_file))
        ref, case_id, leader_id, leader_email, outsider_email, stamped, upload = build_case(rt)
        package = tmp / "out" / "pakke.zip"
        result = vaern("export", ref, "--out", str(package), "--as", leader_email, data_dir=rt.settings.data_dir,
                       **cli_env(rt))
        assert result.returncode == 0, result.stderr
        yield Exported(rt, tsa, ref, case_id, leader_id, leader_email, outsider_email, stamped, upload, package,
                       result)
        rt.close()


def unzip(package: Path, into: Path) -> Path:
    subprocess.run(["unzip", "-q", str(package), "-d", str(into)], check=True, timeout=60)
    return into


def files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def rewrite(src: Path, dst: Path, *, change: dict | None = None, drop: str | None = None,
            add: dict[str, bytes] | None = None) -> Path:
    """Copy the ZIP member by member, changing, dropping or adding members (a well-formed ZIP, CRCs right)."""
    change = change or {}
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            if info.filename == drop:
                continue
            data = zin.read(info)
            if info.filename in change:
                data = change[info.filename](data)
            zout.writestr(info, data)
        for name, data in (add or {}).items():
            zout.writestr(name, data)
    return dst


def flip(data: bytes) -> bytes:
    i = len(data) // 2
    return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:]


def verify_cli(package: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return vaern("verify-package", str(package), *args, data_dir=tmp_path / "unused")


# -- the export as the investigator checks it ---------------------------------------------------------
def test_the_cli_export_prints_the_package_sha256_and_records_the_leader_as_exporter(exported):
    sha = hashlib.sha256(exported.package.read_bytes()).hexdigest()
    assert f"SHA-256 {sha}" in exported.cli.stdout
    with zipfile.ZipFile(exported.package) as z:
        count = len(z.namelist())
    assert f"{count} files" in exported.cli.stdout
    with exported.rt.Session() as s:
        [event] = s.execute(select(AuditEvent).where(AuditEvent.action == "package.export")).scalars()
    assert event.actor_id == exported.leader_id and event.case_id == exported.case_id
    assert event.details["sha256"] == sha and event.details["via"] == "cli"
    assert event.details["files"] == count and "os_user" not in event.details


def test_sha256sum_checks_every_other_file_of_the_unzipped_package_ok(exported, tmp_path):
    folder = unzip(exported.package, tmp_path / "pakke")
    result = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=folder, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    checked = {line.rsplit(": ", 1)[0] for line in result.stdout.splitlines() if line.endswith(": OK")}
    assert len(checked) == len(result.stdout.splitlines())
    assert checked == files_under(folder) - {"SHA256SUMS"}
    lines = (folder / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    names = [SUM_LINE.match(line).group(1) for line in lines]
    assert names == sorted(names)
    stamped, upload = f"evidence/{exported.stamped}", f"evidence/{exported.upload}"
    assert {f"{stamped}/{n}" for n in ("manifest.json", "manifest.tsr", "report.pdf", "screenshot_viewport.png",
                                       "page.html", "page.mhtml", "text.txt")} <= checked
    assert {f"{upload}/manifest.json", f"{upload}/original.png", f"{upload}/report.pdf"} <= checked
    assert f"{upload}/manifest.tsr" not in checked
    assert {"README.txt", "case-report.pdf", "case.json", "audit-extract.jsonl", "audit-hashed.jsonl",
            "tsa/tsa-ca.pem"} <= checked
    assert (folder / "case-report.pdf").read_bytes().startswith(b"%PDF")
    assert (folder / stamped / "report.pdf").read_bytes().startswith(b"%PDF")
    with exported.rt.Session() as s:
        case = s.get(Case, exported.case_id)
        for ev in case.evidence:
            for art in ev.artifacts:  # the evidence files are the stored bytes, unchanged
                if ev.id in (exported.stamped, exported.upload):
                    assert hashlib.sha256((folder / f"evidence/{ev.id}/{art.name}").read_bytes()).hexdigest() == art.sha256
    facts = json.loads((folder / "case.json").read_text(encoding="utf-8"))
    assert facts["ref"] == exported.ref and facts["description"] == "Trusler i kommentarfeltet — æøå"
    assert [e["folder"] for e in facts["evidence"]] == [None, stamped, upload]  # the queued capture: listed only
    assert facts["evidence"][0]["state"] == "queued"


def test_openssl_verifies_the_timestamp_token_against_the_packaged_tsa_certificate(exported, tmp_path):
    folder = unzip(exported.package, tmp_path / "pakke")
    stamped = f"evidence/{exported.stamped}"
    result = subprocess.run(["openssl", "ts", "-verify", "-data", f"{stamped}/manifest.json",
                             "-in", f"{stamped}/manifest.tsr", "-CAfile", "tsa/tsa-ca.pem"],
                            cwd=folder, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Verification: OK" in result.stdout
    assert (folder / "tsa/tsa-ca.pem").read_bytes().strip() == Path(exported.tsa.ca_file).read_bytes().strip()


def test_the_audit_extract_recomputes_with_a_shell_loop_to_the_chains_hashes(exported, tmp_path):
    folder = unzip(exported.package, tmp_path / "pakke")
    loop = subprocess.run(["bash", "-c", "while IFS= read -r l; do printf '%s' \"$l\" | sha256sum; done "
                                         "< audit-hashed.jsonl"], cwd=folder, capture_output=True, text=True,
                          timeout=60, check=True)
    recomputed = [line.split()[0] for line in loop.stdout.splitlines()]
    events = [json.loads(line) for line in (folder / "audit-extract.jsonl").read_text(encoding="utf-8").splitlines()]
    with exported.rt.Session() as s:
        stored = s.execute(select(AuditEvent.id, AuditEvent.hash, AuditEvent.prev_hash)
                           .where(AuditEvent.case_id == exported.case_id, AuditEvent.action != "package.export")
                           .order_by(AuditEvent.id)).all()
    assert [(e["id"], e["hash"], e["prev_hash"]) for e in events] == [tuple(row) for row in stored]
    assert recomputed == [e["hash"] for e in events]
    assert {e["action"] for e in events} >= {"case.create", "evidence.request", "evidence.captured"}
    assert events[0]["actor"]["name"] == "Søren Sørensen"


def test_the_readme_tells_the_investigator_in_danish_then_english_the_exact_commands(exported, tmp_path):
    folder = unzip(exported.package, tmp_path / "pakke")
    readme = (folder / "README.txt").read_text(encoding="utf-8")
    danish, english = readme.index("DANSK"), readme.index("ENGLISH")
    assert danish < english
    stamped = f"evidence/{exported.stamped}"
    command = (f"openssl ts -verify -data {stamped}/manifest.json -in {stamped}/manifest.tsr "
               "-CAfile tsa/tsa-ca.pem")
    for section in (readme[danish:english], readme[english:]):
        assert "sha256sum -c SHA256SUMS" in section
        assert command in section
        assert "while IFS= read -r l; do printf '%s' \"$l\" | sha256sum; done < audit-hashed.jsonl" in section
    assert "Sådan kontrollerer du pakken" in readme and "How to verify the package" in readme
    assert "Verification: OK" in readme and exported.ref in readme


def test_vaern_verify_package_accepts_the_intact_package(exported, tmp_path):
    result = verify_cli(exported.package, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    with zipfile.ZipFile(exported.package) as z:
        listed = len(z.read("SHA256SUMS").splitlines())
    assert result.stdout.splitlines() == [
        f"OK: {listed} files verified, 1 timestamp(s) verified, 2 fingerprint(s) cross-checked"]


# -- tampering --------------------------------------------------------------------------------------
@pytest.mark.parametrize("member", ["{ev}/screenshot_viewport.png", "{ev}/manifest.json", "{ev}/manifest.tsr",
                                    "{ev}/report.pdf", "README.txt", "case-report.pdf", "audit-extract.jsonl",
                                    "tsa/tsa-ca.pem"])
def test_a_flipped_byte_in_one_file_is_named_and_no_other_file_is(exported, tmp_path, member):
    name = member.format(ev=f"evidence/{exported.stamped}")
    bad = rewrite(exported.package, tmp_path / "bad.zip", change={name: flip})
    result = verify_cli(bad, tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.splitlines() == [f"FAILED: {name}: SHA-256 does not match SHA256SUMS"]


def test_a_removed_file_is_named_missing(exported, tmp_path):
    name = f"evidence/{exported.upload}/original.png"
    result = verify_cli(rewrite(exported.package, tmp_path / "bad.zip", drop=name), tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [f"MISSING: {name}: listed in SHA256SUMS but not in the package"]


def test_an_added_file_is_named_not_listed(exported, tmp_path):
    name = f"evidence/{exported.upload}/extra.png"
    result = verify_cli(rewrite(exported.package, tmp_path / "bad.zip", add={name: png_bytes()}), tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [f"NOT LISTED: {name}: in the package but not in SHA256SUMS"]


def resummed(data: dict[str, bytes]) -> bytes:
    return "".join(f"{hashlib.sha256(v).hexdigest()}  {k}\n" for k, v in sorted(data.items())).encode()


def test_a_file_changed_together_with_sha256sums_is_still_caught_by_its_manifest_and_timestamp(exported, tmp_path):
    """Someone who also rewrites SHA256SUMS is caught by manifest.json, and a changed manifest by its token."""
    stamped = f"evidence/{exported.stamped}"
    with zipfile.ZipFile(exported.package) as z:
        files = {n: z.read(n) for n in z.namelist() if n != "SHA256SUMS"}
    shot = dict(files, **{f"{stamped}/screenshot_viewport.png": flip(files[f"{stamped}/screenshot_viewport.png"])})
    bad = rewrite(exported.package, tmp_path / "shot.zip", change={
        f"{stamped}/screenshot_viewport.png": flip, "SHA256SUMS": lambda _: resummed(shot)})
    assert [p.line() for p in verify_package(bad).problems] == [
        f"FAILED: {stamped}/screenshot_viewport.png: SHA-256 does not match manifest.json"]

    manifest = files[f"{stamped}/manifest.json"].replace(b'"kind":"url"', b'"kind":"upl"')
    forged = dict(files, **{f"{stamped}/manifest.json": manifest})
    bad = rewrite(exported.package, tmp_path / "manifest.zip", change={
        f"{stamped}/manifest.json": lambda _: manifest, "SHA256SUMS": lambda _: resummed(forged)})
    problems = {p.path: p for p in verify_package(bad).problems}
    assert sorted(problems) == [f"{stamped}/manifest.json", f"{stamped}/manifest.tsr"]
    assert problems[f"{stamped}/manifest.tsr"].reason.startswith(
        f"its imprint {hashlib.sha256(files[f'{stamped}/manifest.json']).hexdigest()} is not the SHA256 of "
        f"{stamped}/manifest.json")
    assert problems[f"{stamped}/manifest.json"].reason.startswith("its SHA-256 is not the evidence fingerprint")


def forge_upload(exported: Exported, src: Path, dst: Path, *, also_case_json: bool = False) -> tuple[str, str, str]:
    """Rewrite the upload's original.png, its manifest.json entry and SHA256SUMS consistently (and case.json,
    if asked): every checksum inside the package agrees with the forgery. Returns (folder, old, new fingerprint)."""
    folder = f"evidence/{exported.upload}"
    with zipfile.ZipFile(src) as z:
        files = {n: z.read(n) for n in z.namelist() if n != "SHA256SUMS"}
    old_png = files[f"{folder}/original.png"]
    new_png = flip(old_png)
    old_manifest = files[f"{folder}/manifest.json"]
    new_manifest = old_manifest.replace(hashlib.sha256(old_png).hexdigest().encode(),
                                        hashlib.sha256(new_png).hexdigest().encode())
    assert new_manifest != old_manifest
    old_fp, new_fp = hashlib.sha256(old_manifest).hexdigest(), hashlib.sha256(new_manifest).hexdigest()
    forged = {f"{folder}/original.png": new_png, f"{folder}/manifest.json": new_manifest}
    if also_case_json:
        forged[CASE_JSON] = (files[CASE_JSON].replace(old_fp.encode(), new_fp.encode())
                             .replace(hashlib.sha256(old_png).hexdigest().encode(),
                                      hashlib.sha256(new_png).hexdigest().encode())
                             .replace(old_fp.encode(), new_fp.encode()))
    change = {name: (lambda data, new=data: new) for name, data in forged.items()}
    change["SHA256SUMS"] = lambda _: resummed(dict(files, **forged))
    rewrite(src, dst, change=change)
    return folder, old_fp, new_fp


CASE_JSON = "case.json"


def test_a_consistent_rewrite_of_an_artifact_its_manifest_entry_and_sha256sums_is_named(exported, tmp_path):
    """The upload has no timestamp: only the package's other records of its fingerprint can expose it."""
    bad = tmp_path / "forged.zip"
    folder, old_fp, new_fp = forge_upload(exported, exported.package, bad)
    folder_ok = unzip(bad, tmp_path / "pakke")
    assert subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=folder_ok, timeout=60).returncode == 0
    result = verify_cli(bad, tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    with exported.rt.Session() as s:
        captured = s.execute(select(AuditEvent.id).where(AuditEvent.action == "evidence.captured",
                                                         AuditEvent.object_id == str(exported.upload))).scalar_one()
    assert result.stdout.splitlines() == [
        f"FAILED: {folder}/manifest.json: its SHA-256 is not the evidence fingerprint stated in "
        f"case.json (states {old_fp}); audit-extract.jsonl (event {captured} recorded {old_fp}); "
        f"case-report.pdf (the fingerprint is not in its text); {folder}/report.pdf (the fingerprint is not in its text)",
        f"FAILED: {folder}/original.png: SHA-256 does not match case.json (the file as Værn stored it)"]

    # whoever also rewrites case.json is still named by the audit extract and both reports
    worse = tmp_path / "forged-too.zip"
    forge_upload(exported, exported.package, worse, also_case_json=True)
    result = verify_cli(worse, tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"FAILED: {folder}/manifest.json: its SHA-256 is not the evidence fingerprint stated in "
        f"audit-extract.jsonl (event {captured} recorded {old_fp}); case-report.pdf (the fingerprint is not in its "
        f"text); {folder}/report.pdf (the fingerprint is not in its text)"]


def test_a_package_exported_without_a_tsa_ca_file_carries_the_chain_stored_with_the_token(exported, tmp_path):
    """The chain was stored when the token was obtained, so nothing at export time is needed for openssl."""
    out = tmp_path / "uden-ca.zip"
    result = vaern("export", exported.ref, "--out", str(out), "--as", exported.leader_email,
                   data_dir=exported.rt.settings.data_dir)  # no VAERN_TSA_CA_FILE, no VAERN_TSA_URL
    assert result.returncode == 0, result.stderr
    folder = unzip(out, tmp_path / "pakke")
    stamped = f"evidence/{exported.stamped}"
    chain = (folder / stamped / "manifest.tsa-chain.pem").read_bytes()
    assert chain.startswith(b"-----BEGIN CERTIFICATE-----") and b"PRIVATE KEY" not in chain
    for ca in ("tsa/tsa-ca.pem", f"{stamped}/manifest.tsa-chain.pem"):
        check = subprocess.run(["openssl", "ts", "-verify", "-data", f"{stamped}/manifest.json",
                                "-in", f"{stamped}/manifest.tsr", "-CAfile", ca],
                               cwd=folder, capture_output=True, text=True, timeout=60)
        assert check.returncode == 0 and "Verification: OK" in check.stdout, (ca, check.stdout + check.stderr)
    readme = (folder / "README.txt").read_text(encoding="utf-8")
    assert f"-CAfile tsa/tsa-ca.pem" in readme and "var ikke sat op i Værn" not in readme
    verified = verify_cli(out, tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "1 timestamp(s) verified" in verified.stdout
    # the chain is the CA the token was verified against when it was obtained, nothing else
    from cryptography import x509
    assert [c.subject for c in x509.load_pem_x509_certificates(chain)] == \
        [c.subject for c in x509.load_pem_x509_certificates(Path(exported.tsa.ca_file).read_bytes())]


def test_unsafe_names_and_zip_bombs_are_refused_without_unpacking_anything(tmp_path):
    bomb = b"\0" * (20 * 1024 * 1024)
    members = {"../../escaped.txt": b"x", "/etc/passwd-copy": b"y", "a\\b.txt": b"z", "ok.txt": b"fine",
               "bomb.bin": bomb}
    sums = resummed(members)
    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
        z.writestr("SHA256SUMS", sums)
    result = verify_package(path)
    lines = [p.line() for p in result.problems]
    assert "UNSAFE: '../../escaped.txt': path leaves the package folder or has empty parts" in lines
    assert "UNSAFE: '/etc/passwd-copy': absolute path or backslash" in lines
    assert "UNSAFE: 'a\\\\b.txt': absolute path or backslash" in lines
    assert "UNSAFE: bomb.bin: compression ratio of a ZIP bomb; not unpacked" in lines
    assert sum(line.startswith("MALFORMED: SHA256SUMS line") for line in lines) == 3  # the unsafe names listed
    assert result.checked == 1  # ok.txt
    assert not (tmp_path.parent / "escaped.txt").exists() and sorted(os.listdir(tmp_path)) == ["evil.zip"]


def test_a_malformed_checksum_list_is_named_by_line(exported, tmp_path):
    bad = rewrite(exported.package, tmp_path / "bad.zip",
                  change={"SHA256SUMS": lambda d: d.replace(b"  README.txt\n", b" README.txt\n", 1)})
    result = verify_cli(bad, tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "MALFORMED: SHA256SUMS line 1: not '<64 hex digits>  <path>'",
        "NOT LISTED: README.txt: in the package but not in SHA256SUMS"]


def test_a_file_that_is_not_a_zip_exits_2_with_one_line(tmp_path):
    junk = tmp_path / "pakke.zip"
    junk.write_bytes(b"%PDF-1.7 not a zip")
    result = verify_cli(junk, tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert len(said(result.stderr)) == 1 and "not a readable ZIP file" in result.stderr
    result = verify_cli(tmp_path / "absent.zip", tmp_path)
    assert result.returncode == 2


# -- refusals -----------------------------------------------------------------------------------------
def test_export_refuses_to_overwrite_unknown_cases_and_users_who_may_not_see_the_case(exported, tmp_path):
    def exports() -> int:
        with exported.rt.Session() as s:
            return s.execute(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "package.export")).scalar()

    before = exports()
    data = exported.rt.settings.data_dir
    existing = tmp_path / "findes.zip"
    existing.write_bytes(b"someone else's file")
    result = vaern("export", exported.ref, "--out", str(existing), data_dir=data, **cli_env(exported.rt))
    assert result.returncode == 2 and "never overwritten" in result.stderr
    assert existing.read_bytes() == b"someone else's file"

    out = tmp_path / "ny.zip"
    result = vaern("export", "V-1999-00001", "--out", str(out), data_dir=data, **cli_env(exported.rt))
    assert result.returncode == 2 and "no case 'V-1999-00001'" in result.stderr
    result = vaern("export", exported.ref, "--out", str(out), "--as", exported.outsider_email, data_dir=data,
                   **cli_env(exported.rt))
    assert result.returncode == 2 and f"no case '{exported.ref}' that {exported.outsider_email} may see" in result.stderr
    result = vaern("export", exported.ref, "--out", str(out), "--as", "ingen@kommune.dk", data_dir=data,
                   **cli_env(exported.rt))
    assert result.returncode == 2 and "no active user" in result.stderr
    assert not out.exists() and exports() == before


def test_without_as_the_system_is_the_exporter_with_the_os_user_named(exported, tmp_path):
    out = tmp_path / "system.zip"
    result = vaern("export", exported.ref, "--out", str(out), data_dir=exported.rt.settings.data_dir,
                   **cli_env(exported.rt))
    assert result.returncode == 0, result.stderr
    with exported.rt.Session() as s:
        event = s.execute(select(AuditEvent).where(AuditEvent.action == "package.export")
                          .order_by(AuditEvent.id.desc()).limit(1)).scalar_one()
    assert event.actor_id is None and event.details["os_user"]
    assert event.details["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()


# -- in process, on both databases ---------------------------------------------------------------------
@pytest.fixture
def tsa(tmp_path):
    with LocalTSA(tmp_path) as t:
        yield t


def test_a_package_written_on_either_database_verifies_and_lists_files_in_a_fixed_order(database_url, make_runtime,
                                                                                       tsa, tmp_path):
    rt = make_runtime(database_url=database_url, tsa_url=tsa.url, tsa_ca_file=tsa.ca_file)
    ref, case_id, *_ = build_case(rt)
    from datetime import datetime, timezone

    moment = datetime(2026, 11, 26, 13, 5, tzinfo=timezone.utc)
    listings = []
    for name in ("a.zip", "b.zip"):
        with rt.Session() as s:
            package = write_case_package(rt, s, s.get(Case, case_id), tmp_path / name, now=moment)
        assert package.sha256 == hashlib.sha256(package.path.read_bytes()).hexdigest()
        result = verify_package(package.path)
        assert result.ok, [p.line() for p in result.problems]
        assert result.checked == package.files - 1 and result.timestamps == 1
        with zipfile.ZipFile(package.path) as z:
            listings.append([(i.filename, i.date_time, i.CRC if not i.filename.endswith(".pdf") else None)
                             for i in z.infolist() if i.filename not in ("SHA256SUMS", "case.json")])
    assert listings[0] == listings[1]  # same moment, same package (the PDFs aside: Chromium stamps them)
    assert listings[0][0][:2] == ("README.txt", (2026, 11, 26, 14, 5, 0))  # Danish time inside the ZIP
    with pytest.raises(FileExistsError):
        with rt.Session() as s:
            write_case_package(rt, s, s.get(Case, case_id), tmp_path / "a.zip")


def test_a_corrupt_evidence_blob_stops_the_export_and_leaves_no_file(make_runtime, tsa, tmp_path):
    rt = make_runtime(tsa_url=tsa.url, tsa_ca_file=tsa.ca_file)
    _, case_id, _, _, _, _, upload = build_case(rt)
    with rt.Session() as s:
        art = next(a for e in s.get(Case, case_id).evidence if e.id == upload for a in e.artifacts
                   if a.name == "original.png")
        blob = rt.blobs.path_for(art.sha256)
    os.chmod(blob, 0o644)
    blob.write_bytes(flip(blob.read_bytes()))
    with rt.Session() as s, pytest.raises(DomainError) as exc:
        write_case_package(rt, s, s.get(Case, case_id), tmp_path / "out" / "pakke.zip")
    assert exc.value.code == "blob_corrupt" and f"evidence/{upload}/original.png" in exc.value.message
    assert not (tmp_path / "out" / "pakke.zip").exists()
    assert [p.name for p in (tmp_path / "out").iterdir()] == []  # no temp file left behind


def test_only_certificates_of_the_tsa_file_are_packaged_never_a_key(make_runtime, tsa, tmp_path):
    mixed = tmp_path / "ca-and-key.pem"
    mixed.write_bytes(Path(tsa.ca_file).read_bytes() + (Path(tsa.dir) / "ca.key").read_bytes())
    rt = make_runtime(tsa_url=tsa.url, tsa_ca_file=str(mixed))
    _, case_id, *_ = build_case(rt)
    with rt.Session() as s:
        package = write_case_package(rt, s, s.get(Case, case_id), tmp_path / "p.zip")
    with zipfile.ZipFile(package.path) as z:
        pem = z.read("tsa/tsa-ca.pem")
    assert b"PRIVATE KEY" not in pem and pem.strip() == Path(tsa.ca_file).read_bytes().strip()


def test_an_audit_event_rewritten_with_its_hash_breaks_the_link_to_the_next_event_and_is_named(exported, tmp_path):
    """Changing the fingerprint an evidence.captured event recorded, and re-hashing that line, is named twice:
    the next event no longer links to it, and the manifest's fingerprint no longer matches it."""
    stamped = f"evidence/{exported.stamped}"
    with zipfile.ZipFile(exported.package) as z:
        files = {n: z.read(n) for n in z.namelist() if n != "SHA256SUMS"}
    extract = files["audit-extract.jsonl"].decode().splitlines()
    hashed = files["audit-hashed.jsonl"].decode().splitlines()
    n = next(i for i, line in enumerate(extract) if json.loads(line)["action"] == "evidence.captured"
             and json.loads(line)["object"]["id"] == str(exported.stamped))
    event, body = json.loads(extract[n]), json.loads(hashed[n])
    assert json.loads(extract[n + 1])["id"] == event["id"] + 1  # the next event of the whole chain is in this case
    event["details"]["fingerprint"] = "0" * 64
    body["details_sha256"] = hashlib.sha256(canonical_json(event["details"])).hexdigest()  # its hash covers the digest
    hashed[n] = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    event["hash"] = hashlib.sha256(hashed[n].encode()).hexdigest()
    extract[n] = json.dumps(event, ensure_ascii=False, sort_keys=True)
    forged = dict(files, **{"audit-extract.jsonl": ("\n".join(extract) + "\n").encode(),
                            "audit-hashed.jsonl": ("\n".join(hashed) + "\n").encode()})
    bad = rewrite(exported.package, tmp_path / "audit.zip", change={
        **{name: (lambda _, new=forged[name]: new) for name in ("audit-extract.jsonl", "audit-hashed.jsonl")},
        "SHA256SUMS": lambda _: resummed(forged)})
    result = verify_cli(bad, tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"FAILED: audit-extract.jsonl: line {n + 2}: the link to the event before it is broken",
        f"FAILED: {stamped}/manifest.json: its SHA-256 is not the evidence fingerprint stated in "
        f"audit-extract.jsonl (event {event['id']} recorded {'0' * 64})"]


def test_an_audit_events_details_edited_in_the_extract_alone_no_longer_match_the_digest_its_hash_covers(exported,
                                                                                                        tmp_path):
    """Since migration 0009 an event's hash covers its details' SHA-256: the readable details are held to it."""
    with zipfile.ZipFile(exported.package) as z:
        files = {n: z.read(n) for n in z.namelist() if n != "SHA256SUMS"}
    extract = files["audit-extract.jsonl"].decode().splitlines()
    n = next(i for i, line in enumerate(extract) if json.loads(line)["action"] == "evidence.request")
    event = json.loads(extract[n])
    assert "details_sha256" in json.loads(files["audit-hashed.jsonl"].decode().splitlines()[n])
    event["details"]["url"] = "https://example.org/et-andet-opslag"
    extract[n] = json.dumps(event, ensure_ascii=False, sort_keys=True)
    forged = dict(files, **{"audit-extract.jsonl": ("\n".join(extract) + "\n").encode()})
    bad = rewrite(exported.package, tmp_path / "details.zip", change={
        "audit-extract.jsonl": lambda _: forged["audit-extract.jsonl"], "SHA256SUMS": lambda _: resummed(forged)})
    result = verify_cli(bad, tmp_path)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [f"FAILED: audit-extract.jsonl: line {n + 1}: the event does not match its hash"]
