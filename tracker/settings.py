"""Værn's one settings object: built once at start (from VAERN_* environment variables), passed down.

No other module reads the environment. Invalid settings fail at start with one clear line
(see ``load_settings``).
"""
from __future__ import annotations

import calendar
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from capture.options import CaptureOptions, parse_allowed_hosts
from storage.blobs import parse_s3_url


class SettingsError(SystemExit):
    """A setting is missing or invalid; the message is one line naming the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VAERN_", extra="ignore", frozen=True)

    data_dir: Path = Field(Path("vaern-data"), description="Where the SQLite database, blobs and queue live")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default: SQLite file in the data directory")
    redis_url: str | None = Field(None, description="huey on Redis (separate `vaern worker` processes); default: huey on SQLite, in-process worker")
    blob_dir: Path | None = Field(None, description="content-addressed evidence store; default: <data_dir>/blobs")
    blob_url: str | None = Field(None, description="s3://BUCKET/PREFIX: keep evidence in S3-compatible object storage "
                                 "with object lock instead of on local disk (docs/deploy-s3.md); needs PostgreSQL")
    s3_endpoint_url: str | None = Field(None, description="S3 endpoint for a store other than AWS (Ceph RGW …); "
                                        "credentials and region from the standard AWS_* variables")
    s3_object_lock_days: int | None = Field(None, ge=1, le=36_500, description="object-lock retention set on every "
                                            "evidence object at write, in days (required with an s3:// VAERN_BLOB_URL)")
    s3_object_lock_mode: Literal["COMPLIANCE", "GOVERNANCE"] = Field(
        "COMPLIANCE", description="COMPLIANCE: nobody can shorten or remove the retention; GOVERNANCE: an account "
        "with s3:BypassGovernanceRetention can")
    secret_key: str | None = Field(None, description="Flask session key; default: generated once and kept in <data_dir>/secret_key")
    profile_key: str | None = Field(None, description="key for the capture profiles' stored logins "
                                    "(any long random text); default: derived from the secret key")
    base_url: str = Field("http://127.0.0.1:5000", description="address used in links in e-mails")
    language: Literal["da", "en"] = "da"
    controller_name: str | None = Field(None, max_length=200, description="the data controller (the municipality) "
                                        "named in the record of processing (GDPR art. 30); unset: the record says so")
    controller_contact: str | None = Field(None, max_length=300, description="the controller's address, telephone "
                                           "or e-mail for the record of processing")
    dpo_contact: str | None = Field(None, max_length=300, description="the data protection officer's name and "
                                    "contact details for the record of processing")
    secure_cookies: bool = Field(False, description="set Secure on cookies (turn on behind HTTPS)")
    trusted_proxies: int = Field(0, ge=0, le=5, description="reverse proxies in front of Værn whose X-Forwarded-For "
                                 "and X-Forwarded-Proto are believed (0: the TCP peer is the client; 1: one nginx)")
    workers: int = Field(2, ge=1, le=16, description="in-process capture worker threads (embedded mode)")
    queue_name: str = Field("vaern", pattern=r"^[A-Za-z0-9_.-]{1,64}$",
                            description="job queue name (lets several Værn instances or test runs share one Redis)")

    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    mail_from: str = "vaern@localhost"
    recheck_interval_hours: int = Field(6, ge=1, le=24 * 30,
                                        description="hours between re-captures of a URL whose takedown is open")

    med_evaluation_dates: str = Field("03-15,09-15", pattern=r"^\s*\d{2}-\d{2}\s*(,\s*\d{2}-\d{2}\s*)*$",
                                      description="MED evaluates the local handling twice a year: month-day pairs (MM-DD, comma-separated)")
    med_reminder_days: int = Field(14, ge=1, le=120, description="days before a MED evaluation that HR, leaders and AMR are reminded")

    capture_time_cap: int = Field(60, ge=5, le=600, description="seconds one capture may take")
    capture_max_page_height: int = Field(40_000, ge=1_000, le=200_000)
    capture_max_bytes: int = Field(200 * 1024 * 1024, ge=1024 * 1024)
    capture_allowed_hosts: str = Field("", description="comma-separated host:port pairs that may be captured although private")
    capture_pdf: bool = False
    chromium_path: str | None = None
    upload_max_bytes: int = Field(50 * 1024 * 1024, ge=1024)
    dsa_tdb_url: str = Field("https://transparency.dsa.ec.europa.eu", description="the EU DSA Transparency "
                             "Database; used only with VAERN_DSA_TDB_TOKEN")
    dsa_tdb_token: str | None = Field(None, description="API token for the DSA Transparency Database; without it "
                                      "the statement-of-reasons lookup is off and the case page says how to search "
                                      "by hand")
    dsa_tdb_timeout: int = Field(10, ge=1, le=120, description="seconds one Transparency Database lookup may take")
    tsa_url: str | None = None
    tsa_ca_file: Path | None = None
    login_rate_limit: str = Field("60 per minute", description="login POSTs from one client address (a flood guard: "
                                  "each one costs a password hash); wrong passwords get growing delays below")
    login_free_attempts: int = Field(5, ge=1, le=100, description="wrong passwords for one account from one client "
                                     "address before each further attempt waits 1 s, 2 s, 4 s … (up to 15 min)")
    login_free_attempts_per_address: int = Field(20, ge=1, le=10_000, description="the same for all accounts from "
                                                 "one client address")
    session_idle_hours: float = Field(8, gt=0, le=24 * 7, description="a login session ends after this many hours "
                                      "without a request")
    session_max_days: float = Field(7, gt=0, le=90, description="a login session ends this many days after the login, "
                                    "however active")
    api_token_days: int = Field(90, ge=1, le=730, description="days a new API token is valid unless told otherwise")

    # single sign-on with the municipality's identity provider (OpenID Connect; tracker/accounts/sso.py)
    oidc_issuer: str | None = Field(None, description="the provider's issuer URL, exactly as in its tokens (Entra ID: "
                                    "https://login.microsoftonline.com/<tenant>/v2.0); unset: no single sign-on")
    oidc_client_id: str | None = Field(None, description="Værn's client id at the provider")
    oidc_client_secret: str | None = Field(None, description="Værn's client secret at the provider")
    oidc_scopes: str = Field("openid email profile", description="scopes asked for (must include openid)")
    oidc_role_claim: str = Field("roles", pattern=r"^[A-Za-z0-9_:./-]{1,100}$",
                                 description="the claim whose values the role map reads (roles, groups, or a "
                                 "dotted path such as realm_access.roles)")
    oidc_role_map: str = Field("", description="claimvalue=role@Unit;claimvalue=hr;… (the first entry that "
                               "matches one of the person's values wins)")
    oidc_button_label: str = Field("Log ind med kommunens konto", min_length=1, max_length=100,
                                   description="the sign-in button on the login page")
    local_login: bool = Field(True, description="e-mail and password login (false: only single sign-on)")

    @model_validator(mode="after")
    def _session_times(self) -> "Settings":
        if self.session_idle_hours > self.session_max_days * 24:
            raise ValueError("VAERN_SESSION_IDLE_HOURS is longer than VAERN_SESSION_MAX_DAYS")
        return self

    @model_validator(mode="after")
    def _oidc(self) -> "Settings":
        if self.oidc_issuer:
            if not self.oidc_issuer.startswith(("https://", "http://127.0.0.1", "http://localhost")):
                raise ValueError("VAERN_OIDC_ISSUER must be an https:// address")
            if not self.oidc_client_id:
                raise ValueError("VAERN_OIDC_CLIENT_ID is needed with VAERN_OIDC_ISSUER")
            if "openid" not in self.oidc_scopes.split():
                raise ValueError("VAERN_OIDC_SCOPES must include openid")
            parse_role_map(self.oidc_role_map)
        elif not self.local_login:
            raise ValueError("VAERN_LOCAL_LOGIN=false needs single sign-on (VAERN_OIDC_ISSUER)")
        return self

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id)

    @model_validator(mode="after")
    def _blob_url(self) -> "Settings":
        if self.blob_url is None:
            return self
        if self.blob_dir is not None:
            raise ValueError("VAERN_BLOB_DIR and VAERN_BLOB_URL are both set: choose one evidence store")
        if not (self.database_url or "").startswith("postgresql"):
            raise ValueError("VAERN_BLOB_URL=s3://… needs VAERN_DATABASE_URL on PostgreSQL")
        if self.s3_object_lock_days is None:
            raise ValueError("VAERN_BLOB_URL=s3://… needs VAERN_S3_OBJECT_LOCK_DAYS (the retention set at write)")
        return self

    @field_validator("blob_url")
    @classmethod
    def _blob_url_form(cls, v: str | None) -> str | None:
        if v:
            parse_s3_url(v)
        return v or None

    @field_validator("capture_allowed_hosts")
    @classmethod
    def _hosts(cls, v: str) -> str:
        parse_allowed_hosts(v)
        return v

    @field_validator("med_evaluation_dates")
    @classmethod
    def _med_dates(cls, v: str) -> str:
        parse_month_days(v)
        return v

    @field_validator("database_url")
    @classmethod
    def _db(cls, v: str | None) -> str | None:
        if v and not v.startswith(("sqlite", "postgresql")):
            raise ValueError("only sqlite:// and postgresql+psycopg:// are supported")
        return v

    @field_validator("redis_url")
    @classmethod
    def _redis(cls, v: str | None) -> str | None:
        if v and not v.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://")
        return v or None

    # -- derived values -------------------------------------------------------------------
    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'vaern.sqlite3').resolve()}"

    @property
    def resolved_blob_dir(self) -> Path:
        return (self.blob_dir or self.data_dir / "blobs").resolve()

    @property
    def embedded_queue(self) -> bool:
        return self.redis_url is None

    def resolved_secret_key(self) -> str:
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_hex(32))
            path.chmod(0o600)
        return path.read_text().strip()

    def capture_options(self, vaern_version: str = "") -> CaptureOptions:
        return CaptureOptions(
            chromium_path=self.chromium_path,
            time_cap_seconds=self.capture_time_cap,
            max_page_height=self.capture_max_page_height,
            max_bytes=self.capture_max_bytes,
            pdf=self.capture_pdf,
            allowed_hosts=parse_allowed_hosts(self.capture_allowed_hosts),
            upload_max_bytes=self.upload_max_bytes,
            tsa_url=self.tsa_url,
            tsa_ca_file=str(self.tsa_ca_file) if self.tsa_ca_file else None,
            proxy_confdir=str((self.data_dir / "proxy-ca").resolve()),
            versions={"vaern": vaern_version} if vaern_version else {},
        )


def parse_month_days(spec: str) -> list[tuple[int, int]]:
    """The sorted, distinct (month, day) pairs of a comma-separated MM-DD list; ValueError names a bad entry.

    29 February is allowed (it falls on 28 February in other years).
    """
    days = set()
    for part in (spec or "").split(","):
        part = part.strip()
        try:
            month, day = (int(x) for x in part.split("-"))
            if not 1 <= month <= 12 or not 1 <= day <= calendar.monthrange(2024, month)[1]:
                raise ValueError
        except ValueError:
            raise ValueError(f"{part!r} is not a day of the year as MM-DD") from None
        days.add((month, day))
    if not days:
        raise ValueError("no dates given")
    return sorted(days)


@dataclass(frozen=True)
class RoleMapping:
    """One entry of VAERN_OIDC_ROLE_MAP: people whose role claim holds ``value`` get ``role`` (in ``unit``)."""

    value: str
    role: str
    unit: str | None


#: roles that belong to a unit (employee, leader, AMR) and roles that do not (HR, admin)
_UNIT_ROLES, _OTHER_ROLES = ("employee", "leader", "amr"), ("hr", "admin")


def parse_role_map(spec: str) -> list[RoleMapping]:
    """The entries of ``claimvalue=role@Unit;claimvalue=hr;…`` in order; ValueError names a bad entry."""
    entries = []
    for part in (spec or "").split(";"):
        if not part.strip():
            continue
        value, eq, target = part.partition("=")
        role, at, unit = target.strip().partition("@")
        value, role, unit = value.strip(), role.strip(), unit.strip()
        if not eq or not value:
            raise ValueError(f"{part.strip()!r} is not claimvalue=role or claimvalue=role@Unit")
        if role in _UNIT_ROLES and not unit:
            raise ValueError(f"{part.strip()!r}: the role {role} needs a unit (role@Unit)")
        if role in _OTHER_ROLES and at:
            raise ValueError(f"{part.strip()!r}: the role {role} has no unit")
        if role not in _UNIT_ROLES + _OTHER_ROLES:
            raise ValueError(f"{part.strip()!r}: {role!r} is not one of {', '.join(_UNIT_ROLES + _OTHER_ROLES)}")
        entries.append(RoleMapping(value, role, unit or None))
    return entries


def load_settings(**overrides: object) -> Settings:
    """Build the settings from the environment (+ overrides); raise SettingsError with one line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        name = "VAERN_" + str(err["loc"][0]).upper() if err.get("loc") else "settings"
        raise SettingsError(f"vaern: invalid setting {name}: {err['msg']}") from None
