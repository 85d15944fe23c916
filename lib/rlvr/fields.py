"""The field machinery of the lab's configs: documented fields, coercion, and checks on construction.

A config is a dataclass deriving from ``Config`` whose fields are made with ``setting``: each
has its help text and, where the set of values is closed, the registry that lists them.
Configs are checked on construction (``__post_init__``): every value is coerced to its
field's type (``"1e-4"`` for a float, ``"a,b"`` for a list) and then validated, so
``dataclasses.replace`` checks too. An unknown key or a bad value raises ``ValueError``
naming the key and what it accepts.

This module imports nothing of the lab's: the configs, and whatever checks part of one (the
translation to TRL's arguments), build on it without a loop.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import types
from collections.abc import Callable, Collection, Mapping
from dataclasses import field, fields
from typing import Any, Union, get_args, get_origin, get_type_hints

# A registry whose keys (or items) are the allowed values, or a function returning one where the
# registry lives in a module too heavy to import with the configs.
Choices = Collection | Callable[[], Collection]


def setting(default: Any = dataclasses.MISSING, help: str = "", *, factory: Callable | None = None,
            choices: Choices | None = None, affects_results: bool = True, only_for: str | None = None):
    """A documented config field. ``choices`` is the registry its values come from;
    ``affects_results=False`` marks how a run is executed, not what it computes (a finished
    run may be reused under a different value); ``only_for`` names the one algorithm that reads
    it (under another, its value changes nothing)."""
    metadata = {"help": help, "choices": choices, "affects_results": affects_results, "only_for": only_for}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


# ----------------------------------------------------------------------------- coercion


def _type_name(hint) -> str:
    if get_origin(hint) in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(hint) if a is not type(None))
    if get_origin(hint) is not None:
        return str(hint).replace("typing.", "")
    return getattr(hint, "__name__", str(hint))


def coerce(name: str, value, hint):
    """``value`` as a ``hint``, or ValueError naming ``name``."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in (a for a in args if a is not type(None)):
            try:
                return coerce(name, value, arg)
            except ValueError:
                continue
        raise ValueError(f"{name}: {value!r} is not a valid {_type_name(hint)}")
    if value is None:
        raise ValueError(f"{name}: may not be empty (None); give a {_type_name(hint)}")
    if origin is list:
        if isinstance(value, str):  # "a,b" from a command line or a widget
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{name}: {value!r} is not a list")
        return [coerce(f"{name}[{i}]", v, args[0]) for i, v in enumerate(value)]
    if origin is tuple:
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise ValueError(f"{name}: {value!r} is not a pair {_type_name(hint)}")
        return tuple(coerce(f"{name}[{i}]", v, a) for i, (v, a) in enumerate(zip(value, args)))
    if origin is dict or hint is dict:
        if not isinstance(value, Mapping):
            raise ValueError(f"{name}: {value!r} is not a mapping")
        return {str(k): v for k, v in value.items()}
    if hint is Any:
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            # YAML 1.1 reads `1e-4` (no dot) as a string; a number written that way is still meant.
            try:
                return float(value)
            except ValueError:
                pass
    elif hint is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
    raise ValueError(f"{name}: {value!r} is not a valid {_type_name(hint)}")


def _allowed(choices: Choices) -> Collection:
    return choices() if callable(choices) else choices


def _check_choice(name: str, value, choices: Choices) -> None:
    allowed = _allowed(choices)
    for item in value if isinstance(value, list) else [value]:
        if item is not None and item not in allowed:
            raise ValueError(f"{name}: {item!r} is not one of {', '.join(map(str, allowed))}")


class Config:
    """Shared by the config dataclasses: coercion and validation on construction,
    overrides from plain values, and field documentation."""

    def __post_init__(self):
        hints = _hints(type(self))
        problems = []
        for f in fields(self):
            try:
                value = coerce(f.name, getattr(self, f.name), hints[f.name])
                if f.metadata.get("choices"):
                    _check_choice(f.name, value, f.metadata["choices"])
                object.__setattr__(self, f.name, value)
            except ValueError as exc:
                problems.append(str(exc))
        if not problems:
            problems = self.problems()
        if problems:
            raise ValueError(f"invalid {type(self).__name__}:\n  " + "\n  ".join(problems))

    def problems(self) -> list[str]:
        """Checks across fields; each problem names its field(s)."""
        return []

    def _below(self, minimum: int, *names: str) -> list[str]:
        """A problem for each named field below ``minimum`` (None passes: a default applies)."""
        what = "must not be negative" if minimum == 0 else f"must be at least {minimum}"
        values = {name: getattr(self, name) for name in names}
        return [f"{name}: {what}, got {v}" for name, v in values.items() if v is not None and v < minimum]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def differences(self, stored: Mapping) -> dict[str, tuple]:
        """``{field: (stored value, this config's)}`` over the fields that affect results
        (``affects_results``, and ``only_for`` this config's algorithm where a field names one), compared
        as JSON; a field ``stored`` lacks is ``(MISSING, value)``."""
        wanted = json.loads(json.dumps(self.to_dict(), default=str))
        stored = self.renamed(stored)
        found = {f.name: (stored.get(f.name, dataclasses.MISSING), wanted[f.name]) for f in fields(self)
                 if f.metadata.get("affects_results", True)
                 and f.metadata.get("only_for") in (None, getattr(self, "algorithm", None))}
        return {name: pair for name, pair in found.items() if pair[0] != pair[1]}

    renamed_settings: Mapping[str, tuple[str, Mapping]] = {}  # earlier name -> (name now, {value then: value now})

    @classmethod
    def renamed(cls, stored: Mapping) -> dict:
        """``stored`` (a config written earlier) with settings renamed since under their names now."""
        stored = dict(stored)
        for old, (new, values) in cls.renamed_settings.items():
            if old in stored and new not in stored:
                value = stored.pop(old)
                stored[new] = values.get(value, value)
        return stored

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def check_keys(cls, values: Mapping, where: str = "") -> None:
        """Refuse keys that are not fields, naming them and the fields there are."""
        if unknown := sorted(set(values) - set(cls.field_names())):
            prefix = f"{where}: " if where else ""
            renamed = [f"{old} is now {cls.renamed_settings[old][0]} ("
                       + ", ".join(f"{a} -> {b}" for a, b in cls.renamed_settings[old][1].items()) + ")"
                       for old in unknown if old in cls.renamed_settings]
            raise ValueError(f"{prefix}unknown {cls.__name__} key(s) {', '.join(map(repr, unknown))}; "
                             + (f"{'; '.join(renamed)}; " if renamed else "")
                             + f"its fields: {', '.join(cls.field_names())}")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], where: str = ""):
        cls.check_keys(values, where)
        try:
            return cls(**values)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}" if where else str(exc)) from None

    @classmethod
    def help(cls) -> dict[str, str]:
        """``{field: help text}``, for command lines and widgets."""
        return {f.name: f.metadata.get("help", "") for f in fields(cls)}

    @classmethod
    def choices(cls, name: str) -> list | None:
        """The allowed values of field ``name`` (from its registry), or None where any value of its type goes."""
        found = {f.name: f for f in fields(cls)}[name].metadata.get("choices")
        return list(_allowed(found)) if found else None


@functools.cache
def _hints(cls) -> dict:
    return get_type_hints(cls)
