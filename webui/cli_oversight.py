"""The `vaern verify` command: re-hash every blob and walk the audit chain."""
from __future__ import annotations

from webui.cli import main  # noqa: F401 - commands are added to this group
