"""Domain errors: each carries a message fit to show a staff member (Vietnamese) and a reason."""


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""


class InvalidInput(DomainError, ValueError):
    """A value typed by a person or caller does not have the expected form. `field` names the
    value at fault when one does (the API lists it in its answer)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ForbiddenTransition(DomainError):
    """The lifecycle table does not allow this change of status."""


class OverrideRequired(DomainError):
    """Allowed only with a supervisor's override and a written reason."""


class ConcurrentEdit(DomainError):
    """Someone else changed this dossier since it was loaded."""
