"""YAML configuration loaded into frozen, validated dataclasses.

Each step declares its settings as a frozen dataclass with defaults. :func:`load_config` reads a YAML
file (or a mapping) into that dataclass, recursing into nested dataclasses, and refuses unknown keys and
wrong types with a :class:`~spinedetect.errors.ConfigError` naming the key and the file. Configs hold
values only, never code.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

import yaml

from spinedetect.errors import ConfigError

__all__ = ["load_config", "config_from_mapping", "config_to_dict"]

T = TypeVar("T")


def load_config(cls: type[T], path: str | Path | None = None, *, section: str | None = None) -> T:
    """Load ``path`` (YAML) into the frozen dataclass ``cls``; no path gives ``cls()`` (the defaults).

    ``section``, when given, selects one top-level key of the file (e.g. ``"phantom"``).
    """
    if path is None:
        return cls()
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Configuration file {path} does not exist", expected="a YAML file",
                          found="no file at that path", hint="Check the path given to --config")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"Configuration file {path} is not valid YAML{where}",
                          hint="Fix the YAML syntax") from None
    if data is None:
        data = {}
    if section is not None:
        if not isinstance(data, dict) or section not in data:
            raise ConfigError(f"Configuration file {path} has no '{section}' section",
                              expected=f"a top-level key '{section}'",
                              found=f"keys {sorted(data) if isinstance(data, dict) else type(data).__name__}")
        data = data[section]
    return config_from_mapping(cls, data, source=str(path))


def config_from_mapping(cls: type[T], data: Any, *, source: str = "<mapping>", prefix: str = "") -> T:
    """Build the dataclass ``cls`` from a plain mapping, validating keys and types recursively."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    where = prefix.rstrip(".") or "top level"
    if not isinstance(data, dict):
        raise ConfigError(f"In {source}, '{where}' must be a mapping", expected="key: value pairs",
                          found=type(data).__name__)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"In {source}, unknown key '{prefix}{unknown[0]}'",
                          expected=f"one of {sorted(fields)}", found=repr(unknown[0]),
                          hint="Remove or correct the key")
    hints = get_type_hints(cls)
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = _convert(value, hints[name], source=source, key=f"{prefix}{name}")
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"In {source}, invalid value under '{where}': {exc}") from None


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return " or ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(tp))
    if origin is tuple:
        args = get_args(tp)
        inner = _type_name(args[0]) if args else "value"
        return f"a list of {inner}"
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return " or ".join(repr(m.value) for m in tp)
    return getattr(tp, "__name__", str(tp))


def _convert(value: Any, tp: Any, *, source: str, key: str) -> Any:
    def fail() -> typing.NoReturn:
        raise ConfigError(f"In {source}, key '{key}' has the wrong type", expected=_type_name(tp),
                          found=f"{value!r} ({type(value).__name__})")

    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, source=source, key=key)
            except ConfigError:
                continue
        fail()
    if origin is Literal:
        if value in get_args(tp):
            return value
        fail()
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            fail()
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0], source=source, key=f"{key}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            fail()
        return tuple(_convert(v, a, source=source, key=f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if dataclasses.is_dataclass(tp):
        return config_from_mapping(tp, value, source=source, prefix=f"{key}.")
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            fail()
    if tp is bool:
        if isinstance(value, bool):
            return value
        fail()
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        fail()
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        fail()
    if tp is str:
        if isinstance(value, str):
            return value
        fail()
    raise TypeError(f"config type {tp!r} for key '{key}' is not supported")


def config_to_dict(config: Any) -> Any:
    """Plain, YAML/JSON-serialisable form of a config dataclass (tuples become lists, enums values)."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return {f.name: config_to_dict(getattr(config, f.name)) for f in dataclasses.fields(config)}
    if isinstance(config, enum.Enum):
        return config.value
    if isinstance(config, (list, tuple)):
        return [config_to_dict(v) for v in config]
    return config
