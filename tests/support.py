"""Small helpers shared by test modules: query counting and polling without fixed sleeps."""
from __future__ import annotations

import time
from contextlib import contextmanager

from sqlalchemy import event


@contextmanager
def count_queries(engine):
    """The SQL statements run inside the block (STYLE.md §7)."""
    statements = []

    def on_execute(conn, cursor, statement, params, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)


def wait_for(condition, timeout: float = 10.0, interval: float = 0.02):
    """Poll `condition` until it is truthy and return its value; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)
