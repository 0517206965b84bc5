"""Turns the rules' refusals into Temporal failures the caller can tell apart by type."""

from temporalio.exceptions import ApplicationError

from domain.errors import DomainError


def as_application_error(error: DomainError) -> ApplicationError:
    """An update failure whose ``type`` is the domain error's code and whose details say why."""
    return ApplicationError(error.message, error.details, type=error.code, non_retryable=True)
