"""Shared command-line plumbing: parser class, common options, logging, progress, error handling."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Callable, Iterable, Iterator, NoReturn, TypeVar

from spinedetect.errors import SpinedetectError

__all__ = ["CommandParser", "UsageError", "add_common_options", "configure_logging", "progress", "run_command"]

T = TypeVar("T")
log = logging.getLogger("spinedetect")


class UsageError(Exception):
    """Bad command-line arguments: exit status 2, one line on stderr."""


class CommandParser(argparse.ArgumentParser):
    """ArgumentParser that reports bad arguments as one line (no usage dump) and never calls sys.exit."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: error: {message} (see '{self.prog} --help')")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            sys.stderr.write(message)
        raise SystemExit(status)


def add_common_options(parser: argparse.ArgumentParser) -> None:
    """-v/--verbose (repeatable) and --no-progress, accepted by every subcommand."""
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output (-v info, -vv debug)")
    parser.add_argument("--no-progress", action="store_true", help="do not show progress bars")


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at emit time (pytest's capture swaps it between tests)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self):  # noqa: D401
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def configure_logging(verbosity: int) -> None:
    """Log to stderr at WARNING, INFO (-v) or DEBUG (-vv)."""
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    root = logging.getLogger("spinedetect")
    root.setLevel(level)
    if not any(getattr(h, "_spinedetect", False) for h in root.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handler._spinedetect = True  # type: ignore[attr-defined]
        root.addHandler(handler)


def progress(iterable: Iterable[T], *, enabled: bool, desc: str, total: int | None = None,
             unit: str = "it") -> Iterator[T]:
    """A tqdm progress bar on stderr when ``enabled``, else the iterable itself."""
    if not enabled:
        yield from iterable
        return
    from tqdm import tqdm

    yield from tqdm(iterable, desc=desc, total=total, unit=unit, file=sys.stderr, dynamic_ncols=True)


def run_command(parser: argparse.ArgumentParser, argv: list[str] | None,
                handler: Callable[[argparse.Namespace], int]) -> int:
    """Parse ``argv`` and run ``handler``; bad arguments or a SpinedetectError give exit 2 and one line."""
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help / --version
        return int(exc.code or 0)
    configure_logging(getattr(args, "verbose", 0))
    try:
        return int(handler(args))
    except SpinedetectError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return 130
