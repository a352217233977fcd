"""The baseline of bench/api.py: one contact by id with Flask and psycopg, nothing else.

``gunicorn --pythonpath bench/harness bare_app:app`` with ``BARE_DATABASE_URL`` and
``BARE_SCHEMA`` (a tenant schema) in the environment. One autocommit connection per
worker process, opened on the first request; the row's columns (all but ``search``,
as the API leaves it out too) go out as a JSON object.
"""

from __future__ import annotations

import os

import psycopg
from flask import Flask, abort, jsonify
from psycopg import sql
from psycopg.rows import dict_row

app = Flask(__name__)
_state: dict = {}


def _connection() -> tuple[psycopg.Connection, sql.Composed]:
    if "conn" not in _state:
        conn = psycopg.connect(
            os.environ["BARE_DATABASE_URL"], autocommit=True, row_factory=dict_row
        )
        table = sql.Identifier(os.environ["BARE_SCHEMA"], "contacts")
        names = [
            c.name
            for c in conn.execute(sql.SQL("SELECT * FROM {} LIMIT 0").format(table)).description
            if c.name != "search"
        ]
        _state["conn"] = conn
        _state["query"] = sql.SQL("SELECT {} FROM {} WHERE id = %s AND deleted_at IS NULL").format(
            sql.SQL(", ").join(map(sql.Identifier, names)), table
        )
    return _state["conn"], _state["query"]


@app.get("/contacts/<int:record_id>")
def contact(record_id: int):
    conn, query = _connection()
    row = conn.execute(query, (record_id,)).fetchone()
    if row is None:
        abort(404)
    return jsonify(row)
