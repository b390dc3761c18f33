"""Style-transfer parameters: one frozen dataclass with defaults, ranges and validation.

The core fields are declared here; each style method (:mod:`stylize.methods`) declares its own, which
join :class:`StyleParams` at import. Every check raises :class:`~stylize.errors.FieldError` naming the
offending field, so the CLI, the HTTP API and the web app can all tell the user exactly what to fix.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, make_dataclass, replace
from types import UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints

from stylize_options import FALSE_WORDS, TRUE_WORDS, number_text

from . import backbones, methods
from .errors import FieldError
from .fields import MAX_STYLES
from .param_field import applies, param, when_text

POOLING = ("max", "avg")
INITS = ("content", "noise", "style")
OPTIMIZERS = ("lbfgs", "adam")
AVERAGES = ("none", "ema")
SCHEDULES = ("restart", "warm")  # stylize.planning: what each stage gets and carries over
PRECISIONS = ("auto", "fp32", "bf16")  # stylize.precision: auto = bf16 where the device computes it natively
IMAGE_PARAMS = ("pixels", "pyramid")  # what the optimiser updates (stylize.pyramid)
COLOUR_MATCHES = ("none", "ab", "lab")  # stylize.colour: which OkLab channels move to the paintings' palette
COLOUR_TRANSFORMS = ("zca", "ot")
LAYER_NAMES = backbones.all_layer_names()
__all__ = ["MAX_STYLES", "StyleParams", "markdown_table", "number_text"]

_HELP = {  # the longer help texts
    "style_loss": "The style method. " + "; ".join(f"{name}: {methods.get(name).summary}" for name in methods.NAMES) + ".",
    "average": "ema: show and return an exponential moving average of the iterates (removes the optimiser's pixel noise); none: the lowest-loss iterate.",
    "image_param": ("What the optimiser updates: pixels, or a Laplacian pyramid of the picture (coarse shapes and colour fields "
                    "move as one; Adam's step is learning_rate / levels per level, so a smooth region moves at most "
                    "learning_rate a step; schedule=warm carries nothing into a pyramid)."),
    "colour_match": ("Move the result's colours to the paintings' palette (OkLab mean and covariance, each region to its own "
                     "style's): ab keeps the result's lightness, lab matches it too; none keeps them. Not with preserve_colors."),
    "schedule": ("restart: equal iterations per stage, a fresh optimiser each; warm (crowsonkb's): the first stage two shares, "
                 "Adam (betas 0.9, 0.99) carrying its moments, resized, into the next stage; L-BFGS restarts either way."),
}


@dataclass(frozen=True)
class CoreParams:
    """The knobs every job has; :class:`StyleParams` adds the style methods' own."""

    size: int = param(512, "Longest side of the output in pixels; the content's aspect ratio is kept. Above a per-device pixel count "
                                "stages are optimised tile by tile (docs/engine.md).", min=16, max=4096)
    iterations: int = param(300, "Optimisation iterations, summed over all multiscale stages.", min=1, max=10000)
    content_weight: float = param(1.0, "Weight of the content loss.", min=0.0, max=1e6)
    style_weight: float = param(10.0, "Weight of the style loss (losses are scale-normalised, so this is a ratio to content).", min=0.0, max=1e9)
    tv_weight: float = param(10.0, "Weight of the total-variation smoothness loss.", min=0.0, max=1e6)
    style_blend: tuple[float, ...] | None = param(None, "Relative weight per style image (comma list, one per style, normalised to sum 1); default equal.")
    style_scale: float = param(1.0, "Size of the style images relative to the output size.", min=0.1, max=4.0)
    preserve_colors: bool = param(False, "Transfer style to luminance only and keep the content's colours.")
    pooling: str = param("max", "VGG pooling: max or avg.", choices=POOLING)
    content_layers: tuple[str, ...] = param(("relu4_2",), "VGG layers whose features define content.", choices=LAYER_NAMES)
    style_layers: tuple[str, ...] = param(("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"),
                                          "VGG layers whose features (see style_loss) define style.", choices=LAYER_NAMES,
                                          when={"style_loss": methods.STYLE_LAYER_READERS})
    style_layer_weights: tuple[float, ...] | None = param(None, "Weight per style layer (comma list, same length as style_layers); default equal.",
                                                          when={"style_loss": methods.STYLE_LAYER_READERS})
    style_loss: str = param(methods.DEFAULT, _HELP["style_loss"], choices=methods.NAMES)
    init: str = param("content", "Starting image: content, noise or style.", choices=INITS)
    optimizer: str = param("lbfgs", "lbfgs or adam.", choices=OPTIMIZERS)
    learning_rate: float = param(0.02, "Adam step size (pixel units); ignored by L-BFGS.", min=1e-5, max=1.0, exclusive_min=False)
    seed: int = param(0, "Random seed: same seed, inputs and device give the same pixels.", min=0, max=2**31 - 1)
    snapshot_every: int = param(20, "Emit a snapshot every N iterations (0: only the final image).", min=0, max=10000)
    average: str = param("none", _HELP["average"], choices=AVERAGES)
    average_decay: float = param(0.99, "Decay of the ema average per iteration: ramps up as (1+t)/(10+t) to this, bias-corrected, "
                                       "restarted at each stage.", min=0.0, max=0.9999)
    multiscale: bool = param(True, "Optimise coarse-to-fine from ~128 px, growing about x1.41 per stage.")
    schedule: str = param("restart", _HELP["schedule"], choices=SCHEDULES)
    time_budget_s: float | None = param(None, "Stop after this many seconds and return the best image so far.", min=0.001, max=86400.0)
    network: str | None = param(None, "VGG network for content and style: " + ", ".join(backbones.NAMES) + "; default: the server's.",
                                choices=backbones.NAMES)
    image_param: str = param("pixels", _HELP["image_param"], choices=IMAGE_PARAMS)
    pyramid_levels: int = param(6, "Levels of the image pyramid (capped where the coarsest would be under 4 px).", min=2, max=10,
                                when={"image_param": "pyramid"})
    colour_match: str = param("none", _HELP["colour_match"], choices=COLOUR_MATCHES)
    colour_transform: str = param("zca", "The colour_match map: zca (whiten, then colour: NNST's) or ot (the map that moves "
                                         "colours least).", choices=COLOUR_TRANSFORMS)
    precision: str = param("auto", "VGG arithmetic: bf16 (~2x faster where native; statistics stay fp32), fp32, or auto (bf16 where native).",
                           choices=PRECISIONS)

    def validated(self, n_styles: int | None = None, maxima: Mapping[str, float] | None = None, network: str | None = None) -> StyleParams:
        """Return a copy with normalised values; raise FieldError for the first bad field. `maxima`
        narrows a field's range to a server's limit, so its one message names that limit.

        ``network`` is the one the weights at hand are: an empty ``network`` field becomes it, a different
        one is refused, and the layers are checked against its layers."""
        for f in fields(self):
            _check_field(f.name, getattr(self, f.name), f.default, _narrowed(f.metadata, f.name, maxima))
        if network is not None and self.network is not None and self.network != network:
            raise FieldError("network", f"this server holds {network} weights only, got {self.network!r}")
        resolved = self.network or network
        backbone = backbones.get(resolved)
        self._check_layers("content_layers", backbone)
        self._check_layers("style_layers", backbone)
        blend = _check_weights("style_blend", self.style_blend)
        layer_weights = _check_weights("style_layer_weights", self.style_layer_weights)
        if layer_weights is not None and len(layer_weights) != len(self.style_layers):
            raise FieldError("style_layer_weights", f"needs {len(self.style_layers)} values (one per style layer), got {len(layer_weights)}")
        if n_styles is not None:
            if not 1 <= n_styles <= MAX_STYLES:
                raise FieldError("style", f"between 1 and {MAX_STYLES} style images are needed, got {n_styles}")
            if blend is not None and len(blend) != n_styles:
                raise FieldError("style_blend", f"needs {n_styles} values (one per style image), got {len(blend)}")
        for f in fields(self):  # a setting the job's other choices make meaningless is refused, not ignored
            when = f.metadata.get("when")
            if not applies(when, self) and getattr(self, f.name) != f.default:
                now = ", ".join(f"{k}={getattr(self, k)}" for k in when)
                raise FieldError(f.name, f"applies only with {when_text(when)}; this job has {now} (leave {f.name} out)")
        if self.colour_match != "none" and self.preserve_colors:
            raise FieldError("colour_match", "moves the colours to the paintings' palette, preserve_colors keeps the photo's: choose one")
        methods.get(self.style_loss).check(self, backbone)
        return replace(self, size=int(self.size), iterations=int(self.iterations), seed=int(self.seed),  # type: ignore[return-value]
                       snapshot_every=int(self.snapshot_every), style_blend=blend, style_layer_weights=layer_weights,
                       network=resolved)

    def _check_layers(self, name: str, backbone: backbones.Backbone) -> None:
        layers = getattr(self, name)
        if not isinstance(layers, tuple) or not layers:
            raise FieldError(name, "needs at least one layer")
        for layer in layers:
            if layer not in LAYER_NAMES:
                raise FieldError(name, f"unknown layer {layer!r} (use names like relu4_2)")
            if not backbone.has(layer):
                block = next(b.layer(layer) for b in backbones.BACKBONES.values() if b.has(layer)).block
                raise FieldError(name, f"{backbone.name} has no layer {layer!r} (its block {block} ends at "
                                       f"{backbone.last_of_block(block).name})")
        if len(set(layers)) != len(layers):
            raise FieldError(name, "lists a layer twice")

    def normalised_blend(self, n_styles: int) -> list[float]:
        blend = self.style_blend or (1.0,) * n_styles
        total = sum(blend)
        return [w / total for w in blend]

    def normalised_layer_weights(self) -> tuple[float, ...]:
        weights = self.style_layer_weights or (1.0,) * len(self.style_layers)
        return tuple(w / sum(weights) for w in weights)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (tuples as lists)."""
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v) for f in fields(self)}

    @classmethod
    def parse(cls, values: Mapping[str, Any]) -> StyleParams:
        """Build from loosely typed values (form fields are strings, JSON gives numbers/lists), not yet
        validated: the edge that also has the images validates the whole job once (stylize.job.make_job).

        Unknown names are an error: nothing a user sent is silently dropped."""
        known = {f.name for f in fields(StyleParams)}
        parsed: dict[str, Any] = {}
        for name, raw in values.items():
            if name not in known:
                raise FieldError(name, "unknown parameter")
            parsed[name] = _parse(name, raw)
        return StyleParams(**parsed)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], maxima: Mapping[str, float] | None = None) -> StyleParams:
        """:meth:`parse` then :meth:`validated` (no style count, no network): for parameters without a job."""
        return cls.parse(values).validated(maxima=maxima)

    @classmethod
    def schema(cls) -> dict[str, dict[str, Any]]:
        """Defaults, ranges, choices, help and (for a method's own) when it applies, per field: for docs,
        the web app, the client and tests."""
        out = {}
        for f in fields(StyleParams):
            entry = {k: (list(v) if isinstance(v, tuple) else v) for k, v in f.metadata.items()}
            default = f.default
            entry["default"] = list(default) if isinstance(default, tuple) else default
            entry["type"] = _kind(f.name).__name__
            out[f.name] = entry
        return out


def _method_fields() -> list[tuple[str, Any, Any]]:
    """Every method's own parameters, each applying only when that method is chosen."""
    out: list[tuple[str, Any, Any]] = []
    core = {f.name for f in fields(CoreParams)}
    for method in methods.METHODS.values():
        for name, annotation, spec in method.params:
            if name in core or name in {n for n, _, _ in out}:
                raise TypeError(f"style method {method.name} declares parameter {name!r}, which another part declares too")
            meta = {**spec.metadata, "when": {"style_loss": method.name}}
            out.append((name, annotation, dataclasses.field(default=spec.default, metadata=meta)))
    return out


StyleParams = make_dataclass("StyleParams", _method_fields(), bases=(CoreParams,), frozen=True)
StyleParams.__module__ = __name__
StyleParams.__doc__ = """All knobs of one style-transfer job: the core ones and every style method's own. Construct, then
call :meth:`validated`."""


def _narrowed(meta: Mapping[str, Any], name: str, maxima: Mapping[str, float] | None) -> Mapping[str, Any]:
    if maxima and name in maxima:
        return {**meta, "max": min(meta["max"], maxima[name])}
    return meta


def _check_field(name: str, value: Any, default: Any, meta: Mapping[str, Any]) -> None:
    if value is None:
        if default is None:
            return
        raise FieldError(name, "must not be empty")
    kind = _kind(name)
    if kind is bool and not isinstance(value, bool):
        raise FieldError(name, "must be true or false")
    if kind in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise FieldError(name, f"must be a number, got {type(value).__name__}")
        if not math.isfinite(value):
            raise FieldError(name, "must be finite")
        if kind is int and not float(value).is_integer():
            raise FieldError(name, "must be a whole number")
        if not meta["min"] <= value <= meta["max"]:
            raise FieldError(name, f"must be between {number_text(meta['min'])} and {number_text(meta['max'])}, got {number_text(value)}")
    if kind is str and value not in meta["choices"]:
        raise FieldError(name, f"must be one of {', '.join(meta['choices'])}, got {value!r}")


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
_DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(StyleParams)}


def _kind(name: str) -> type:
    return _KINDS[name]


def _parse(name: str, raw: Any) -> Any:
    kind = _kind(name)
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise FieldError(name, "is not UTF-8 text") from None
    if isinstance(raw, str):
        raw = raw.strip()
        if raw == "" and _DEFAULTS[name] is None:  # an optional field left empty: not set
            return None
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in TRUE_WORDS | FALSE_WORDS:
            return raw.lower() in TRUE_WORDS
        raise FieldError(name, "must be true or false")
    if kind in (int, float):
        if isinstance(raw, str):
            try:
                raw = float(raw) if kind is float or any(c in raw for c in ".eE") or raw.lower() in ("nan", "inf", "-inf", "infinity", "-infinity") else int(raw)
            except ValueError:
                raise FieldError(name, f"must be a number, got {raw[:40]!r}") from None
        if kind is int and isinstance(raw, float) and math.isfinite(raw) and raw.is_integer():
            raw = int(raw)
        return raw
    if kind is str:
        if not isinstance(raw, str):
            raise FieldError(name, "must be text")
        return raw.lower()
    # tuple kinds: comma-separated text or a JSON list
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, (list, tuple)):
        raise FieldError(name, "must be a comma-separated list")
    if name.endswith("layers"):
        return tuple(str(i).strip() for i in items)
    out = []
    for item in items:
        try:
            out.append(float(item))
        except (TypeError, ValueError):
            raise FieldError(name, f"must be a comma-separated list of numbers, got {str(item)[:40]!r}") from None
    return tuple(out)


def _check_weights(name: str, values: tuple[float, ...] | None) -> tuple[float, ...] | None:
    if values is None:
        return None
    if not isinstance(values, tuple) or not values:
        raise FieldError(name, "must be a non-empty list of numbers")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise FieldError(name, "every value must be a finite number")
        if v < 0 or v > 1e6:
            raise FieldError(name, "every value must be between 0 and 1e6")
    if sum(values) <= 0:
        raise FieldError(name, "at least one value must be positive")
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
        when = f" (only with {when_text(spec['when'])})" if "when" in spec else ""
        rows.append(f"| `{name}` | {shown} | {allowed} | {spec['help']}{when} |")
    return "\n".join(rows)
