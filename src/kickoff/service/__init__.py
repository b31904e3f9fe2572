"""The onboarding service the API, the board and the reports share: rows, errors, actions."""

from kickoff.service.errors import (
    ConflictError,
    ErasedOnboardingError,
    NotFoundError,
    ServiceError,
    UnavailableError,
    UnprocessableError,
)
from kickoff.service.onboardings import OnboardingService, StartResult
from kickoff.service.rows import OnboardingRow, OpenTaskRow

__all__ = [
    "ConflictError",
    "ErasedOnboardingError",
    "NotFoundError",
    "OnboardingRow",
    "OnboardingService",
    "OpenTaskRow",
    "ServiceError",
    "StartResult",
    "UnavailableError",
    "UnprocessableError",
]
