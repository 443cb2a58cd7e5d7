"""Administration: users, units, rule files and the platform directory (no case content)."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin", __name__)
