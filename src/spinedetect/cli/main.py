"""Entry point of the ``spinedetect`` command: dispatches to one module per subcommand."""

from __future__ import annotations

import importlib
import sys

from spinedetect import __version__

__all__ = ["COMMANDS", "main"]

#: subcommand name -> (module, one-line help). Modules are imported only when their command runs.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("spinedetect.cli.demo", "the main job on built-in defaults: phantom DICOM studies through inference to a review page"),
    "phantom": ("spinedetect.cli.phantom", "generate spine phantoms with exact truth (NIfTI/DICOM)"),
    "convert": ("spinedetect.cli.convert", "convert a DICOM series, NIfTI or MHA to NIfTI with its true affine"),
    "train": ("spinedetect.cli.train", "train a segmentation model from a YAML config"),
    "infer": ("spinedetect.cli.infer", "batch inference over DICOM studies: labels, report, SEG/SR, review page"),
    "measure": ("spinedetect.cli.measure", "canal compromise, Bilsky, Genant, SINS and the alert from a label map"),
    "evaluate": ("spinedetect.cli.evaluate", "score predictions against truth: Dice, HD95, detection, alert"),
}


def _usage() -> str:
    width = max((len(n) for n in COMMANDS), default=0)
    lines = [
        "usage: spinedetect [--version] COMMAND [options]",
        "",
        "Spinal metastasis and canal-compromise detection on spine MRI and CT.",
        "",
        "commands:",
        *(f"  {name:<{width}}  {help_}" for name, (_, help_) in COMMANDS.items()),
        "",
        "Run 'spinedetect COMMAND --help' for the options of a command.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run ``spinedetect`` with ``argv`` (default: sys.argv[1:]); returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage(), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    if argv[0] == "--version":
        print(f"spinedetect {__version__}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"spinedetect: error: unknown command '{name}'; expected one of {', '.join(COMMANDS)} "
              "(see 'spinedetect --help')", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    return int(module.main(rest))


if __name__ == "__main__":
    sys.exit(main())
