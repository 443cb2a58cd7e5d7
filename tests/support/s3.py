"""A real S3 endpoint for tests: moto's S3 server on 127.0.0.1, in a thread of the test process.

It speaks S3 over HTTP like any other endpoint (boto3 and the `vaern` subprocess reach it by URL). Being
in-process lets a test do what no S3 API allows but an attacker at the storage layer could: change the
bytes of a stored object version in place (``tamper_version``).
"""
from __future__ import annotations

import contextlib
import logging
import secrets
from dataclasses import dataclass
from typing import Iterator

import boto3
from moto.backends import get_backend
from moto.core import DEFAULT_ACCOUNT_ID
from moto.server import ThreadedMotoServer

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "vaern-test", "AWS_SECRET_ACCESS_KEY": "vaern-test-secret",
               "AWS_DEFAULT_REGION": "eu-north-1"}


@dataclass
class S3Server:
    endpoint_url: str

    def client(self):
        return boto3.session.Session(aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                                     aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                                     region_name=CREDENTIALS["AWS_DEFAULT_REGION"]).client("s3", endpoint_url=self.endpoint_url)

    def new_bucket(self, *, object_lock: bool = True) -> str:
        """A fresh bucket (versioned, with object lock unless told otherwise); returns its name."""
        name = f"vaern-test-{secrets.token_hex(4)}"
        self.client().create_bucket(Bucket=name, ObjectLockEnabledForBucket=object_lock,
                                    CreateBucketConfiguration={"LocationConstraint": CREDENTIALS["AWS_DEFAULT_REGION"]})
        if not object_lock:
            self.client().put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        return name

    def tamper_version(self, bucket: str, key: str, version_id: str, data: bytes) -> None:
        """Replace the bytes of one stored version in place (the server's own storage, not the S3 API)."""
        store = get_backend("s3")[DEFAULT_ACCOUNT_ID]["global"]
        found = [k for k in store.buckets[bucket].keys.getlist(key) if k.version_id == version_id]
        assert found, f"no version {version_id} of {key}"
        found[0].value = data

    def end_locks(self, bucket: str, key: str, *, at: str = "2020-01-01T00:00:00Z") -> None:
        """Let the object lock of every version of ``key`` run out, as time passing would: S3 has no call that
        shortens a lock and moto's server follows the real clock, so the date is set in the server's storage."""
        store = get_backend("s3")[DEFAULT_ACCOUNT_ID]["global"]
        versions = store.buckets[bucket].keys.getlist(key)
        assert versions, f"no versions of {key}"
        for version in versions:
            version.lock_until = at



def use_test_credentials(monkeypatch) -> None:
    """Point boto3 (in this process and in `vaern` subprocesses) at the test server's credentials."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def s3_runtime_on(server: S3Server, make_runtime, database_url: str, *, lock_days: int = 30):
    """A runtime whose evidence goes to a fresh object-locked bucket (``rt.test_bucket``) on ``server``."""
    bucket = server.new_bucket()
    rt = make_runtime(database_url=database_url, blob_url=f"s3://{bucket}/evidence", s3_endpoint_url=server.endpoint_url,
                      s3_object_lock_days=lock_days)
    rt.test_bucket = bucket
    return rt


@contextlib.contextmanager
def s3_server() -> Iterator[S3Server]:
    """Start moto's S3 server on a free port of 127.0.0.1; stop it afterwards."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield S3Server(f"http://{host}:{port}")
    finally:
        server.stop()
