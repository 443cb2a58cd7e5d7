"""HR's read-only pages: case search, a case's full history, the audit log."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("hr", __name__)
