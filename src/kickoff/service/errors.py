"""What the service answers when it cannot do what was asked; the API maps each to a status."""

from __future__ import annotations

from datetime import datetime


class ServiceError(Exception):
    """A refusal or failure with a reason a caller can act on (never personal data)."""


class NotFoundError(ServiceError):
    """No such onboarding, task, event or item: 404."""


class ConflictError(ServiceError):
    """Not possible in the onboarding's current stage or status: 409."""


class ErasedOnboardingError(ConflictError):
    """The onboarding's personal data was erased (GDPR art. 17): its runs can no longer be read
    or acted on, and no contract starts it again: 409."""

    def __init__(self, onboarding_id: str, erased_at: datetime, message: str | None = None) -> None:
        super().__init__(
            message
            or f"personal data erased: onboarding {onboarding_id}'s personal data was erased at "
            f"{erased_at.isoformat()}, so it can no longer be read or changed"
        )
        self.onboarding_id = onboarding_id
        self.erased_at = erased_at

    @classmethod
    def for_contract(cls, contract_id: str, onboarding_id: str, erased_at: datetime) -> ErasedOnboardingError:
        """A contract re-sent for an erased onboarding: it is never started again."""
        return cls(
            onboarding_id,
            erased_at,
            f"personal data erased: contract {contract_id} belongs to onboarding {onboarding_id}, whose "
            f"personal data was erased at {erased_at.isoformat()}; it is not started again",
        )


class UnprocessableError(ServiceError):
    """The request's own content is wrong: 422."""


class UnavailableError(ServiceError):
    """Temporal or the workers did not answer in time: 503, try again."""
