"""Column types and defaults shared by the model modules.

Server defaults mirror the Python defaults so rows inserted by hand (psql, sqlite3) get the same values.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import MappedColumn, mapped_column
from sqlalchemy.schema import CreateIndex
from sqlalchemy.sql.functions import FunctionElement

from medianest.timeutil import utcnow

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


class utc_now(FunctionElement):
    """Server default for naive-UTC timestamps.

    PostgreSQL's CURRENT_TIMESTAMP, stored in a TIMESTAMP WITHOUT TIME ZONE column, is converted to the session time
    zone, so there it is shifted back to UTC explicitly; SQLite's CURRENT_TIMESTAMP is already UTC.
    """

    type = sa.DateTime()
    inherit_cache = True


@compiles(utc_now)
def _utc_now(element, compiler, **kw):
    return "CURRENT_TIMESTAMP"


@compiles(utc_now, "postgresql")
def _utc_now_postgresql(element, compiler, **kw):
    return "timezone('utc', CURRENT_TIMESTAMP)"


class random_uuid(FunctionElement):
    """Server default for UUID keys: gen_random_uuid() on PostgreSQL, a version-4 UUID as 32 hex digits on SQLite
    (the form sa.Uuid stores there)."""

    type = sa.Uuid()
    inherit_cache = True


SQLITE_RANDOM_UUID = (
    "lower(hex(randomblob(4)) || hex(randomblob(2)) || '4' || substr(hex(randomblob(2)), 2) || "
    "substr('89ab', 1 + (random() & 3), 1) || substr(hex(randomblob(2)), 2) || hex(randomblob(6)))"
)


@compiles(random_uuid)
def _random_uuid(element, compiler, **kw):
    return "gen_random_uuid()"


@compiles(random_uuid, "sqlite")
def _random_uuid_sqlite(element, compiler, **kw):
    return SQLITE_RANDOM_UUID


@compiles(CreateIndex, "sqlite")
def _create_index_sqlite(element, compiler, **kw):
    """SQLite rejects NULLS FIRST/LAST in an index, and its DESC already puts NULLs last, so drop the clause there."""
    return compiler.visit_create_index(element, **kw).replace(" NULLS LAST", "")


def uuid_pk() -> MappedColumn:
    return mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4, server_default=random_uuid())


def serial_pk() -> MappedColumn:
    return mapped_column(sa.Integer, primary_key=True, autoincrement=True)


def timestamp_now(**kw) -> MappedColumn:
    """A NOT NULL timestamp that defaults to the current naive-UTC time."""
    return mapped_column(sa.DateTime, nullable=False, default=utcnow, server_default=utc_now(), **kw)


def one_of(column: str, values: Iterable[str]) -> str:
    """SQL for a CHECK constraint: ``column IN ('a', 'b')``."""
    quoted = ", ".join("'" + str(value).replace("'", "''") + "'" for value in values)
    return f"{column} IN ({quoted})"
