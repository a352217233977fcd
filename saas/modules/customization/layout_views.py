"""Layouts (record page sections and order, list columns) and validation rules."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("layouts", __name__)
