"""Pages of long lists whose cost does not grow with the table.

Rows are found by their keys first (an index-only scan of an index in the list's order, however deep the page),
then loaded by primary key: a deep OFFSET skips index entries, never whole rows. `peek_page` reads per_page + 1
keys (the extra one only says there is a next page) and counts the total up to COUNT_CAP ("more than 1,000"
beyond that); `counted_page` counts exactly, for lists bounded by a user."""
from __future__ import annotations

import math
from dataclasses import dataclass

import sqlalchemy as sa

from medianest.extensions import db

COUNT_CAP = 1000


@dataclass
class Page:
    items: list
    page: int
    per_page: int
    has_next: bool
    total: int  # exact unless total_capped, then COUNT_CAP
    total_capped: bool

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def prev_num(self) -> int | None:
        return self.page - 1 if self.has_prev else None

    @property
    def next_num(self) -> int | None:
        return self.page + 1 if self.has_next else None

    @property
    def pages(self) -> int | None:
        """The number of pages when the total is exact, else None."""
        return None if self.total_capped else max(1, math.ceil(self.total / self.per_page))


def rows_by_key(stmt, key_column, order_by, *, limit: int, offset: int, options=()) -> list:
    """`stmt`'s rows [offset, offset + limit) in `order_by` order: keys first, then the rows by key."""
    keys = stmt.with_only_columns(key_column).order_by(*order_by).limit(limit).offset(offset)
    outer = sa.select(key_column.class_).where(key_column.in_(keys.scalar_subquery())).options(*options)
    return list(db.session.scalars(outer.order_by(*order_by)).all())


def counted_page(stmt, key_column, order_by, *, page: int, per_page: int, options=()) -> Page:
    """A Page with its exact total (for lists a user's own rows bound)."""
    rows = rows_by_key(stmt, key_column, order_by, limit=per_page, offset=(page - 1) * per_page, options=options)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(
        stmt.with_only_columns(key_column).order_by(None).subquery()))
    return Page(items=rows, page=page, per_page=per_page, has_next=page * per_page < total, total=total,
                total_capped=False)


def peek_page(stmt, key_column, order_by, *, page: int, per_page: int, options=(), cap: int = COUNT_CAP) -> Page:
    """A Page of `stmt` (a select of one entity, filters applied, no loader options) in `order_by` order, loaded
    with `options`; `key_column` (the primary key) is what the keys and the capped count read."""
    rows = rows_by_key(stmt, key_column, order_by, limit=per_page + 1, offset=(page - 1) * per_page,
                       options=options)
    capped = stmt.with_only_columns(key_column).order_by(None).limit(cap + 1).subquery()
    total = db.session.scalar(sa.select(sa.func.count()).select_from(capped))
    return Page(items=list(rows[:per_page]), page=page, per_page=per_page, has_next=len(rows) > per_page,
                total=min(total, cap), total_capped=total > cap)
