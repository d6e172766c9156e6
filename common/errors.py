"""Domain errors: what a business rule refuses, in its own words; api/errors.py gives each its HTTP answer."""

from __future__ import annotations


class DomainError(Exception):
    """A refusal naming its reason (`code`), a message, and the offending fields if any."""

    code = "error"

    def __init__(self, message: str, fields: dict[str, str] | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        if code is not None:
            self.code = code


class Invalid(DomainError):
    """One or more fields break a rule; each is named with its problem."""

    code = "invalid_request"

    def __init__(self, fields: dict[str, str], code: str | None = None):
        message = "; ".join(f"{name}: {problem}" for name, problem in fields.items())
        super().__init__(message, fields, code)

    def within(self, prefix: str) -> Invalid:
        """The same error with its fields named inside `prefix` ("to" -> "notification.to")."""
        if not self.fields:
            return self
        fields = {(prefix if name == "body" else f"{prefix}.{name}"): problem
                  for name, problem in self.fields.items()}
        return type(self)(fields, self.code)


class TooLarge(Invalid):
    """A field is larger than its limit."""

    code = "content_too_large"


class NotFound(DomainError):
    """No such thing, or none the caller may see."""

    code = "not_found"


class Conflict(DomainError):
    """The thing exists, but its state refuses the request."""

    code = "conflict"


class Forbidden(DomainError):
    """The caller is known, but the thing is not theirs (an item in another recipient's inbox)."""

    code = "forbidden"
