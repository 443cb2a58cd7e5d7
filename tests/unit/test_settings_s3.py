"""VAERN_BLOB_URL and the S3 settings: what is refused at start, with one line naming the problem."""
from __future__ import annotations

import pytest

from storage.blobs import parse_s3_url
from tests.support.factories import make_settings
from tracker.settings import SettingsError, load_settings

PG = "postgresql+psycopg://vaern@db.internal/vaern"


def test_an_s3_url_names_a_bucket_and_a_prefix():
    assert parse_s3_url("s3://vaern-evidence/aarhus/") == ("vaern-evidence", "aarhus/")
    assert parse_s3_url("s3://vaern-evidence") == ("vaern-evidence", "")
    for bad in ("vaern-evidence/x", "s3://", "s3:///x", "s3://Big_Bucket/x"):
        with pytest.raises(ValueError):
            parse_s3_url(bad)


def test_the_local_store_stays_the_default(tmp_path):
    settings = make_settings(tmp_path)
    assert settings.blob_url is None
    assert settings.resolved_blob_dir == (tmp_path / "blobs").resolve()


@pytest.mark.parametrize("overrides, says", [
    (dict(blob_url="s3://vaern-evidence/x", s3_object_lock_days=30), "needs VAERN_DATABASE_URL on PostgreSQL"),
    (dict(blob_url="s3://vaern-evidence/x", database_url=PG), "needs VAERN_S3_OBJECT_LOCK_DAYS"),
    (dict(blob_url="s3://vaern-evidence/x", database_url=PG, s3_object_lock_days=30, blob_dir="/srv/blobs"),
     "VAERN_BLOB_DIR and VAERN_BLOB_URL are both set"),
    (dict(blob_url="https://vaern-evidence/x", database_url=PG, s3_object_lock_days=30), "must start with s3://"),
    (dict(blob_url="s3://vaern-evidence/x", database_url=PG, s3_object_lock_days=0), "VAERN_S3_OBJECT_LOCK_DAYS"),
    (dict(blob_url="s3://vaern-evidence/x", database_url=PG, s3_object_lock_days=30, s3_object_lock_mode="LEGAL"),
     "VAERN_S3_OBJECT_LOCK_MODE"),
])
def test_an_incomplete_s3_setup_is_refused_at_start(tmp_path, overrides, says):
    with pytest.raises(SettingsError, match=says):
        load_settings(data_dir=tmp_path, **overrides)


def test_a_complete_s3_setup_is_accepted(tmp_path):
    s = load_settings(data_dir=tmp_path, blob_url="s3://vaern-evidence/aarhus", database_url=PG, s3_object_lock_days=3650,
                      s3_object_lock_mode="GOVERNANCE", s3_endpoint_url="https://rgw.internal:7480")
    assert (s.blob_url, s.s3_object_lock_days, s.s3_object_lock_mode) == ("s3://vaern-evidence/aarhus", 3650, "GOVERNANCE")
