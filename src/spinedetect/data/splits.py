"""Train/validation/test splits by subject, stored as JSON under configs/splits/ for reproducibility.

File format: ``{"dataset": name, "groups": {subject: [case, ...]}, "train": [...], "validation": [...],
"test": [...]}`` where the three lists hold case ids.
"""

from __future__ import annotations

import json
from pathlib import Path

from spinedetect.errors import ConfigError

__all__ = ["SUBSETS", "load_split", "check_split"]

SUBSETS: tuple[str, ...] = ("train", "validation", "test")


def load_split(path: str | Path) -> dict:
    """Read and check a split file; raises ConfigError when it is missing or inconsistent."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Split file {path} does not exist", expected="a JSON split file",
                          found="no file", hint="See configs/splits/")
    try:
        split = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"Split file {path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    problems = check_split(split)
    if problems:
        raise ConfigError(f"Split file {path} is inconsistent: {problems[0]}",
                          hint=f"{len(problems)} problem(s) in all")
    return split


def check_split(split: dict) -> list[str]:
    """Problems of a split: a case in two subsets, or a subject group spread over subsets."""
    problems: list[str] = []
    where: dict[str, str] = {}
    for subset in SUBSETS:
        for case in split.get(subset, []):
            if case in where:
                problems.append(f"case {case} is in both {where[case]} and {subset}")
            where[case] = subset
    for group, members in split.get("groups", {}).items():
        sides = {where.get(m) for m in members}
        if len(sides) > 1:
            problems.append(f"group {group} ({', '.join(members)}) is split across {sorted(map(str, sides))}")
    return problems
