"""A tenant's whole data set as a zip: one CSV per table and a manifest.

The file path always carries the tenant's schema name. Uses PostgreSQL's
COPY, so it streams large tables without loading them into memory.
"""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from flask import current_app

from saas.db import TenantBase, TenantRef, db
from saas.tenants.migrate import quoted_schema


def export_path(tenant: TenantRef) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return (
        Path(current_app.config["EXPORT_DIR"]) / tenant.schema_name / f"{tenant.slug}-{stamp}.zip"
    )


def export_tenant(tenant: TenantRef, out: Path | None = None) -> Path:
    out = out or export_path(tenant)
    out.parent.mkdir(parents=True, exist_ok=True)
    schema = quoted_schema(tenant.schema_name)
    tmp = out.with_suffix(".part")
    # One repeatable-read transaction: every table from the same snapshot.
    with db.engine.connect() as conn, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        tables = TenantBase.metadata.sorted_tables
        # The counts start the transaction: every COPY below reads the same snapshot.
        counts = {
            t.name: conn.exec_driver_sql(f'SELECT count(*) FROM {schema}."{t.name}"').scalar_one()
            for t in tables
        }
        cursor = conn.connection.driver_connection.cursor()
        for table in tables:
            sql = f'COPY {schema}."{table.name}" TO STDOUT WITH (FORMAT csv, HEADER true)'
            with zf.open(f"{table.name}.csv", "w") as fh, cursor.copy(sql) as copy:
                for chunk in copy:
                    fh.write(chunk)
        manifest = {
            "tenant": {"id": tenant.id, "slug": tenant.slug, "name": tenant.name},
            "exported_at": datetime.now(UTC).isoformat(),
            "tables": counts,
        }
        zf.writestr("manifest.json", json.dumps(manifest, indent=1))
        conn.rollback()
    tmp.replace(out)
    return out
