"""Lean request path: download heartbeat and restart state.

Revision ID: 0009_lean
Revises: 0008_trust
Create Date: 2026-12-03
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0009_lean"
down_revision = "0008_trust"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
