"""In-app notifications: the bell, the list, mark read."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("notifications", __name__)
