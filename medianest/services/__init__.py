"""Business logic, one module per domain. Services own writes and commits."""
import uuid


class ServiceError(Exception):
    """A user-facing refusal: the message is safe to show."""

    def __init__(self, message: str, *, field: str | None = None, status: int = 422):
        super().__init__(message)
        self.message = message
        self.field = field
        self.status = status


def as_uuid(value) -> uuid.UUID | None:
    """A row id from a UUID or its text (task arguments and URLs carry text); None when it is not one."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None
