"""Evidence recorded in the employee's own browser (issue 14, point 2): a WACZ checked, replayed offline, sealed.

Real parts only: a local platform serves a post behind a session cookie, warcio records its real answers,
py-wacz packs the WACZ, a test ECDSA key signs it, the real Chromium replays it, Tesseract reads the
screenshot, and ``vaern capture-file`` runs as a subprocess.
"""
from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import zipfile

import pytest
from PIL import Image

from capture.errors import CaptureRefused
from capture.ocr import read_text
from capture.options import CaptureOptions
from capture.replay import strip_secrets
from capture.upload import capture_upload, sniff
from capture.wacz_in import check_wacz
from tests.support.factories import CHROMIUM
from tests.support.cli import FINGERPRINT, vaern
from tests.support.wacz_fixture import POST_TEXT, SESSION, Platform, altered, build_wacz, record_warc, rezip, sign_wacz

pytestmark = pytest.mark.browser
OPTIONS = CaptureOptions(chromium_path=CHROMIUM, time_cap_seconds=30)


@pytest.fixture(scope="module")
def platform():
    site = Platform()
    yield site
    site.close()


@pytest.fixture(scope="module")
def wacz(platform, tmp_path_factory) -> bytes:
    return build_wacz(tmp_path_factory.mktemp("wacz"), record_warc(platform), platform.base + "/opslag/42")


def test_a_signed_wacz_is_verified_replayed_offline_and_sealed_without_its_cookies(platform, wacz):
    signed, public_key = sign_wacz(wacz)
    platform.hits.clear()
    bundle = capture_upload(signed, "opslag.wacz", OPTIONS, "user:7")

    assert platform.hits == []  # the replay sent nothing to the platform (nor anywhere: every other request aborted)
    assert bundle.status == "ok"
    original = bundle.artifact("original")
    assert original.name == "original.wacz" and original.data == signed  # sealed byte for byte
    m = bundle.manifest
    assert m["original"]["sniffed_type"] == "wacz" and m["original"]["sha256"] == hashlib.sha256(signed).hexdigest()
    w = m["wacz"]
    sig = w["verification"]["digest"]["signature"]
    assert sig["status"] == "valid" and sig["kind"] == "anonymous" and sig["curve"] == "secp384r1"
    assert sig["public_key_sha256"] == hashlib.sha256(base64.b64decode(public_key)).hexdigest()
    assert "signature valid, anonymous key — identity not established" in sig["summary"]
    assert w["verification"]["files_checked"] >= 3  # the WARC, the CDXJ index and pages.jsonl
    assert any(line.startswith("not verified: ") for line in w["summary"])
    url = platform.base + "/opslag/42"
    assert w["main_page"]["url"] == url and w["main_page"]["chosen_from"].startswith("pages/pages.jsonl")
    assert w["replay"]["http_status"] == 200
    assert set(w["replay"]["served"]) == {url, platform.base + "/billede.png"}
    assert f"GET {platform.base}/beacon?x=1" in w["replay"]["blocked"]
    assert "GET https://tracker.example.net/pixel.gif" in w["replay"]["blocked"]
    assert w["working_copy"][0]["removed_headers"] == {"authorization": 2, "cookie": 2, "set-cookie": 1}

    # captured like a live capture: screenshots, HTML, MHTML, text, the post found, hashes
    roles = {a.role for a in bundle.artifacts}
    assert {"screenshot_full", "screenshot_viewport", "screenshot_post", "html", "mhtml", "text"} <= roles
    assert POST_TEXT in bundle.artifact("text").data.decode()
    assert m["post"]["text_excerpt"] == POST_TEXT and m["title"] == "Opslag 42"
    assert m["perceptual_hashes"]["basis"] == "screenshot_post" and m["text_sha256"]
    with Image.open(io.BytesIO(bundle.artifact("screenshot_viewport").data)) as shot:
        seen, _ = read_text(shot.convert("RGB"))
    assert "sagsbehandler" in (seen or "") and "Mette" in (seen or "")  # the screenshot shows the post's text

    # the cookie is in the original (sealed as received) but in nothing Værn made from it
    assert SESSION.encode() in gzip.decompress(zipfile.ZipFile(io.BytesIO(signed)).read("archive/data.warc.gz"))
    for artifact in bundle.artifacts:
        if artifact.role != "original":
            assert SESSION.encode() not in artifact.data, artifact.name
    assert SESSION.encode() not in bundle.manifest_bytes
    steps = [a["step"] for a in m["actions"]]
    assert steps[:5] == ["receive", "sniff", "verify_wacz", "strip", "main_page"] and "replay" in steps


def test_the_working_copy_keeps_every_record_but_no_session_header(wacz):
    warc = zipfile.ZipFile(io.BytesIO(wacz)).read("archive/data.warc.gz")
    stripped, removed = strip_secrets(warc)
    assert SESSION.encode() not in gzip.decompress(stripped)
    assert removed == {"authorization": 2, "cookie": 2, "set-cookie": 1}
    from warcio.archiveiterator import ArchiveIterator

    before, after = (list((r.rec_headers.get_header("WARC-Record-ID"), r.rec_headers.get_header("WARC-Date"),
                           r.rec_type, r.rec_headers.get_header("WARC-Target-URI"))
                          for r in ArchiveIterator(io.BytesIO(w))) for w in (warc, stripped))
    assert after == before and len(after) == 4  # every record kept, with its id, date, type and URL


def test_an_unsigned_wacz_says_so_and_a_forged_signature_is_refused(wacz):
    checked = check_wacz(wacz)  # py-wacz writes a digest without signedData
    assert checked.verification["digest"]["signature"]["status"] == "absent"
    signed, _ = sign_wacz(wacz)
    with zipfile.ZipFile(io.BytesIO(signed)) as zf:
        files = {i.filename: zf.read(i) for i in zf.infolist()}
    other, _ = sign_wacz(wacz)  # another key's signature under this public key
    digest = json.loads(files["datapackage-digest.json"])
    digest["signedData"]["signature"] = json.loads(zipfile.ZipFile(io.BytesIO(other)).read(
        "datapackage-digest.json"))["signedData"]["signature"]
    files["datapackage-digest.json"] = json.dumps(digest).encode()
    with pytest.raises(CaptureRefused) as refused:
        check_wacz(rezip(files))
    assert refused.value.code == "wacz_signature_invalid"


def test_a_domain_identity_signature_is_recorded_as_not_verified(wacz):
    with zipfile.ZipFile(io.BytesIO(wacz)) as zf:
        files = {i.filename: zf.read(i) for i in zf.infolist()}
    digest = json.loads(files["datapackage-digest.json"])
    digest["signedData"] = {"hash": digest["hash"], "signature": "AAAA", "domain": "signing.example.org",
                            "domainCert": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
                            "timeSignature": "AAAA", "timestampCert": "x", "created": "2026-12-01T09:00:00Z"}
    files["datapackage-digest.json"] = json.dumps(digest).encode()
    sig = check_wacz(rezip(files)).verification["digest"]["signature"]
    assert sig["status"] == "not_verified" and sig["kind"] == "domain_identity"
    assert sig["domain"] == "signing.example.org"


@pytest.mark.parametrize("mangle, code, named", [
    (lambda files: files.update({"archive/data.warc.gz": gzip.compress(gzip.decompress(
        files["archive/data.warc.gz"]).replace(b"Mette", b"Jens!"))}), "wacz_hash_mismatch", "archive/data.warc.gz"),
    (lambda files: files.update({"datapackage.json": files["datapackage.json"].replace(b'"title"', b'"titel"', 1)
                                 if b'"title"' in files["datapackage.json"] else files["datapackage.json"] + b" "}),
     "wacz_hash_mismatch", "datapackage.json"),
    (lambda files: files.pop("archive/data.warc.gz"), "wacz_incomplete", "archive/data.warc.gz"),
    (lambda files: files.update({"../../etc/passwd": b"x"}), "wacz_unsafe", "../../etc/passwd"),
], ids=["warc-changed", "file-list-changed", "warc-missing", "unsafe-name"])
def test_an_altered_or_unsafe_wacz_is_refused_naming_the_file(wacz, mangle, code, named):
    with zipfile.ZipFile(io.BytesIO(wacz)) as zf:
        files = {i.filename: zf.read(i) for i in zf.infolist()}
    mangle(files)
    with pytest.raises(CaptureRefused) as refused:
        capture_upload(rezip(files), "opslag.wacz", OPTIONS, "user:7")
    assert refused.value.code == code and named in refused.value.reason


def test_only_callers_that_secure_evidence_take_a_wacz(wacz):
    assert sniff(wacz, wacz=True).name == "wacz"
    with pytest.raises(CaptureRefused) as refused:  # e.g. a step's attachment: it would skip the checks
        sniff(wacz)
    assert refused.value.code == "unsupported_type" and "secured as evidence" in refused.value.reason


def test_a_zip_bomb_is_refused_before_it_is_unpacked():
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("datapackage.json", b'{"resources": []}')
        zf.writestr("archive/data.warc", b"\0" * (64 * 1024 * 1024))
    assert sniff(bomb.getvalue(), wacz=True).name == "wacz"
    with pytest.raises(CaptureRefused) as refused:
        check_wacz(bomb.getvalue())
    assert refused.value.code == "wacz_unsafe" and "archive/data.warc" in refused.value.reason


def test_vaern_capture_file_secures_a_wacz_and_refuses_an_altered_one_with_exit_2(tmp_path, wacz):
    src = tmp_path / "opslag.wacz"
    src.write_bytes(sign_wacz(wacz)[0])
    out = tmp_path / "bevis"
    result = vaern("capture-file", str(src), "--out", str(out), data_dir=tmp_path / "data")
    assert result.returncode == 0, result.stderr
    fingerprint = result.stdout.strip().splitlines()[-1]
    assert FINGERPRINT.fullmatch(fingerprint)
    assert hashlib.sha256((out / "manifest.json").read_bytes()).hexdigest() == fingerprint
    assert (out / "original.wacz").read_bytes() == src.read_bytes()
    assert POST_TEXT in (out / "text.txt").read_text("utf-8")

    bad = tmp_path / "ændret.wacz"
    bad.write_bytes(altered(wacz))
    result = vaern("capture-file", str(bad), "--out", str(tmp_path / "bevis2"), data_dir=tmp_path / "data")
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("vaern:")]
    assert len(lines) == 1 and lines[0].startswith("vaern: refused: archive/data.warc.gz does not match")
    assert not (tmp_path / "bevis2").exists()


def test_a_wacz_is_timestamped_on_receipt_over_its_manifest(tmp_path, wacz):
    from dataclasses import replace

    from tests.support.flows import openssl_verify
    from tests.support.tsa import LocalTSA

    with LocalTSA(tmp_path) as tsa:
        bundle = capture_upload(sign_wacz(wacz)[0], "opslag.wacz",
                                replace(OPTIONS, tsa_url=tsa.url, tsa_ca_file=tsa.ca_file), "user:7")
        assert bundle.timestamp is not None, bundle.timestamp_error
        check = openssl_verify(bundle.manifest_bytes, bundle.timestamp.tsr, tsa, tmp_path)
    assert check.returncode == 0, check.stderr
    # Værn's time (receipt) is the timestamp's; the WACZ's own recording time is only recorded as its claim
    assert bundle.timestamp.gen_time >= bundle.manifest["wacz"]["main_page"]["recorded_at"]


def test_an_https_platform_page_replays_offline_and_a_missing_page_list_falls_back_to_the_first_html(tmp_path):
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    url = "https://www.facebook.com/groups/123/posts/456/"
    body = f"<!doctype html><html lang='da'><title>Gruppe</title><body><div role='article'><p>{POST_TEXT}</p></div>" \
           "<img src='https://scontent.xx.fbcdn.net/v/a.jpg'></body></html>".encode()
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True)
    writer.write_record(writer.create_warc_record(
        url, "response", payload=io.BytesIO(body), length=len(body),
        http_headers=StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                                 ("Set-Cookie", f"c_user={SESSION}")], protocol="HTTP/1.1")))
    built = build_wacz(tmp_path, out.getvalue(), url)
    with zipfile.ZipFile(io.BytesIO(built)) as zf:  # as if the recorder wrote no page list
        files = {i.filename: zf.read(i) for i in zf.infolist()}
    package = json.loads(files["datapackage.json"])
    package["resources"] = [r for r in package["resources"] if r["path"] != "pages/pages.jsonl"]
    files.pop("pages/pages.jsonl", None)
    files["datapackage.json"] = json.dumps(package).encode()
    files.pop("datapackage-digest.json")
    bundle = capture_upload(rezip(files), "fb.wacz", OPTIONS, "user:7")
    w = bundle.manifest["wacz"]
    assert w["main_page"]["url"] == url and w["main_page"]["chosen_from"] == "the first HTML page in the WARC"
    assert w["verification"]["digest"]["signature"]["status"] == "absent"
    assert any("not sealed" in line for line in w["summary"])
    assert w["replay"]["http_status"] == 200 and w["replay"]["served"] == [url]
    assert w["replay"]["blocked"] == ["GET https://scontent.xx.fbcdn.net/v/a.jpg"]
    assert bundle.manifest["platform"] == "facebook"
    assert POST_TEXT in bundle.artifact("text").data.decode()
    assert SESSION.encode() not in bundle.artifact("html").data


def test_the_replay_index_skips_not_modified_answers_and_resolves_revisits():
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    from capture.replay import index_warc

    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True)

    def response(url, status, body, **extra):
        rec = writer.create_warc_record(url, extra.pop("kind", "response"), payload=io.BytesIO(body), length=len(body),
                                        http_headers=StatusAndHeaders(status, [("Content-Type", "image/png")],
                                                                      protocol="HTTP/1.1"))
        for k, v in extra.items():
            rec.rec_headers.add_header(k.replace("_", "-"), v)
        writer.write_record(rec)

    response("https://ex.dk/a.png", "304 Not Modified", b"")
    response("https://ex.dk/a.png", "200 OK", b"PNGDATA")
    response("https://ex.dk/b.png", "200 OK", b"", kind="revisit", WARC_Refers_To_Target_URI="https://ex.dk/a.png")
    index = index_warc(strip_secrets(out.getvalue())[0])
    assert index["https://ex.dk/a.png"].status == 200 and index["https://ex.dk/a.png"].body == b"PNGDATA"
    assert index["https://ex.dk/b.png"].body == b"PNGDATA"
