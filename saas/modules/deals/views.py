"""Pages of the deals module beyond the generic record pages."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("deals", __name__)
