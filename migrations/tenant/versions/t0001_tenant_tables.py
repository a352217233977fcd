"""tenant tables

Revision ID: t0001
Revises: 
Create Date: 2026-11-23 12:18:13.475972
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from saas.tenants.migrate import tenant_schema

revision = 't0001'
down_revision = None
branch_labels = ('tenant',)
depends_on = None


def upgrade():
    s = tenant_schema()
    op.create_table('contacts',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('first_name', sa.String(length=100), server_default='', nullable=False),
    sa.Column('last_name', sa.String(length=100), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('phone', sa.String(length=50), nullable=True),
    sa.Column('company', sa.String(length=200), nullable=True),
    sa.Column('owner_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contacts')),
    schema=s
    )
    op.create_index(op.f('ix_contacts_email'), 'contacts', ['email'], unique=False, schema=s)
    op.create_index(op.f('ix_contacts_owner_id'), 'contacts', ['owner_id'], unique=False, schema=s)
    op.create_table('events',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=True),
    sa.Column('action', sa.String(length=80), nullable=False),
    sa.Column('data', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events')),
    schema=s
    )
    op.create_index(op.f('ix_events_at'), 'events', ['at'], unique=False, schema=s)
    op.create_table('settings',
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('value', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_settings')),
    schema=s
    )


def downgrade():
    s = tenant_schema()
    op.drop_table('settings', schema=s)
    op.drop_index(op.f('ix_events_at'), table_name='events', schema=s)
    op.drop_table('events', schema=s)
    op.drop_index(op.f('ix_contacts_owner_id'), table_name='contacts', schema=s)
    op.drop_index(op.f('ix_contacts_email'), table_name='contacts', schema=s)
    op.drop_table('contacts', schema=s)
