"""Offenders across cases and near-duplicate evidence."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("oversight", __name__)
