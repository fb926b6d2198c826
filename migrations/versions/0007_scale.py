"""Scale: metric rollups and indexes whose order matches the list queries.

service_metrics_hourly / service_metrics_daily hold sum, count, min and max per service, metric and period;
the upgrade fills them from the rows already there (complete hours and days only), so the long charts are
right from the first view. The media_requests indexes carry the lists' tie-breaker (ORDER BY created_at DESC,
id), so a deep page walks an index instead of sorting.

Revision ID: 0007_scale
Revises: 0006_youtube
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op

revision = "0007_scale"
down_revision = "0006_youtube"
branch_labels = None
depends_on = None

ROLLUPS = (("service_metrics_hourly", "hour"), ("service_metrics_daily", "day"))


def _sqlite() -> bool:
    return op.get_context().dialect.name == "sqlite"


def _truncate(column: str, unit: str) -> str:
    if _sqlite():  # SQLAlchemy's stored form of a DATETIME, so comparisons stay right
        fmt = "%Y-%m-%d %H:00:00.000000" if unit == "hour" else "%Y-%m-%d 00:00:00.000000"
        return f"strftime('{fmt}', {column})"
    return f"date_trunc('{unit}', {column})"


def _now_truncated(unit: str) -> str:
    if _sqlite():
        fmt = "%Y-%m-%d %H:00:00.000000" if unit == "hour" else "%Y-%m-%d 00:00:00.000000"
        return f"strftime('{fmt}', 'now')"
    return f"date_trunc('{unit}', timezone('utc', CURRENT_TIMESTAMP))"


def _desc(column: str):
    return sa.literal_column(f"{column} DESC")


def upgrade():
    for table, _unit in ROLLUPS:
        op.create_table(
            table,
            sa.Column("service_name", sa.String(100), nullable=False),
            sa.Column("metric_name", sa.String(100), nullable=False),
            sa.Column("bucket_start", sa.DateTime(), nullable=False),
            sa.Column("sample_count", sa.Integer(), nullable=False),
            sa.Column("value_sum", sa.Float(), nullable=False),
            sa.Column("value_min", sa.Float(), nullable=False),
            sa.Column("value_max", sa.Float(), nullable=False),
            sa.PrimaryKeyConstraint("service_name", "metric_name", "bucket_start", name=op.f(f"pk_{table}")),
        )
        op.create_index(f"idx_{table}_bucket", table, ["bucket_start"])
    hour = _truncate("timestamp", "hour")
    op.execute(f"""
        INSERT INTO service_metrics_hourly (service_name, metric_name, bucket_start, sample_count, value_sum,
                                            value_min, value_max)
        SELECT service_name, metric_name, {hour}, count(*), sum(metric_value), min(metric_value), max(metric_value)
        FROM service_metrics WHERE timestamp < {_now_truncated('hour')}
        GROUP BY service_name, metric_name, {hour}
    """)
    day = _truncate("bucket_start", "day")
    op.execute(f"""
        INSERT INTO service_metrics_daily (service_name, metric_name, bucket_start, sample_count, value_sum,
                                           value_min, value_max)
        SELECT service_name, metric_name, {day}, sum(sample_count), sum(value_sum), min(value_min), max(value_max)
        FROM service_metrics_hourly WHERE bucket_start < {_now_truncated('day')}
        GROUP BY service_name, metric_name, {day}
    """)
    op.create_index("idx_media_requests_created_id", "media_requests", [_desc("created_at"), "id"])
    op.create_index("idx_media_requests_user_created_id", "media_requests", ["user_id", _desc("created_at"), "id"])


def downgrade():
    op.drop_index("idx_media_requests_user_created_id", table_name="media_requests")
    op.drop_index("idx_media_requests_created_id", table_name="media_requests")
    for table, _unit in reversed(ROLLUPS):
        op.drop_index(f"idx_{table}_bucket", table_name=table)
        op.drop_table(table)
