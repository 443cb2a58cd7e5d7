"""The municipality's own copies of the rule files (deadlines, checklist, platforms, letters, removal signs, retention,
the exceptions to erasure and the texts of the record of processing).

The shipped files (``tracker/workflow/rules/``) stay untouched; a municipality's replacement is saved in an
override folder (``<data_dir>/rules/``, letters in ``letters/`` below it) after the real loaders have accepted
it together with the other files in force. Removing the copy reverts to shipped. Every change is an audit
event; only an administrator may make one. Operations only flush; the caller owns the transaction.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
import tomllib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from storage.models import Role, User
from tracker.datafile import write_entries
from tracker.oversight import audit
from tracker.errors import DomainError, NotFound
from tracker.workflow.erasure import DEFAULT_PATH as ERASURE_PATH
from tracker.workflow.erasure import ErasureException, ErasureRulesError, erasure_in_force, load_exceptions
from tracker.workflow.letters import SUFFIX as LETTER_SUFFIX
from tracker.workflow.letters import TEMPLATE_DIR, LetterTemplateError, check_templates
from tracker.workflow.platforms import (DEFAULT_PATH, PlatformDirectory, PlatformDirectoryError, load_directory_with_override,
                               load_platform_directory)
from tracker.workflow.processing_texts import DEFAULT_PATH as RECORD_TEXTS_PATH
from tracker.workflow.processing_texts import ProcessingRecordError, Texts, load_texts, processing_texts_in_force
from tracker.workflow.removal_signs import DEFAULT_PATH as SIGNS_PATH
from tracker.workflow.removal_signs import RemovalSigns, RemovalSignsError, load_removal_signs, signs_in_force
from tracker.workflow.retention import DEFAULT_PATH as RETENTION_PATH
from tracker.workflow.retention import RetentionRules, RetentionRulesError, load_retention_rules, retention_in_force
from tracker.workflow.rules import (DEADLINES_FILE, RESPONSE_FILE, RULES_DIR, Rules, RulesError, load_rule_files,
                           load_rules_with_overrides, rule_file_in_force)

OVERRIDE_SUBDIR = "rules"
MAX_RULE_FILE_BYTES = 512 * 1024


@dataclass(frozen=True)
class RuleFile:
    """One editable file: ``id`` is URL-safe, ``name`` its path below the rules folder."""

    id: str
    name: str
    kind: str  #: rules | platforms | removal_signs | retention | erasure | processing_record | letter
    shipped: Path

    def override(self, override_dir: Path) -> Path:
        return override_dir / self.name


@dataclass(frozen=True)
class RuleFileView:
    file: RuleFile
    overridden: bool
    text: str
    modified_at: datetime | None  #: of the override file


@dataclass(frozen=True)
class InForce:
    """What the running app uses: every rule file checked and held in memory (the letters are only checked here;
    they are read when a letter is drafted)."""

    rules: Rules
    directory: PlatformDirectory
    removal_signs: RemovalSigns
    retention: RetentionRules
    erasure_exceptions: dict[str, ErasureException]
    processing_texts: Texts


@dataclass(frozen=True)
class LoadProblem:
    """The files on disk changed but one does not load, so a running process keeps the files it uses."""

    file: str  #: its name below the rules folder (``retention.toml``, ``letters/dsa_notice.txt.j2``)
    message: str  #: the loader's one line, the file named by ``file``
    noticed_at: datetime
    in_use_since: datetime | None  #: when the files kept in use were loaded


def load_problem(exc: Exception, override_dir: Path, *, noticed_at: datetime,
                 in_use_since: datetime | None) -> LoadProblem:
    """``exc`` of ``load_in_force`` as a LoadProblem: the file by its name, not its path (a letter is checked in a
    temporary folder); an error that is no loader's (no file named) by its type and text on one line."""
    message = exc.message if isinstance(exc, DomainError) else " ".join(f"{type(exc).__name__}: {exc}".split())
    path = getattr(exc, "file", None)
    if path is None:
        return LoadProblem("", message, noticed_at, in_use_since)
    path = Path(path)
    if path.is_relative_to(override_dir):
        name = str(path.relative_to(override_dir))
    elif path.name.endswith(LETTER_SUFFIX):
        name = f"letters/{path.name}"
    else:
        name = path.name
    return LoadProblem(name, message.replace(str(path), name, 1), noticed_at, in_use_since)


class RuleFileError(DomainError):
    """A replacement file was refused; the message is the loader's one line (naming the file by its name)."""

    def __init__(self, message: str):
        super().__init__("rule_file_invalid", " ".join(message.split()), "content")


def override_dir(data_dir: Path) -> Path:
    """Where the municipality's copies live: ``<data_dir>/rules``."""
    return Path(data_dir) / OVERRIDE_SUBDIR


def override_stamp(override_dir: Path) -> tuple:
    """What the municipality's copies look like on disk now (name, inode, mtime, size of each: a save writes a new
    file and renames it over the old one); equal stamps, same files."""
    found = []
    for path in Path(override_dir).rglob("*"):
        if path.name.startswith("."):  # a save's temporary file
            continue
        try:
            st = path.stat()
        except FileNotFoundError:  # removed while looking (a revert)
            continue
        if stat.S_ISREG(st.st_mode):
            found.append((str(path.relative_to(override_dir)), st.st_ino, st.st_mtime_ns, st.st_size))
    return tuple(sorted(found))


def rule_files() -> tuple[RuleFile, ...]:
    """The editable files: response, deadlines, the platform directory, the removal signs, retention, the exceptions to
    erasure, the texts of the record of processing, then each letter."""
    files = [RuleFile("response", RESPONSE_FILE, "rules", RULES_DIR / RESPONSE_FILE),
             RuleFile("deadlines", DEADLINES_FILE, "rules", RULES_DIR / DEADLINES_FILE),
             RuleFile("platforms", DEFAULT_PATH.name, "platforms", DEFAULT_PATH),
             RuleFile("removal-signs", SIGNS_PATH.name, "removal_signs", SIGNS_PATH),
             RuleFile("retention", RETENTION_PATH.name, "retention", RETENTION_PATH),
             RuleFile("erasure", ERASURE_PATH.name, "erasure", ERASURE_PATH),
             RuleFile("processing-record", RECORD_TEXTS_PATH.name, "processing_record", RECORD_TEXTS_PATH)]
    for path in sorted(TEMPLATE_DIR.glob(f"*{LETTER_SUFFIX}")):
        stem = path.name.removesuffix(LETTER_SUFFIX)
        files.append(RuleFile(f"letter-{stem}", f"letters/{path.name}", "letter", path))
    return tuple(files)


def rule_file(file_id: str) -> RuleFile:
    """The editable file with this id; NotFound for any other (no path ever comes from the request)."""
    for f in rule_files():
        if f.id == file_id:
            return f
    raise NotFound(f"rule file {file_id}")


def view_rule_file(override_dir: Path, file: RuleFile) -> RuleFileView:
    """The text on disk (the municipality's copy, else the shipped file) and where it comes from; a copy that is not
    UTF-8 (written by hand) is shown with U+FFFD for the bytes that are not."""
    path = file.override(override_dir)
    if path.is_file():
        modified = datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc)
        return RuleFileView(file, True, path.read_text(encoding="utf-8", errors="replace"), modified)
    return RuleFileView(file, False, file.shipped.read_text(encoding="utf-8"), None)


def load_in_force(override_dir: Path) -> InForce:
    """Load and check every file in force (overrides, else shipped); the loaders' errors as they raise them."""
    if (override_dir / "letters").is_dir():
        with tempfile.TemporaryDirectory(prefix="vaern-letters-") as tmp:
            check_templates(_merged_letters(override_dir, Path(tmp)))
    return InForce(rules=load_rules_with_overrides(override_dir), directory=load_directory_with_override(override_dir),
                   removal_signs=signs_in_force(override_dir), retention=retention_in_force(override_dir),
                   erasure_exceptions=erasure_in_force(override_dir),
                   processing_texts=processing_texts_in_force(override_dir))


def _merged_letters(override_dir: Path, target: Path) -> Path:
    """Copy the shipped letters, then the overrides (if any) over them, into ``target``."""
    for path in TEMPLATE_DIR.glob(f"*{LETTER_SUFFIX}"):
        shutil.copyfile(path, target / path.name)
    for path in (override_dir / "letters").glob(f"*{LETTER_SUFFIX}"):
        shutil.copyfile(path, target / path.name)
    return target


def _decode(content: bytes | str) -> str:
    if isinstance(content, bytes):
        if len(content) > MAX_RULE_FILE_BYTES:
            raise RuleFileError(f"the file is larger than {MAX_RULE_FILE_BYTES // 1024} KiB")
        try:
            content = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise RuleFileError("the file is not UTF-8 text") from None
    if len(content.encode("utf-8")) > MAX_RULE_FILE_BYTES:
        raise RuleFileError(f"the file is larger than {MAX_RULE_FILE_BYTES // 1024} KiB")
    if not content.strip():
        raise RuleFileError("the file is empty")
    return content.replace("\r\n", "\n").replace("\r", "\n")


def validate_rule_file(override_dir: Path, file: RuleFile, text: str) -> None:
    """Check ``text`` as ``file`` together with the other files in force, with the real loaders.

    Raises RuleFileError with the loader's one line, the file named by its name (not a temp path).
    """
    with tempfile.TemporaryDirectory(prefix="vaern-check-") as tmp:
        tmp_dir = Path(tmp)
        try:
            if file.kind == "letter":
                letters = _merged_letters(override_dir, tmp_dir)
                (letters / file.shipped.name).write_text(text, encoding="utf-8")
                check_templates(letters)
                return
            candidate = tmp_dir / file.shipped.name
            candidate.write_text(text, encoding="utf-8")
            if file.kind == "platforms":
                load_platform_directory(candidate)
            elif file.kind == "removal_signs":
                load_removal_signs(candidate)
            elif file.kind == "retention":
                load_retention_rules(candidate)
            elif file.kind == "erasure":
                load_exceptions(candidate)
            elif file.kind == "processing_record":
                load_texts(candidate)
            elif file.name == RESPONSE_FILE:
                load_rule_files(rule_file_in_force(DEADLINES_FILE, override_dir), candidate)
            else:
                load_rule_files(candidate, rule_file_in_force(RESPONSE_FILE, override_dir))
        except (RulesError, PlatformDirectoryError, LetterTemplateError, RemovalSignsError, RetentionRulesError,
                ErasureRulesError, ProcessingRecordError) as exc:
            raise RuleFileError(str(exc).replace(str(tmp_dir) + os.sep, "").replace(str(tmp_dir), "")) from None


def check_together(override_dir: Path, file: RuleFile, text: str | None) -> None:
    """Check every file in force as it would be with ``text`` saved as ``file`` (None: its copy removed), in a copy
    of the override folder; RuleFileError naming the file that does not load (another one may have been broken on
    disk by hand: then nothing is saved until it is fixed)."""
    with tempfile.TemporaryDirectory(prefix="vaern-check-") as tmp:
        copy = Path(tmp) / OVERRIDE_SUBDIR
        if override_dir.is_dir():
            shutil.copytree(override_dir, copy, ignore=shutil.ignore_patterns(".*"))
        target = file.override(copy)
        if text is None:
            target.unlink(missing_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        try:
            load_in_force(copy)
        except DomainError as exc:
            raise RuleFileError(load_problem(exc, copy, noticed_at=datetime.now(timezone.utc),
                                             in_use_since=None).message) from None


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _write_atomically(path: Path, text: str) -> None:
    """Temp file in the same folder, fsync, rename over ``path``, fsync the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _require_admin(actor: User | None) -> None:
    """Rule files steer every case: only an active administrator may change them (the pages check it too)."""
    if actor is None or actor.role != Role.admin or not actor.active:
        raise DomainError("not_allowed", "only an administrator may change the rule files")


def save_rule_file(session: Session, actor: User, override_dir: Path, file: RuleFile,
                   content: bytes | str, *, entry: str | None = None) -> InForce:
    """Validate ``content`` as ``file``, save it as the municipality's copy and return what is now in force.

    A refused file raises RuleFileError and nothing is written. ``entry``: the id of the entry a form changed
    (named in the audit event).
    """
    _require_admin(actor)
    text = _decode(content)
    validate_rule_file(override_dir, file, text)
    check_together(override_dir, file, text)
    before = view_rule_file(override_dir, file)
    _write_atomically(file.override(override_dir), text)
    audit.record(session, actor, "rules.save", "rule_file", file.name,
                 before={"source": "override" if before.overridden else "shipped", "sha256": _sha256(before.text)},
                 after={"source": "override", "sha256": _sha256(text)}, size=len(text.encode("utf-8")), entry=entry)
    return load_in_force(override_dir)


def revert_rule_file(session: Session, actor: User, override_dir: Path, file: RuleFile) -> InForce:
    """Remove the municipality's copy of ``file`` so the shipped one is in force again.

    Refused (RuleFileError, nothing removed) if the other copies in force do not fit the shipped file.
    """
    _require_admin(actor)
    path = file.override(override_dir)
    if not path.is_file():
        return load_in_force(override_dir)
    old = path.read_text(encoding="utf-8")
    validate_rule_file(override_dir, file, file.shipped.read_text(encoding="utf-8"))
    check_together(override_dir, file, None)
    path.unlink()
    audit.record(session, actor, "rules.revert", "rule_file", file.name,
                 before={"source": "override", "sha256": _sha256(old)},
                 after={"source": "shipped", "sha256": _sha256(file.shipped.read_text(encoding="utf-8"))})
    return load_in_force(override_dir)


# -- one entry at a time (the admin forms) -----------------------------------------------------------
#: the [[table]] of each TOML file's entries; letters are Jinja templates and stay edited as text
ENTRY_TABLES = {"response": "step", "deadlines": "deadline", "platforms": "platform", "removal-signs": "platform"}
#: the comment on top of a file saved from a form (tomli-w writes no comments; the shipped file explains the fields)
FORM_HEADER = ("Kommunens egen udgave af {name}, gemt fra Værns formular til regelfiler.\n"
               "Felterne er forklaret i kommentarerne i den udgave af filen, der følger med Værn.\n"
               "Værn kontrollerer filen ved hver gemning og ved start; en fejl nævner filen, posten og feltet.")


def entries_of(override_dir: Path, file: RuleFile) -> list[dict[str, Any]]:
    """The raw entries of ``file`` on disk (override, else shipped); NotFound for a letter. A copy broken by hand
    so that it is no TOML list of tables has none (``Runtime.load_problem`` says why)."""
    table = ENTRY_TABLES.get(file.id)
    if table is None:
        raise NotFound(f"entries of {file.id}")
    try:
        entries = tomllib.loads(view_rule_file(override_dir, file).text).get(table, [])
    except tomllib.TOMLDecodeError:
        return []
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def rule_entry(override_dir: Path, file: RuleFile, entry_id: str) -> dict[str, Any]:
    """One raw entry by its id; NotFound if the file in force has none with that id."""
    for entry in entries_of(override_dir, file):
        if entry.get("id") == entry_id:
            return entry
    raise NotFound(f"entry {entry_id} of {file.id}")


def save_rule_entry(session: Session, actor: User, override_dir: Path, file: RuleFile, entry_id: str,
                    changes: dict[str, Any]) -> InForce:
    """Set fields of one entry (None removes an optional field) and save the whole file like an upload.

    The file is written as TOML with tomli-w, then checked by the real loaders with the other files in force
    and audited by ``save_rule_file``; a refused change raises RuleFileError and nothing is written.
    """
    _require_admin(actor)
    entries = entries_of(override_dir, file)
    entry = next((e for e in entries if e.get("id") == entry_id), None)
    if entry is None:
        raise NotFound(f"entry {entry_id} of {file.id}")
    for key, value in changes.items():
        if value is None:
            entry.pop(key, None)
        else:
            entry[key] = value
    text = write_entries(ENTRY_TABLES[file.id], entries, FORM_HEADER.format(name=file.name))
    return save_rule_file(session, actor, override_dir, file, text, entry=entry_id)
