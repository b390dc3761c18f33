"""How parameters are written as text, for every edge that reads or writes them: the engine's parameter
checks (numbers in messages, the words for true and false), the HTTP request parser, and the command-line
options of both the engine's CLI (``python -m stylize``) and the client.

Standard library only, in a package of its own: the client installs alone (``pip install ./client``) and
must not import the engine, and the engine must not import the client. The engine's CLI passes its live
``StyleParams.schema()`` where the client passes the schema file shipped with it.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

# The words a form field or option value may use for a boolean.
TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "off"})

# What an unset optional parameter means, where its help does not say it ("default equal").
NOT_SET = {"time_budget_s": "no limit"}


def style_side(side: int, style_scale: float) -> int:
    """The longest side a style image is read at beside an output of ``side`` px: the engine's rule, which the
    server's upload checks and the client's downscaling follow."""
    return max(16, round(side * style_scale))


def number_text(value: float) -> str:
    """A limit as people write it: 2147483647 (not 2.14748e+09), 1e9, 86400, 0.001."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value).lower() if isinstance(value, bool) else str(value)
    if float(value).is_integer() and abs(value) < 1e16:
        digits = str(int(value))
        return f"1e{len(digits) - 1}" if value >= 1e6 and digits.rstrip("0") == "1" else digits
    return f"{value:g}"


def add_param_options(parser: argparse.ArgumentParser, params: dict[str, dict[str, Any]]) -> None:
    """One --option per parameter (values are parsed and validated where they are used: the
    engine's StyleParams.from_mapping, or the server)."""
    for name, spec in params.items():
        flag = "--" + name.replace("_", "-")
        rng = f" [{number_text(spec['min'])}..{number_text(spec['max'])}]" if "min" in spec else ""
        choices = f" ({', '.join(spec['choices'])})" if "choices" in spec and not name.endswith("_layers") else ""
        default = spec["default"]
        # not set: the help says what that means ("default equal"), or NOT_SET does; never "(default: None)"
        value = NOT_SET.get(name) if default is None else ",".join(map(str, default)) if isinstance(default, list) else number_text(default)
        shown = f" (default: {value})" if value is not None else ""
        if spec["type"] == "bool":
            parser.add_argument(flag, dest=name, default=None, action=argparse.BooleanOptionalAction, help=f"{spec['help']}{shown}")
        else:
            parser.add_argument(flag, dest=name, default=None, metavar=name.upper(), help=f"{spec['help']}{rng}{choices}{shown}")


def collect_params(args: argparse.Namespace, params: dict[str, dict[str, Any]]) -> dict[str, object]:
    """The parameters given on the command line (the others keep their defaults)."""
    return {name: getattr(args, name) for name in params if getattr(args, name, None) is not None}


class OptionError(ValueError):
    """A path option that cannot work; str() is ``"<option>: <what is wrong>"`` like the engine's FieldError."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"{option}: {message}")
        self.field = option
        self.message = message


def check_writable(path: Path, option: str) -> None:
    """Refuse an output file that could not be written, before any work starts."""
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise OptionError(option, f"{path} is a directory; give a file name")
    if not parent.is_dir():
        raise OptionError(option, f"cannot write {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise OptionError(option, f"cannot write {path}: permission denied")


def prepare_dir(path: Path, option: str) -> None:
    """Create a snapshots directory up front, so a bad path fails before the job, not after it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OptionError(option, f"cannot create {path} ({exc.strerror})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise OptionError(option, f"cannot write into {path}: permission denied")
