"""The `vaern` console script as an operator runs it: a real subprocess with a clean VAERN_* environment."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.environment import CHROMIUM

#: a SHA-256 in hex, as `vaern capture` prints the fingerprint
FINGERPRINT = re.compile(r"[0-9a-f]{64}")
VAERN = shutil.which("vaern", path=str(Path(sys.executable).parent))
#: logging.basicConfig's format in webui/cli.py: these lines are log records, not the command's own messages
LOG_RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO) ")


def vaern(*args: str, data_dir: Path, stdin: str | None = None, timeout: float = 120,
          **settings: str) -> subprocess.CompletedProcess:
    """Run ``vaern ARGS`` with VAERN_DATA_DIR=data_dir, VAERN_CHROMIUM_PATH and ``settings`` (VAERN_<NAME>)."""
    assert VAERN, f"no vaern console script beside {sys.executable}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAERN_")}
    env.update(VAERN_DATA_DIR=str(data_dir), **({"VAERN_CHROMIUM_PATH": CHROMIUM} if CHROMIUM else {}))
    env.update({f"VAERN_{name.upper()}": value for name, value in settings.items()})
    return subprocess.run([VAERN, *args], env=env, input=stdin, capture_output=True, text=True,
                          timeout=timeout, cwd=next(p for p in data_dir.parents if p.is_dir()))


def said(stderr: str) -> list[str]:
    """The command's own lines on stderr (log records from libraries, e.g. alembic's, left out)."""
    return [line for line in stderr.splitlines() if not LOG_RECORD.match(line)]
