"""Imports, exports, notification preferences

Revision ID: t0005
Revises: t0004
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from saas.tenants.migrate import tenant_schema

revision = "t0005"
down_revision = "t0004"
branch_labels = None
depends_on = None


def generated(s):
    op.create_table('export_schedules',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('objects', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('format', sa.String(length=4), server_default='csv', nullable=False),
    sa.Column('hour', sa.Integer(), server_default='6', nullable=False),
    sa.Column('delivery', sa.String(length=10), server_default='download', nullable=False),
    sa.Column('url', sa.String(length=500), server_default='', nullable=False),
    sa.Column('secret', sa.String(length=64), nullable=False),
    sa.Column('active', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('created_by', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_export_schedules')),
    schema=s
    )
    op.create_table('exports',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('object', sa.String(length=40), nullable=False),
    sa.Column('query', sa.String(length=2000), server_default='', nullable=False),
    sa.Column('fields', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('format', sa.String(length=4), nullable=False),
    sa.Column('locale', sa.String(length=10), server_default='en', nullable=False),
    sa.Column('status', sa.String(length=10), server_default='queued', nullable=False),
    sa.Column('total', sa.Integer(), nullable=True),
    sa.Column('done', sa.Integer(), server_default='0', nullable=False),
    sa.Column('size', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('schedule_run_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exports')),
    schema=s
    )
    op.create_index('ix_exports_expires_at', 'exports', ['expires_at'], unique=False, schema=s)
    op.create_index('ix_exports_user_id_id', 'exports', ['user_id', 'id'], unique=False, schema=s)
    op.create_table('import_mappings',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('object', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('columns', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_mappings')),
    schema=s
    )
    op.create_index('ix_import_mappings_object', 'import_mappings', ['object'], unique=False, schema=s)
    op.create_table('imports',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('object', sa.String(length=40), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('format', sa.String(length=8), nullable=False),
    sa.Column('encoding', sa.String(length=20), nullable=True),
    sa.Column('delimiter', sa.String(length=2), nullable=True),
    sa.Column('header', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('mapping', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('mode', sa.String(length=10), server_default='insert', nullable=False),
    sa.Column('dedupe', sa.String(length=80), nullable=True),
    sa.Column('create_missing', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('status', sa.String(length=20), server_default='uploaded', nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('total', sa.Integer(), nullable=True),
    sa.Column('done', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created', sa.Integer(), server_default='0', nullable=False),
    sa.Column('updated', sa.Integer(), server_default='0', nullable=False),
    sa.Column('unchanged', sa.Integer(), server_default='0', nullable=False),
    sa.Column('skipped', sa.Integer(), server_default='0', nullable=False),
    sa.Column('failed', sa.Integer(), server_default='0', nullable=False),
    sa.Column('reverted', sa.Integer(), server_default='0', nullable=False),
    sa.Column('revert_upto', sa.Integer(), server_default='0', nullable=False),
    sa.Column('cancel_requested', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('run_started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('run_started_done', sa.Integer(), server_default='0', nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_imports')),
    schema=s
    )
    op.create_index('ix_imports_user_id_id', 'imports', ['user_id', 'id'], unique=False, schema=s)
    op.create_table('notification_preferences',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_preferences')),
    schema=s
    )
    op.create_index('uq_notification_preferences_user_id_kind', 'notification_preferences', ['user_id', 'kind'], unique=True, schema=s)
    op.create_table('notification_sweeps',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.PrimaryKeyConstraint('name', 'day', name=op.f('pk_notification_sweeps')),
    schema=s
    )
    op.create_table('export_chunks',
    sa.Column('export_id', sa.BigInteger(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['export_id'], [f'{s}.exports.id'], name=op.f('fk_export_chunks_export_id_exports'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('export_id', 'seq', name=op.f('pk_export_chunks')),
    schema=s
    )
    op.create_table('export_runs',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('schedule_id', sa.BigInteger(), nullable=False),
    sa.Column('run_on', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=10), server_default='queued', nullable=False),
    sa.Column('rows', sa.Integer(), server_default='0', nullable=False),
    sa.Column('http_status', sa.Integer(), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=True),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('detail', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['schedule_id'], [f'{s}.export_schedules.id'], name=op.f('fk_export_runs_schedule_id_export_schedules'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_export_runs')),
    schema=s
    )
    op.create_index('ix_export_runs_schedule_id_run_on', 'export_runs', ['schedule_id', 'run_on'], unique=True, schema=s)
    op.create_table('import_chunks',
    sa.Column('import_id', sa.BigInteger(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['import_id'], [f'{s}.imports.id'], name=op.f('fk_import_chunks_import_id_imports'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('import_id', 'seq', name=op.f('pk_import_chunks')),
    schema=s
    )
    op.create_table('import_problems',
    sa.Column('import_id', sa.BigInteger(), nullable=False),
    sa.Column('row', sa.Integer(), nullable=False),
    sa.Column('skipped', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('cells', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['import_id'], [f'{s}.imports.id'], name=op.f('fk_import_problems_import_id_imports'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('import_id', 'row', name=op.f('pk_import_problems')),
    schema=s
    )
    op.create_table('import_rows',
    sa.Column('import_id', sa.BigInteger(), nullable=False),
    sa.Column('row', sa.Integer(), nullable=False),
    sa.Column('record_id', sa.BigInteger(), nullable=False),
    sa.Column('before', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.ForeignKeyConstraint(['import_id'], [f'{s}.imports.id'], name=op.f('fk_import_rows_import_id_imports'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('import_id', 'row', name=op.f('pk_import_rows')),
    schema=s
    )
    op.add_column('notifications', sa.Column('channel', sa.String(length=10), server_default='email', nullable=False), schema=s)
    op.create_index('ix_notifications_digest_pending', 'notifications', ['user_id', 'created_at'], unique=False, schema=s, postgresql_where=sa.text("channel = 'digest' AND emailed_at IS NULL AND read_at IS NULL"))


def generated_drops(s):
    pass


# -- end of generated operations --


def upgrade():
    s = tenant_schema()
    generated(s)
    generated_drops(s)
    from saas.tenants.migrate import quoted_schema
    from saas.tenants.provisioning import role_statements

    for statement in role_statements(quoted_schema(s)):
        if statement.startswith("GRANT ") and " ON ALL " in statement:
            op.execute(statement)
