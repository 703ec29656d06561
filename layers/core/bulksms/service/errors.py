"""Errors the API turns into a 4xx answer."""

from __future__ import annotations


class RequestError(Exception):
    """A client mistake or a request that conflicts with the job's state: nothing is written or queued."""

    def __init__(
        self, field: str | None, message: str, *, code: str = "invalid_request", status: int = 400
    ) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.code = code
        self.status = status


class NotFound(RequestError):
    def __init__(self, what: str) -> None:
        super().__init__(None, f"{what} not found", code="not_found", status=404)


class Unavailable(RequestError):
    """Not the client's mistake: the request was fine but could not be carried out (503)."""

    def __init__(self, message: str) -> None:
        super().__init__(None, message, code="unavailable", status=503)
