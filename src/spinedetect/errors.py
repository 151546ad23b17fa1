"""Exceptions raised for bad input, bad configuration and refused work.

Every message says what was expected, what was found and what to do, in one line, so the CLI can
print it as is (exit status 2) and a batch can record it against the study that caused it.
"""

from __future__ import annotations

__all__ = ["SpinedetectError", "InputError", "ConfigError", "OutputError"]


class SpinedetectError(Exception):
    """Base class of the errors spinedetect raises on purpose (never a bug)."""

    def __init__(self, message: str, *, expected: str | None = None, found: str | None = None,
                 hint: str | None = None) -> None:
        parts = [message.rstrip(".")]
        if expected is not None:
            parts.append(f"expected {expected}")
        if found is not None:
            parts.append(f"found {found}")
        text = "; ".join(parts) + "."
        if hint:
            text += f" {hint.rstrip('.')}."
        super().__init__(text)
        self.expected = expected
        self.found = found
        self.hint = hint

    def __reduce__(self) -> tuple:
        # pickled whole (a study's error comes back from the batch's side process as it was raised there)
        return (_rebuild, (type(self), self.args, self.expected, self.found, self.hint))


def _rebuild(cls: type[SpinedetectError], args: tuple, expected: str | None, found: str | None,
             hint: str | None) -> SpinedetectError:
    err = cls.__new__(cls)
    Exception.__init__(err, *args)
    err.expected, err.found, err.hint = expected, found, hint
    return err


class InputError(SpinedetectError):
    """An input file, folder or array cannot be used as given."""


class ConfigError(SpinedetectError):
    """A configuration file or value is invalid (unknown key, wrong type, out of range)."""


class OutputError(SpinedetectError):
    """Outputs cannot be written (disk full, read-only or unwritable folder): the run stops, nothing half-written."""
