"""Style-transfer parameters: one dataclass with defaults, ranges and validation.

Every check raises :class:`~stylize.errors.FieldError` naming the offending field, so the CLI, the HTTP
handler and the web app can all tell the user exactly what to fix.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from types import UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints

from .errors import FieldError
from .fields import MAX_STYLES
from .style_losses import NAMES as STYLE_LOSSES
from .vgg import LAYER_NAMES, NETWORKS, layer_names

POOLING = ("max", "avg")
INITS = ("content", "noise", "style")
OPTIMIZERS = ("lbfgs", "adam")
__all__ = ["MAX_STYLES", "ParamError", "StyleParams", "markdown_table"]
ParamError = FieldError  # the older name, kept so callers (and branches in flight) need no change
AVERAGES = ("none", "ema")
SCHEDULES = ("restart", "warm")  # stylize.engine.plan: what each stage gets and carries over
PRECISIONS = ("auto", "fp32", "bf16")  # stylize.precision: auto = bf16 where the device computes it natively


def _num(lo: float, hi: float, help_text: str, **extra: Any) -> dict[str, Any]:
    return {"min": lo, "max": hi, "help": help_text, **extra}


_HELP = {  # the longer help texts
    "style_loss": "gram: Gatys' Gram matrices; w2: Wasserstein-2 between the features' Gaussians (means and covariances, cleaner strokes, costlier per iteration).",
    "average": "ema: show and return an exponential moving average of the iterates (removes the optimiser's pixel noise); none: the lowest-loss iterate.",
    "schedule": ("restart: equal iterations per stage, a fresh optimiser each; warm (crowsonkb's): the first stage two shares, "
                 "Adam (betas 0.9, 0.99) carrying its moments, resized, into the next stage; L-BFGS restarts either way."),
}


@dataclass(frozen=True)
class StyleParams:
    """All knobs of one style-transfer job. Construct, then call :meth:`validated`."""

    size: int = field(default=512, metadata=_num(16, 2048, "Longest side of the output in pixels; the content's aspect ratio is kept."))
    iterations: int = field(default=300, metadata=_num(1, 10000, "Optimisation iterations, summed over all multiscale stages."))
    content_weight: float = field(default=1.0, metadata=_num(0.0, 1e6, "Weight of the content loss."))
    style_weight: float = field(default=10.0, metadata=_num(0.0, 1e9, "Weight of the style loss (losses are scale-normalised, so this is a ratio to content)."))
    tv_weight: float = field(default=10.0, metadata=_num(0.0, 1e6, "Weight of the total-variation smoothness loss."))
    style_blend: tuple[float, ...] | None = field(default=None, metadata={"help": "Relative weight per style image (comma list, one per style, normalised to sum 1); default equal."})
    style_scale: float = field(default=1.0, metadata=_num(0.1, 4.0, "Size of the style images relative to the output size."))
    preserve_colors: bool = field(default=False, metadata={"help": "Transfer style to luminance only and keep the content's colours."})
    pooling: str = field(default="max", metadata={"choices": POOLING, "help": "VGG pooling: max or avg."})
    content_layers: tuple[str, ...] = field(default=("relu4_2",), metadata={"choices": LAYER_NAMES, "help": "VGG layers whose features define content."})
    style_layers: tuple[str, ...] = field(default=("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"), metadata={
        "choices": LAYER_NAMES, "help": "VGG layers whose feature statistics (see style_loss) define style."})
    style_layer_weights: tuple[float, ...] | None = field(default=None, metadata={"help": "Weight per style layer (comma list, same length as style_layers); default equal."})
    style_loss: str = field(default="gram", metadata={"choices": STYLE_LOSSES, "help": _HELP["style_loss"]})
    init: str = field(default="content", metadata={"choices": INITS, "help": "Starting image: content, noise or style."})
    optimizer: str = field(default="lbfgs", metadata={"choices": OPTIMIZERS, "help": "lbfgs or adam."})
    learning_rate: float = field(default=0.02, metadata=_num(1e-5, 1.0, "Adam step size (pixel units); ignored by L-BFGS.", exclusive_min=False))
    seed: int = field(default=0, metadata=_num(0, 2**31 - 1, "Random seed: same seed, inputs and device give the same pixels."))
    snapshot_every: int = field(default=20, metadata=_num(0, 10000, "Emit a snapshot every N iterations (0: only the final image)."))
    average: str = field(default="none", metadata={"choices": AVERAGES, "help": _HELP["average"]})
    average_decay: float = field(default=0.99, metadata=_num(0.0, 0.9999, "Decay of the ema average per iteration: ramps up as (1+t)/(10+t) to this, bias-corrected, restarted at each stage."))
    multiscale: bool = field(default=True, metadata={"help": "Optimise coarse-to-fine from ~128 px, growing about x1.41 per stage."})
    schedule: str = field(default="restart", metadata={"choices": SCHEDULES, "help": _HELP["schedule"]})
    time_budget_s: float | None = field(default=None, metadata=_num(0.001, 86400.0, "Stop after this many seconds and return the best image so far."))
    network: str | None = field(default=None, metadata={"choices": NETWORKS, "help": "VGG network for content and style: vgg19 or vgg16 (no relu3_4, relu4_4, relu5_4); default: the server's."})
    precision: str = field(default="auto", metadata={"choices": PRECISIONS, "help": "VGG arithmetic: bf16 (~2x faster where native; statistics stay fp32), fp32, or auto (bf16 where native)."})

    def validated(self, n_styles: int | None = None, maxima: Mapping[str, float] | None = None, network: str | None = None) -> StyleParams:
        """Return a copy with normalised values; raise ParamError for the first bad field. `maxima`
        narrows a field's range to a server's limit, so its one message names that limit.

        ``network`` is the one the weights at hand are: an empty ``network`` field becomes it, a different
        one is refused, and the layers are checked against its layer names."""
        for f in fields(self):
            value = getattr(self, f.name)
            meta = f.metadata
            if maxima and f.name in maxima:
                meta = {**meta, "max": min(meta["max"], maxima[f.name])}
            if value is None:
                if f.default is None:
                    continue
                raise ParamError(f.name, "must not be empty")
            kind = _kind(f.name)
            if kind is bool and not isinstance(value, bool):
                raise ParamError(f.name, "must be true or false")
            if kind in (int, float):
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise ParamError(f.name, f"must be a number, got {type(value).__name__}")
                if not math.isfinite(value):
                    raise ParamError(f.name, "must be finite")
                if kind is int and not float(value).is_integer():
                    raise ParamError(f.name, "must be a whole number")
                if not meta["min"] <= value <= meta["max"]:
                    raise ParamError(f.name, f"must be between {number_text(meta['min'])} and {number_text(meta['max'])}, "
                                             f"got {number_text(value)}")
            if kind is str and value not in meta["choices"]:
                raise ParamError(f.name, f"must be one of {', '.join(meta['choices'])}, got {value!r}")
        if network is not None and self.network is not None and self.network != network:
            raise ParamError("network", f"this server holds {network} weights only, got {self.network!r}")
        resolved = self.network or network
        self._check_layers("content_layers", resolved)
        self._check_layers("style_layers", resolved)
        blend = _check_weights("style_blend", self.style_blend)
        layer_weights = _check_weights("style_layer_weights", self.style_layer_weights)
        if layer_weights is not None and len(layer_weights) != len(self.style_layers):
            raise ParamError("style_layer_weights", f"needs {len(self.style_layers)} values (one per style layer), got {len(layer_weights)}")
        if n_styles is not None:
            if not 1 <= n_styles <= MAX_STYLES:
                raise ParamError("style", f"between 1 and {MAX_STYLES} style images are needed, got {n_styles}")
            if blend is not None and len(blend) != n_styles:
                raise ParamError("style_blend", f"needs {n_styles} values (one per style image), got {len(blend)}")
        return replace(self, size=int(self.size), iterations=int(self.iterations), seed=int(self.seed),
                       snapshot_every=int(self.snapshot_every), style_blend=blend, style_layer_weights=layer_weights,
                       network=resolved)

    def _check_layers(self, name: str, network: str | None) -> None:
        layers = getattr(self, name)
        if not isinstance(layers, tuple) or not layers:
            raise ParamError(name, "needs at least one layer")
        names = layer_names(network) if network else LAYER_NAMES
        for layer in layers:
            if layer not in LAYER_NAMES:
                raise ParamError(name, f"unknown layer {layer!r} (use names like relu4_2)")
            if layer not in names:
                raise ParamError(name, f"{network} has no layer {layer!r} (its block {layer[4]} ends at "
                                       f"{[n for n in names if n.startswith('relu' + layer[4])][-1]})")
        if len(set(layers)) != len(layers):
            raise ParamError(name, "lists a layer twice")

    def normalised_blend(self, n_styles: int) -> list[float]:
        blend = self.style_blend or (1.0,) * n_styles
        total = sum(blend)
        return [w / total for w in blend]

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (tuples as lists)."""
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v) for f in fields(self)}

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], maxima: Mapping[str, float] | None = None) -> StyleParams:
        """Build from loosely typed values (form fields are strings, JSON gives numbers/lists).

        Unknown names are an error: nothing a user sent is silently dropped. `maxima`: see validated().
        """
        known = {f.name for f in fields(cls)}
        parsed: dict[str, Any] = {}
        for name, raw in values.items():
            if name not in known:
                raise ParamError(name, "unknown parameter")
            parsed[name] = _parse(name, raw)
        return cls(**parsed).validated(maxima=maxima)

    @classmethod
    def schema(cls) -> dict[str, dict[str, Any]]:
        """Defaults, ranges, choices and help per field: for docs, the web app and tests."""
        out = {}
        for f in fields(cls):
            entry = {k: (list(v) if isinstance(v, tuple) else v) for k, v in f.metadata.items()}
            default = f.default
            entry["default"] = list(default) if isinstance(default, tuple) else default
            entry["type"] = _kind(f.name).__name__
            out[f.name] = entry
        return out


def _base_kind(annotation: Any) -> type:
    """``int`` -> int, ``float | None`` -> float, ``tuple[str, ...] | None`` -> tuple."""
    union = get_origin(annotation) in (Union, UnionType)
    options = [a for a in (get_args(annotation) if union else (annotation,)) if a is not type(None)]
    kind = get_origin(options[0]) or options[0]
    if len(options) != 1 or kind not in (int, float, bool, str, tuple):
        raise TypeError(f"StyleParams field type {annotation!r} is not one of int, float, bool, str, tuple (optionally | None)")
    return kind


# Each field's kind, read from the dataclass annotations (a new field needs no entry here).
_KINDS: dict[str, type] = {name: _base_kind(hint) for name, hint in get_type_hints(StyleParams).items()}


def _kind(name: str) -> type:
    return _KINDS[name]


# The words a form or CLI value may use for a boolean (serving.request reads its switches the same way).
TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "off"})


def _parse(name: str, raw: Any) -> Any:
    kind = _kind(name)
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ParamError(name, "is not UTF-8 text") from None
    if isinstance(raw, str):
        raw = raw.strip()
        if raw == "" and name in ("style_blend", "style_layer_weights", "time_budget_s", "network"):
            return None
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in TRUE_WORDS | FALSE_WORDS:
            return raw.lower() in TRUE_WORDS
        raise ParamError(name, "must be true or false")
    if kind in (int, float):
        if isinstance(raw, str):
            try:
                raw = float(raw) if kind is float or any(c in raw for c in ".eE") or raw.lower() in ("nan", "inf", "-inf", "infinity", "-infinity") else int(raw)
            except ValueError:
                raise ParamError(name, f"must be a number, got {raw[:40]!r}") from None
        if kind is int and isinstance(raw, float) and math.isfinite(raw) and raw.is_integer():
            raw = int(raw)
        return raw
    if kind is str:
        if not isinstance(raw, str):
            raise ParamError(name, "must be text")
        return raw.lower()
    # tuple kinds: comma-separated text or a JSON list
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, (list, tuple)):
        raise ParamError(name, "must be a comma-separated list")
    if name.endswith("layers"):
        return tuple(str(i).strip() for i in items)
    out = []
    for item in items:
        try:
            out.append(float(item))
        except (TypeError, ValueError):
            raise ParamError(name, f"must be a comma-separated list of numbers, got {str(item)[:40]!r}") from None
    return tuple(out)


def number_text(value: float) -> str:
    """A limit as people write it: 2147483647 (not 2.14748e+09), 1e9, 86400, 0.001."""
    if float(value).is_integer() and abs(value) < 1e16:
        digits = str(int(value))
        # Round powers of ten of a million and up read better as 1e6, 1e9.
        return f"1e{len(digits) - 1}" if value >= 1e6 and digits.rstrip("0") == "1" else digits
    return f"{value:g}"


def _check_weights(name: str, values: tuple[float, ...] | None) -> tuple[float, ...] | None:
    if values is None:
        return None
    if not isinstance(values, tuple) or not values:
        raise ParamError(name, "must be a non-empty list of numbers")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ParamError(name, "every value must be a finite number")
        if v < 0 or v > 1e6:
            raise ParamError(name, "every value must be between 0 and 1e6")
    if sum(values) <= 0:
        raise ParamError(name, "at least one value must be positive")
    return tuple(float(v) for v in values)


def markdown_table() -> str:
    """The parameter table of docs/api.md (`make docs`), generated so docs and code cannot drift apart."""
    rows = ["| parameter | default | range / choices | meaning |", "|---|---|---|---|"]
    for name, spec in StyleParams.schema().items():
        default = spec["default"]
        shown = "equal" if default is None and name in ("style_blend", "style_layer_weights") else "the server's" if name == "network" else (
            "none" if default is None else ",".join(map(str, default)) if isinstance(default, list) else str(default).lower())
        if "min" in spec:
            fmt = "d" if spec["type"] == "int" else "g"
            allowed = f"{spec['min']:{fmt}} – {spec['max']:{fmt}}"
        elif name.endswith("layers"):
            allowed = "VGG layer names (conv1_1 … relu5_4; VGG16 ends each of blocks 3-5 at _3)"
        elif "choices" in spec:
            allowed = " \\| ".join(spec["choices"])
        elif spec["type"] == "bool":
            allowed = "true \\| false"
        else:
            allowed = "comma list of numbers ≥ 0"
        rows.append(f"| `{name}` | {shown} | {allowed} | {spec['help']} |")
    return "\n".join(rows)
