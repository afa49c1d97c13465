"""One error hierarchy for the whole tool.

Every failure the user can cause (bad input, bad spec, unreachable cluster) is a
``RaygateError`` with a message meant for humans; the CLI prints it without a traceback and
exits with the error's ``exit_code``. Third-party exceptions are wrapped here, never leaked.
"""

from __future__ import annotations

#: Exit codes shared by every command (documented in the README and ``--help``).
EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2


class RaygateError(Exception):
    """Base class: a failure with a message a user can act on."""

    exit_code = EXIT_USAGE


class InputError(RaygateError):
    """An input file or stream could not be read or parsed.

    ``file`` and ``line`` locate the problem; ``obj`` names the object when one is known.
    """

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 obj: str | None = None) -> None:
        self.file = file
        self.line = line
        self.obj = obj
        self.detail = message
        super().__init__(self.render())

    def render(self) -> str:
        where = self.file or "<input>"
        if self.line:
            where += f":{self.line}"
        subject = f" ({self.obj})" if self.obj else ""
        return f"{where}{subject}: {self.detail}"


class ConfigError(RaygateError):
    """A ``.raygate.yaml`` project configuration is invalid."""


class SpecError(RaygateError):
    """A gateway spec (``raygate.yaml``) is invalid or refused as unsafe."""


class RenderError(RaygateError):
    """A renderer cannot produce safe manifests for a valid spec."""


class ClusterError(RaygateError):
    """Talking to a Kubernetes API server failed."""


class ProbeError(RaygateError):
    """A probe could not run at all (not the same as a probe that ran and failed)."""
