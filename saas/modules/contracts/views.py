"""Pages of the contracts module beyond the generic record pages."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("contracts", __name__)
