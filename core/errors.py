class DomainError(Exception):
    """A request the business rules refuse. The API turns it into a 4xx naming ``field``."""

    status_code = 400

    def __init__(self, message: str, *, field: str = "non_field_errors"):
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class Gone(DomainError):
    """Was there, but no longer usable (an expired code)."""

    status_code = 410
