"""RFC 3161 timestamps against a local TSA (openssl ts -reply behind HTTP on 127.0.0.1)."""
from __future__ import annotations

import hashlib
import socket
import subprocess

import pytest
from rfc3161_client import decode_timestamp_response

from capture.bundle import EvidenceBundle, canonical_json
from capture.options import CaptureOptions
from capture.timestamp import TimestampError, request_timestamp, verify_timestamp
from tests.support.tsa import POLICY_OID, LocalTSA

MANIFEST = {"schema": "vaern.manifest/1", "kind": "upload", "capture_id": "0" * 32, "operator": "Åse Ørsted"}


@pytest.fixture(scope="module")
def local_tsa(tmp_path_factory):
    with LocalTSA(tmp_path_factory.mktemp("tsa")) as tsa:
        yield tsa


@pytest.fixture
def tsa(local_tsa):
    local_tsa.outage, local_tsa.untrusted, local_tsa.delay_seconds, local_tsa.replay = None, False, 0, False
    yield local_tsa
    local_tsa.outage, local_tsa.untrusted, local_tsa.delay_seconds, local_tsa.replay = None, False, 0, False


@pytest.fixture
def bundle():
    return EvidenceBundle.seal("ok", [], MANIFEST)


def options_for(tsa, **kw) -> CaptureOptions:
    return CaptureOptions(tsa_url=tsa.url, tsa_ca_file=tsa.ca_file, **kw)


def openssl_verify(tsa, data_file, tsr_file) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", "ts", "-verify", "-data", str(data_file), "-in", str(tsr_file),
                           "-CAfile", tsa.ca_file, "-untrusted", tsa.tsa_cert_file],
                          capture_output=True, text=True, timeout=60)


def test_a_token_from_the_tsa_verifies_with_our_code_and_with_openssl(tsa, bundle, tmp_path):
    token = request_timestamp(bundle.manifest_bytes, options_for(tsa))
    assert token.tsa_url == tsa.url
    assert token.policy_oid == POLICY_OID
    assert token.gen_time.endswith("Z") and token.gen_time[:2] == "20"
    assert int(token.serial_number) > 0

    bundle.timestamp = token
    out = bundle.write_to(tmp_path / "bundle")
    assert (out / "manifest.tsr").read_bytes() == token.tsr
    result = openssl_verify(tsa, out / "manifest.json", out / "manifest.tsr")
    assert result.returncode == 0, result.stderr
    assert "Verification: OK" in result.stdout

    again = verify_timestamp((out / "manifest.tsr").read_bytes(), (out / "manifest.json").read_bytes(), tsa.ca_file)
    assert (again.gen_time, again.serial_number, again.policy_oid) == (token.gen_time, token.serial_number,
                                                                        token.policy_oid)


def test_the_token_imprint_is_the_evidence_fingerprint(tsa, bundle):
    token = request_timestamp(bundle.manifest_bytes, options_for(tsa))
    imprint = decode_timestamp_response(token.tsr).tst_info.message_imprint.message
    assert imprint.hex() == bundle.fingerprint == hashlib.sha256(bundle.manifest_bytes).hexdigest()


def test_a_tampered_manifest_fails_verification_with_our_code_and_with_openssl(tsa, bundle, tmp_path):
    token = request_timestamp(bundle.manifest_bytes, options_for(tsa))
    tampered = canonical_json({**MANIFEST, "operator": "someone else"})
    with pytest.raises(TimestampError, match="Mismatch between messages"):
        verify_timestamp(token.tsr, tampered, tsa.ca_file)
    (tmp_path / "manifest.json").write_bytes(tampered)
    (tmp_path / "manifest.tsr").write_bytes(token.tsr)
    assert openssl_verify(tsa, tmp_path / "manifest.json", tmp_path / "manifest.tsr").returncode != 0


def test_a_token_signed_under_an_untrusted_ca_is_refused_on_receipt(tsa, bundle):
    tsa.untrusted = True
    with pytest.raises(TimestampError, match="not trusted by the configured CA") as caught:
        request_timestamp(bundle.manifest_bytes, options_for(tsa))
    assert "\n" not in caught.value.reason


def test_a_stored_token_does_not_verify_against_another_ca(tsa, bundle):
    token = request_timestamp(bundle.manifest_bytes, options_for(tsa))
    with pytest.raises(TimestampError, match="not trusted"):
        verify_timestamp(token.tsr, bundle.manifest_bytes, tsa.rogue_ca_file)


def test_a_replayed_token_is_refused_because_nonce_and_imprint_differ(tsa, bundle):
    request_timestamp(b"an earlier manifest", options_for(tsa))
    tsa.replay = True
    with pytest.raises(TimestampError, match="Nonce mismatch|Mismatch between messages"):
        request_timestamp(bundle.manifest_bytes, options_for(tsa))


def test_a_tsa_answering_503_gives_a_clear_reason(tsa, bundle):
    tsa.outage = 503
    with pytest.raises(TimestampError, match="TSA answered HTTP 503"):
        request_timestamp(bundle.manifest_bytes, options_for(tsa))


def test_a_tsa_that_refuses_connections_gives_a_clear_reason(tsa, bundle):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    options = CaptureOptions(tsa_url=f"http://127.0.0.1:{port}/tsa", tsa_ca_file=tsa.ca_file)
    with pytest.raises(TimestampError, match="TSA unreachable: .*[Cc]onnection refused"):
        request_timestamp(bundle.manifest_bytes, options)


@pytest.mark.timeout(30)
def test_a_tsa_that_answers_too_late_times_out(tsa, bundle):
    tsa.delay_seconds = 3
    with pytest.raises(TimestampError, match="did not answer within 1 s"):
        request_timestamp(bundle.manifest_bytes, options_for(tsa, tsa_timeout_seconds=1))


def test_an_answer_that_is_not_a_timestamp_response_is_refused(tsa, bundle):
    with pytest.raises(TimestampError, match="not a valid RFC 3161 response"):
        verify_timestamp(b"<html>maintenance</html>", bundle.manifest_bytes, tsa.ca_file)


def test_missing_configuration_is_a_timestamp_error_not_a_crash(tsa, bundle, tmp_path):
    with pytest.raises(TimestampError, match="no time-stamping authority"):
        request_timestamp(bundle.manifest_bytes, CaptureOptions())
    with pytest.raises(TimestampError, match="no CA file"):
        request_timestamp(bundle.manifest_bytes, CaptureOptions(tsa_url=tsa.url))
    with pytest.raises(TimestampError, match="cannot read TSA CA file"):
        request_timestamp(bundle.manifest_bytes, CaptureOptions(tsa_url=tsa.url, tsa_ca_file=str(tmp_path / "x")))
    with pytest.raises(TimestampError, match="must be http"):
        request_timestamp(bundle.manifest_bytes, CaptureOptions(tsa_url="file:///etc/passwd", tsa_ca_file=tsa.ca_file))
