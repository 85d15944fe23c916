"""A notebook's parameters: what papermill injects, layered and checked before anything runs.

Parameters come in layers (a params file, a sweep's ``fixed`` values, its grid values, ``--set``),
each applied on top of the notebook's own defaults. A key ``train.<field>`` or ``eval.<field>``
sets one field of the notebook's ``train`` or ``eval`` dict (a ``TrainConfig`` / ``EvalConfig``
override) and keeps the others; dict parameters given whole merge key by key. Papermill would
inject an unknown name silently, so every name and type is checked against the notebook's
``parameters`` cell, and ``train``/``eval`` against the config dataclasses on top of the preset.
"""

from __future__ import annotations

import ast
from pathlib import Path

import yaml

from .config import merge, nest, preset_configs

# Notebook parameters that are config overrides: checked against the dataclasses on top of the preset.
CONFIG_PARAMETERS = ("train", "eval")


def declared_parameters(notebook: str | Path) -> dict:
    """The notebook's ``parameters`` cell as papermill reads it: {name: {"default": source, ...}}."""
    import papermill  # noqa: PLC0415 - a second to import: `rlvr train` and `rlvr --help` start without it

    return papermill.inspect_notebook(str(notebook))


def mapping(value, what: str) -> dict:
    """``value`` as a dict (None: empty); anything else is refused, naming ``what``."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be a mapping, got {type(value).__name__}")
    return value


def read_yaml(path: Path, what: str) -> dict:
    """A YAML file holding a mapping (a sweep file, a params file)."""
    try:
        return mapping(yaml.safe_load(path.read_text()), f"{what} {path}")
    except yaml.YAMLError as exc:  # report it like every other malformed file
        raise ValueError(f"{what} {path} is not valid YAML: {exc}") from None


def _default(parameter: dict):
    try:
        return ast.literal_eval(parameter.get("default", "None"))
    except (ValueError, SyntaxError):
        return None  # an expression papermill cannot evaluate statically: no type to check against


def layered(declared: dict, layers: list[dict]) -> dict:
    """The parameters papermill injects: each layer (dotted keys allowed) on top of the
    last; a dict parameter merges into the notebook's default dict rather than replacing it."""
    parameters: dict = {}
    for layer in layers:
        for key, value in nest(layer).items():
            default = _default(declared[key]) if key in declared else None
            if isinstance(value, dict) and isinstance(parameters.get(key, default), dict):
                value = merge(parameters.get(key, default), value)
            parameters[key] = value
    return parameters


def check_configs(declared: dict, parameters: dict, where: str) -> None:
    """A notebook's ``train`` and ``eval`` parameters as configs on top of its preset:
    unknown fields and bad values are refused, naming the field and what it accepts."""
    if not any(name in declared for name in CONFIG_PARAMETERS):
        return
    effective = {name: _default(declared[name]) for name in ("preset", *CONFIG_PARAMETERS) if name in declared}
    effective.update({k: v for k, v in parameters.items() if k in effective})
    preset_configs(effective.get("preset") or "cpu", effective.get("train") or {}, effective.get("eval") or {}, where)


def check_parameters(declared: dict, values: dict, where: str, notebook) -> None:
    """Every name must be a parameter of the notebook (papermill would inject an
    unknown one silently), and every value of its default's type (ints pass for
    floats; any value passes where the default is None)."""
    if bad := sorted(set(values) - set(declared)):
        raise ValueError(
            f"{where}: key(s) {', '.join(map(repr, bad))} are not parameters of {notebook}"
            f" (its parameters: {', '.join(declared)})"
        )
    for key, value in values.items():
        if value is None:
            continue
        default = _default(declared[key])
        if default is None:
            continue
        wanted = type(default)
        ok = isinstance(value, wanted) and not (wanted is not bool and isinstance(value, bool))
        ok = ok or (wanted is float and isinstance(value, int) and not isinstance(value, bool))
        if not ok:
            raise ValueError(
                f"{where}: {key}: {value!r} is not of type {wanted.__name__} (the notebook's default is {default!r})"
            )
