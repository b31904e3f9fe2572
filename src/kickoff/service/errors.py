"""What the service answers when it cannot do what was asked; the API maps each to a status."""

from __future__ import annotations


class ServiceError(Exception):
    """A refusal or failure with a reason a caller can act on (never personal data)."""


class NotFoundError(ServiceError):
    """No such onboarding, task, event or item: 404."""


class ConflictError(ServiceError):
    """Not possible in the onboarding's current stage or status: 409."""


class UnprocessableError(ServiceError):
    """The request's own content is wrong: 422."""


class UnavailableError(ServiceError):
    """Temporal or the workers did not answer in time: 503, try again."""
