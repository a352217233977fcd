"""custom fields, layouts, validation rules, workflow rules, notifications

Revision ID: t0004
Revises: t0003
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from saas.tenants.migrate import tenant_schema

revision = "t0004"
down_revision = "t0003"
branch_labels = None
depends_on = None


def generated(s):
    op.create_table('custom_fields',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('object', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=63), nullable=False),
    sa.Column('label', sa.String(length=100), nullable=False),
    sa.Column('type', sa.String(length=20), nullable=False),
    sa.Column('required', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('unique', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('indexed', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('index_state', sa.String(length=20), server_default='none', nullable=False),
    sa.Column('help', sa.String(length=500), server_default='', nullable=False),
    sa.Column('default', sa.String(length=500), nullable=True),
    sa.Column('options', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_custom_fields')),
    schema=s
    )
    op.create_index('ix_custom_fields_object_name', 'custom_fields', ['object', 'name'], unique=True, schema=s)
    op.create_table('layouts',
    sa.Column('object', sa.String(length=40), nullable=False),
    sa.Column('sections', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('fields', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('columns', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.PrimaryKeyConstraint('object', name=op.f('pk_layouts')),
    schema=s
    )
    op.create_table('notifications',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('body', sa.Text(), server_default='', nullable=False),
    sa.Column('url', sa.String(length=500), server_default='', nullable=False),
    sa.Column('key', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('emailed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')),
    schema=s
    )
    op.create_index('ix_notifications_user_id_read_at_id', 'notifications', ['user_id', 'read_at', 'id'], unique=False, schema=s)
    op.create_index('uq_notifications_user_id_key', 'notifications', ['user_id', 'key'], unique=True, schema=s, postgresql_where=sa.text('key IS NOT NULL'))
    op.create_table('validation_rules',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('object', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('active', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('position', sa.Integer(), server_default='0', nullable=False),
    sa.Column('condition', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('field', sa.String(length=63), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_validation_rules')),
    schema=s
    )
    op.create_index('ix_validation_rules_object', 'validation_rules', ['object', 'position'], unique=False, schema=s)
    op.create_table('workflow_firings',
    sa.Column('rule_id', sa.BigInteger(), nullable=False),
    sa.Column('record_id', sa.BigInteger(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('rule_id', 'record_id', 'due_on', name=op.f('pk_workflow_firings')),
    schema=s
    )
    op.create_table('workflow_rules',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('object', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('active', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('position', sa.Integer(), server_default='0', nullable=False),
    sa.Column('trigger', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('match', sa.String(length=3), server_default='all', nullable=False),
    sa.Column('conditions', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('actions', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('created_by', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('last_run_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workflow_rules')),
    schema=s
    )
    op.create_index('ix_workflow_rules_object_position', 'workflow_rules', ['object', 'position'], unique=False, schema=s)
    op.create_table('workflow_runs',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('rule_id', sa.BigInteger(), nullable=False),
    sa.Column('object', sa.String(length=40), nullable=False),
    sa.Column('record_id', sa.BigInteger(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('event', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('detail', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workflow_runs')),
    schema=s
    )
    op.create_index('ix_workflow_runs_at', 'workflow_runs', ['at'], unique=False, schema=s)
    op.create_index('ix_workflow_runs_object_record_id_id', 'workflow_runs', ['object', 'record_id', 'id'], unique=False, schema=s)
    op.create_index('ix_workflow_runs_rule_id_id', 'workflow_runs', ['rule_id', 'id'], unique=False, schema=s)


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
