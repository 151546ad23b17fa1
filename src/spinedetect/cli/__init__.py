"""The ``spinedetect`` command line: one command, one module per subcommand.

Each subcommand module exposes ``get_parser() -> argparse.ArgumentParser`` and
``main(argv: list[str] | None = None) -> int`` so tests call it in-process (Spinal Cord Toolbox style).
"""
