"""The platform directory: where and how to report content on each platform, kept as editable data.

The data is ``tracker/workflow/rules/platforms.toml`` (compiled from research/platforms.md, with a confidence
grade and sources per channel). ``load_platform_directory`` validates it at start and raises
``PlatformDirectoryError`` with one line naming the file, the entry and the field;
``platform_for_url`` finds the entry for a post URL by host suffix, else the fallback entry.

Detection uses the directory's own ``hosts``, not ``capture.adapters.adapter_for``: the directory
covers platforms the capture engine has no adapter for (Snapchat, Telegram, Trustpilot, Google), an
admin can add one without a code change, and the leader needs a reporting channel even where capture
uses its generic adapter. A test keeps the two in step (each adapter host maps to the entry whose id
is the adapter's name).
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import unquote, urlsplit

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, StrictBool, StringConstraints,
                      ValidationError)

from tracker.datafile import DataFileError, read_entries

DEFAULT_PATH = Path(__file__).resolve().parent / "rules" / "platforms.toml"

#: the fields that are a way to report; each one given needs a confidence grade
CHANNELS = ("dsa_notice_url", "general_report_url", "privacy_report_url", "defamation_report_url", "email")
#: what ``sources`` may back besides the channels
SOURCED = (*CHANNELS, "hosts", "notes_da")

_HOST_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_HOST_RE = re.compile(rf"^{_HOST_LABEL}(?:\.{_HOST_LABEL})+$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+$", re.IGNORECASE)
_SCHEME_RE = re.compile(r"^[a-z][a-z0-9+.\-]*:(?!\d)", re.IGNORECASE)  # "mailto:", not "host:443"


class PlatformDirectoryError(DataFileError):
    """The directory file is missing or invalid; the message is one line naming the file, the entry and the field.

    Same shape as ``tracker.workflow.rules.RulesError``: ``<file>: <entry>, field '<field>': <problem>``.
    """

    code_for_file = "platforms_invalid"


def normalize_host(host: str) -> str:
    """``host`` as lowercase ASCII (IDNA A-labels) without a trailing dot; ValueError if it is no host name."""
    host = unquote(host).strip().rstrip(".")
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"not a valid host name: {host!r}") from None
    return host.lower()


def _host(value: str) -> str:
    hint = "write a bare host name such as 'facebook.com'; its subdomains match automatically"
    if any(c in value for c in "/:*@ ") or value.startswith("."):
        raise ValueError(f"{value!r} is not a bare host name ({hint})")
    host = normalize_host(value)
    if not _HOST_RE.match(host):
        raise ValueError(f"{value!r} is not a host name ({hint})")
    return host


def _url(value: str, schemes: tuple[str, ...]) -> str:
    try:
        parts = urlsplit(value)
        ok = parts.scheme in schemes and "." in (parts.hostname or "")
    except ValueError:
        ok = False
    if not ok or any(c.isspace() for c in value) or "\\" in value:
        raise ValueError(f"not an {' or '.join(schemes)} URL: {value!r}")
    return value


def _email(value: str) -> str:
    if not _EMAIL_RE.match(value):
        raise ValueError(f"not an e-mail address: {value!r}")
    return value


def _verified(value: object) -> date | Literal[False]:
    if value is False or (isinstance(value, date) and not isinstance(value, datetime)):
        return value  # type: ignore[return-value]
    raise ValueError(f"must be a date written as 2026-11-26 (no quotes) or false, got {value!r}")


Text = Annotated[str, StringConstraints(strict=True, strip_whitespace=True, min_length=1)]
Host = Annotated[str, StringConstraints(strict=True), AfterValidator(_host)]
ChannelUrl = Annotated[str, StringConstraints(strict=True), AfterValidator(lambda v: _url(v, ("https",)))]
SourceUrl = Annotated[str, StringConstraints(strict=True), AfterValidator(lambda v: _url(v, ("http", "https")))]
Email = Annotated[str, StringConstraints(strict=True), AfterValidator(_email)]
Confidence = Literal["H", "M", "L"]


class Platform(BaseModel):
    """One platform's reporting channels (absent = platforms.md found none), with their grade and sources."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, StringConstraints(strict=True, pattern=r"^[a-z0-9][a-z0-9-]*$")]
    name: Text
    hosts: tuple[Host, ...] = ()  #: registrable hosts; subdomains match too
    fallback: StrictBool = False  #: the entry for every site no other entry claims
    dsa_notice_url: ChannelUrl | None = None  #: illegal-content notice form (DSA art. 16)
    general_report_url: ChannelUrl | None = None  #: general report/notices page where no DSA form is known
    privacy_report_url: ChannelUrl | None = None
    defamation_report_url: ChannelUrl | None = None
    email: Email | None = None
    notes_da: Annotated[str, StringConstraints(strict=True, strip_whitespace=True)] = ""
    #: H = platform's own page, M = platform code/ToS or several third parties, L = one third party
    confidence: dict[str, Confidence] = {}
    sources: dict[str, tuple[SourceUrl, ...]] = {}  #: keyed by the field they back
    #: date an admin last checked the links live; False = never (the research used stored copies)
    verified: Annotated[date | bool, BeforeValidator(_verified)] = False

    def channels(self) -> dict[str, str]:
        """The reporting channels this platform has, in ``CHANNELS`` order."""
        return {name: getattr(self, name) for name in CHANNELS if getattr(self, name)}


@dataclass(frozen=True)
class PlatformDirectory:
    """The validated directory; build it with ``load_platform_directory``."""

    platforms: tuple[Platform, ...]
    path: Path
    _by_host: dict[str, Platform] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_host", {h: p for p in self.platforms for h in p.hosts})

    @property
    def fallback(self) -> Platform:
        return next(p for p in self.platforms if p.fallback)

    def get(self, platform_id: str) -> Platform:
        """The entry with this id; KeyError if there is none."""
        for p in self.platforms:
            if p.id == platform_id:
                return p
        raise KeyError(platform_id)

    def for_host(self, host: str) -> Platform:
        """The entry whose host equals ``host`` or is a parent domain of it; the fallback otherwise."""
        labels = host.split(".")
        for i in range(len(labels) - 1):
            hit = self._by_host.get(".".join(labels[i:]))
            if hit:
                return hit
        return self.fallback


def url_host(url: str) -> str | None:
    """The host a browser would visit for ``url``, normalized like the directory's hosts; None if none."""
    text = url.strip().replace("\\", "/")  # browsers read "\" as "/" in http(s) URLs
    if "://" not in text:
        if _SCHEME_RE.match(text):  # mailto:, javascript: …
            return None
        text = "//" + text  # pasted without a scheme: "www.facebook.com/…"
    try:
        host = urlsplit(text).hostname
        return normalize_host(host) if host else None
    except ValueError:  # bad IPv6 literal, empty or over-long label …
        return None


def platform_for_url(url: str, directory: PlatformDirectory) -> Platform:
    """The directory entry for the site ``url`` points at; the fallback entry when no platform claims it."""
    host = url_host(url)
    return directory.for_host(host) if host else directory.fallback


@functools.lru_cache(maxsize=1)
def shipped_directory() -> PlatformDirectory:
    """The shipped directory, read and validated once per process."""
    return load_platform_directory()


def load_platform_directory(path: Path | str | None = None) -> PlatformDirectory:
    """Read and check the directory (default: the shipped file); raise PlatformDirectoryError (one line) if invalid."""
    path = Path(path) if path is not None else DEFAULT_PATH
    platforms: list[Platform] = []
    for name, raw in read_entries(path, "platform", PlatformDirectoryError):
        try:
            platform = Platform.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            raise PlatformDirectoryError(path, name, _loc(first["loc"]), _problem(first)) from None
        field_, problem = _entry_problem(platform) or _clash(platform, platforms)
        if problem:
            raise PlatformDirectoryError(path, name, field_, problem)
        platforms.append(platform)
    if not any(p.fallback for p in platforms):
        raise PlatformDirectoryError(path, None, None, "no entry has fallback = true (the entry for every other site)")
    return PlatformDirectory(tuple(platforms), path)


def _loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _problem(error: dict) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key"
    if error["type"] == "missing":
        return "missing"
    return str(error["msg"]).removeprefix("Value error, ")


def _entry_problem(p: Platform) -> tuple[str, str] | None:
    """(field, problem) for the first rule between ``p``'s own fields that it breaks."""
    if p.fallback and p.hosts:
        return "hosts", "the fallback entry covers every other site and must have no hosts"
    if not p.fallback and not p.hosts:
        return "hosts", "at least one host is needed (only the fallback entry has none)"
    given = p.channels()
    for key in p.confidence:
        if key not in CHANNELS:
            return f"confidence.{key}", f"unknown channel (expected one of {', '.join(CHANNELS)})"
        if key not in given:
            return f"confidence.{key}", "grades a channel this entry does not give"
    for key in given:
        if key not in p.confidence:
            return f"confidence.{key}", "missing (grade every channel H, M or L)"
    for key in p.sources:
        if key not in SOURCED:
            return f"sources.{key}", f"unknown field (expected one of {', '.join(SOURCED)})"
    return None


def _clash(p: Platform, earlier: list[Platform]) -> tuple[str | None, str | None]:
    """(field, problem) if ``p`` repeats an earlier entry's id, fallback role or hosts; (None, None) if not."""
    for number, other in enumerate(earlier, start=1):
        if other.id == p.id:
            return "id", f"duplicate id (also platform #{number})"
        if p.fallback and other.fallback:
            return "fallback", f"a second fallback entry (platform {other.id!r} is the fallback)"
        for host in p.hosts:
            for theirs in other.hosts:
                if host == theirs or host.endswith("." + theirs) or theirs.endswith("." + host):
                    return "hosts", f"{host!r} overlaps {theirs!r} of platform {other.id!r}"
    return None, None


# -- a municipality's own copy (additive: the shipped file stays the default) ------------------------
def directory_file_in_force(override_dir: Path | str | None) -> Path:
    """``override_dir/platforms.toml`` where the municipality saved its own copy, else the shipped file."""
    if override_dir is not None and (Path(override_dir) / DEFAULT_PATH.name).is_file():
        return Path(override_dir) / DEFAULT_PATH.name
    return DEFAULT_PATH


def load_directory_with_override(override_dir: Path | str | None) -> PlatformDirectory:
    """The directory in force (override, else shipped); PlatformDirectoryError (one line) if it is invalid."""
    path = directory_file_in_force(override_dir)
    return shipped_directory() if path == DEFAULT_PATH else load_platform_directory(path)
