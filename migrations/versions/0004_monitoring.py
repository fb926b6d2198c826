"""Service monitoring additions (issue: service connections, health dashboard, incidents, metrics).

- service_status.details: what the last check found besides the status (reason, version, kind of failure,
  Uptime Kuma monitors), so a cold status cache can be rebuilt from the database alone.
- idx_service_metrics_series (service_name, metric_name, timestamp, metric_value): the charts and the uptime
  read one service's metric over a time range; with the value in the index those reads never touch the table.
- idx_service_incidents_one_open: at most one open (or investigating) incident per service, enforced by the
  database even when two health rounds race.

Revision ID: 0004_monitoring
Revises: 0003_notifications
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004_monitoring"
down_revision = "0003_notifications"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
OPEN = sa.text("status IN ('open', 'investigating')")


def upgrade():
    with op.batch_alter_table("service_status") as batch:
        batch.add_column(sa.Column("details", JSON, nullable=True))
    op.create_index(
        "idx_service_metrics_series", "service_metrics", ["service_name", "metric_name", "timestamp", "metric_value"]
    )
    op.create_index(
        "idx_service_incidents_one_open", "service_incidents", ["service_name"], unique=True,
        postgresql_where=OPEN, sqlite_where=OPEN,
    )


def downgrade():
    op.drop_index("idx_service_incidents_one_open", table_name="service_incidents")
    op.drop_index("idx_service_metrics_series", table_name="service_metrics")
    with op.batch_alter_table("service_status") as batch:
        batch.drop_column("details")
