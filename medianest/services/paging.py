"""Pages of long lists whose cost does not grow with the table: per_page + 1 rows (the extra row only says
there is a next page) and a total counted up to COUNT_CAP rows ("more than 1,000" beyond that)."""
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


def peek_page(stmt, key_column, order_by, *, page: int, per_page: int, options=(), cap: int = COUNT_CAP) -> Page:
    """A Page of `stmt` (a select of one entity, filters applied) in `order_by` order, loaded with `options`;
    `key_column` (the primary key) is what the capped count reads."""
    rows = db.session.scalars(stmt.options(*options).order_by(*order_by).limit(per_page + 1)
                              .offset((page - 1) * per_page)).unique().all()
    capped = stmt.with_only_columns(key_column).order_by(None).limit(cap + 1).subquery()
    total = db.session.scalar(sa.select(sa.func.count()).select_from(capped))
    return Page(items=list(rows[:per_page]), page=page, per_page=per_page, has_next=len(rows) > per_page,
                total=min(total, cap), total_capped=total > cap)
