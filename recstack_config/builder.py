"""From a mapping read out of a YAML file to a tree of frozen, typed dataclasses.

Every key must be a field of its dataclass (as the file spells it) and every value of
the field's type; the error names the dotted key and what the file should say instead.
Whether a value is allowed is each config's own validation.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .errors import ConfigError

T = TypeVar("T")


def as_written(name: str) -> str:
    """The spelling of files whose keys are the field names themselves."""
    return name


def snake_to_camel(name: str) -> str:
    """The spelling of files with camelCase keys: availability_zones -> availabilityZones."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@dataclass(frozen=True)
class DataclassBuilder:
    """Builds dataclasses from mappings whose keys `spell` field names.

    `removed` maps full dotted keys (prefix included) that older files may still set to
    what to do instead: such a key fails with that fix, since ignoring it would run
    something other than what the file asks for.
    """

    spell: Callable[[str], str] = as_written
    removed: Mapping[str, str] = field(default_factory=dict)

    def build(self, cls: type[T], raw: object, prefix: str = "") -> T:
        """`cls` from `raw`; `prefix` ("serving.", "recstack:kafka.") starts every key named
        in an error. Fields the mapping leaves out keep their defaults."""
        if not isinstance(raw, Mapping):
            name = prefix.removesuffix(".") or "config"
            raise ConfigError(f"{name} must be a mapping, got {raw!r}")
        names = {self.spell(f.name): f.name for f in dataclasses.fields(cls)}
        for key, value in raw.items():
            if f"{prefix}{key}" in self.removed:
                fix = self.removed[f"{prefix}{key}"]
                raise ConfigError(f"{prefix}{key} {value!r} was removed: {fix}")
            if key not in names:
                expected = ", ".join(sorted(names))
                raise ConfigError(f"unknown key {prefix}{key}; expected one of: {expected}")
        hints = typing.get_type_hints(cls)
        values = {
            names[key]: self.coerce(hints[names[key]], value, f"{prefix}{key}")
            for key, value in raw.items()
        }
        return cls(**values)

    def coerce(self, hint: Any, value: object, key: str) -> Any:
        """`value` as the type `hint`, or a ConfigError naming `key`."""
        if dataclasses.is_dataclass(hint):
            return self.build(hint, value, f"{key}.")
        if typing.get_origin(hint) is tuple:
            args = typing.get_args(hint)
            if len(args) != 2 or args[1] is not Ellipsis:
                raise TypeError(f"unsupported config type {hint} at {key}: use tuple[T, ...]")
            if not isinstance(value, list | tuple):
                raise ConfigError(f"{key} must be a list, got {value!r}")
            return tuple(self.coerce(args[0], v, f"{key}[{i}]") for i, v in enumerate(value))
        scalar = _SCALARS.get(hint)
        if scalar is None:
            raise TypeError(f"unsupported config type {hint} at {key}")
        return scalar(value, key)


def _path(value: object, key: str) -> Path:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{key} must be a path string, got {value!r}")
    return Path(value)


def _bool(value: object, key: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{key} must be true or false, got {value!r}")
    return value


def _int(value: object, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{key} must be an integer, got {value!r}")
    return value


def _float(value: object, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{key} must be a number, got {value!r}")
    return float(value)


def _str(value: object, key: str) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # YAML reads an unquoted 7.1 or 1042 as a number
    if not isinstance(value, str):
        raise ConfigError(f"{key} must be a string, got {value!r}")
    return value


_SCALARS: dict[Any, Callable[[object, str], Any]] = {
    Path: _path,
    bool: _bool,
    int: _int,
    float: _float,
    str: _str,
}
