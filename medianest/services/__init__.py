"""Business logic, one module per domain. Services own writes and commits."""


class ServiceError(Exception):
    """A user-facing refusal: the message is safe to show."""

    def __init__(self, message: str, *, field: str | None = None, status: int = 422):
        super().__init__(message)
        self.message = message
        self.field = field
        self.status = status
