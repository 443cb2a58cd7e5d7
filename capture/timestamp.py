"""RFC 3161 trusted timestamps over manifest.json: request, verify on receipt, re-verify later.

The imprint is SHA-256 of the manifest bytes, i.e. the evidence fingerprint itself.
"""
from __future__ import annotations

import re
import socket
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimestampRequestBuilder,
    TimeStampResponse,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)

from .bundle import TimestampToken
from .errors import TimestampError
from .options import CaptureOptions

__all__ = ["TimestampError", "chain_pem", "request_timestamp", "token_imprint", "verify_timestamp"]

MAX_RESPONSE_BYTES = 1024 * 1024  #: a TimeStampResp is a few KiB; more is not a TSA talking


def request_timestamp(manifest_bytes: bytes, options: CaptureOptions) -> TimestampToken:
    """Ask ``options.tsa_url`` for a token over ``manifest_bytes`` and verify it against ``options.tsa_ca_file``.

    Raises TimestampError on any outage or invalid answer.
    """
    url = options.tsa_url
    if not url:
        raise TimestampError("no time-stamping authority configured")
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise TimestampError(f"TSA URL must be http(s): {url}")
    if not options.tsa_ca_file:
        raise TimestampError("no CA file configured to verify the TSA's tokens")
    roots, intermediates = _load_certificates(options.tsa_ca_file)
    if not manifest_bytes:
        raise TimestampError("nothing to timestamp: the manifest is empty")

    request = (TimestampRequestBuilder().data(manifest_bytes).hash_algorithm(HashAlgorithm.SHA256)
               .nonce(nonce=True).cert_request(cert_request=True).build())
    tsr = _post(url, request.as_bytes(), options.tsa_timeout_seconds)
    builder = VerifierBuilder.from_request(request)
    return _verify(tsr, manifest_bytes, builder, roots, intermediates, url)


def verify_timestamp(tsr: bytes, manifest_bytes: bytes, ca_file: str, tsa_url: str = "") -> TimestampToken:
    """Re-verify a stored token (status, chain to ``ca_file`` at gen_time, EKU, imprint); raise TimestampError."""
    roots, intermediates = _load_certificates(ca_file)
    return _verify(tsr, manifest_bytes, VerifierBuilder(), roots, intermediates, tsa_url)


def _post(url: str, query: bytes, timeout: int) -> bytes:
    req = urllib.request.Request(url, data=query, method="POST",
                                 headers={"Content-Type": "application/timestamp-query",
                                          "Accept": "application/timestamp-reply"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (scheme checked)
            body = resp.read(MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as e:
        raise TimestampError(f"TSA answered HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        if isinstance(e.reason, (TimeoutError, socket.timeout)):
            raise TimestampError(f"TSA did not answer within {timeout} s") from None
        raise TimestampError(f"TSA unreachable: {e.reason}") from None
    except (TimeoutError, socket.timeout):
        raise TimestampError(f"TSA did not answer within {timeout} s") from None
    except (OSError, ValueError) as e:  # connection reset mid-answer, http.client protocol errors
        raise TimestampError(f"TSA connection failed: {e.__class__.__name__}: {e}") from None
    if len(body) > MAX_RESPONSE_BYTES:
        raise TimestampError(f"TSA answer larger than {MAX_RESPONSE_BYTES} bytes")
    if not body:
        raise TimestampError("TSA answered with an empty body")
    return body


def _verify(tsr: bytes, manifest_bytes: bytes, builder: VerifierBuilder, roots: list[x509.Certificate],
            intermediates: list[x509.Certificate], tsa_url: str) -> TimestampToken:
    try:
        response: TimeStampResponse = decode_timestamp_response(tsr)
    except Exception as e:  # the Rust parser raises ValueError and friends
        raise TimestampError(f"TSA answer is not a valid RFC 3161 response: {e}") from None
    if response.status != PKIStatus.GRANTED:
        detail = "; ".join(response.status_string or [])
        raise TimestampError(f"TSA did not grant the request: status {_status_name(response.status)} {detail}".rstrip())
    for cert in roots:
        builder = builder.add_root_certificate(cert)
    for cert in intermediates:
        builder = builder.add_intermediate_certificate(cert)
    try:
        builder.build().verify_message(response, manifest_bytes)
    except VerificationError as e:
        raise TimestampError(f"timestamp token does not verify: {_one_line(str(e))}") from None
    except Exception as e:  # malformed inner structures surface as ValueError/KeyError from the parser
        raise TimestampError(f"timestamp token does not verify: {e.__class__.__name__}: {e}") from None
    info = response.tst_info
    return TimestampToken(tsr=tsr, gen_time=_iso_utc(info.gen_time), serial_number=str(info.serial_number),
                          tsa_url=tsa_url, policy_oid=info.policy.dotted_string,
                          chain_pem=chain_pem(roots, intermediates))


def chain_pem(roots: list[x509.Certificate], intermediates: list[x509.Certificate]) -> bytes:
    """The certificates a token was verified against, as PEM (re-encoded: never a key or stray text)."""
    return b"".join(c.public_bytes(Encoding.PEM) for c in [*roots, *intermediates])


def token_imprint(tsr: bytes) -> tuple[str, str]:
    """(hash algorithm OID, hex digest) of the message imprint a token vouches for; TimestampError if unreadable.

    Reading the imprint needs no certificate: a package checker compares it with manifest.json's SHA-256.
    """
    try:
        imprint = decode_timestamp_response(tsr).tst_info.message_imprint
        return imprint.hash_algorithm.dotted_string, imprint.message.hex()
    except Exception as e:  # the Rust parser raises ValueError and friends
        raise TimestampError(f"not a readable RFC 3161 response: {e.__class__.__name__}: {e}") from None


def _load_certificates(ca_file: str) -> tuple[list[x509.Certificate], list[x509.Certificate]]:
    """Self-signed certificates in ``ca_file`` are roots, the others intermediates."""
    try:
        with open(ca_file, "rb") as fh:
            certs = x509.load_pem_x509_certificates(fh.read())
    except (OSError, ValueError) as e:
        raise TimestampError(f"cannot read TSA CA file {ca_file}: {e}") from None
    certs = list({c.public_bytes(Encoding.DER): c for c in certs}.values())  # the same certificate twice is once
    roots = [c for c in certs if c.issuer == c.subject]
    if not roots:
        raise TimestampError(f"TSA CA file {ca_file} holds no root (self-signed) certificate")
    return roots, [c for c in certs if c.issuer != c.subject]


def _one_line(message: str) -> str:
    """OpenSSL's error stack is long; keep its verdict ("unable to get local issuer certificate")."""
    if "Error while verifying certificates" in message:
        found = re.search(r'Verify error: ([^"]+)"', message) or re.search(r'reason: "([^"]+)"', message)
        why = found.group(1) if found else "PKCS#7"
        return f"signature or certificate chain not trusted by the configured CA ({why})"
    return " ".join(message.split())


def _status_name(status: int) -> str:
    try:
        return PKIStatus(status).name
    except ValueError:
        return str(status)


def _iso_utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
