"""The lab's one error type (a component could not start or stop), shared by its modules."""

from raygate.errors import RaygateError


class LabError(RaygateError):
    """The lab could not start or stop a component."""
