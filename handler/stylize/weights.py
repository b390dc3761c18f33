"""VGG19 conv weights: obtain (hub cache/download, local .pth, or seeded random init), export to
safetensors with provenance metadata, load back. The runtime only ever loads safetensors.

    python -m stylize.weights export -o model_store/vgg19_conv.safetensors --mode auto
    python -m stylize.weights info model_store/vgg19_conv.safetensors

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

from .vgg import conv_shapes

IMAGENET = "imagenet1k_v1"
RANDOM = "random-init"
MODES = ("auto", "strict", "random")
PTH_NAME = "vgg19-dcbb9e9d.pth"
# torchvision's download address for VGG19_Weights.IMAGENET1K_V1 (548 MB; its name ends in a sha256 prefix).
# $VGG19_URL replaces it (a mirror; the file name, and so the hash check, must stay the same).
VGG19_URL = f"https://download.pytorch.org/models/{PTH_NAME}"

RANDOM_WARNING = (
    "WARNING: VGG19 weights are RANDOM-INIT (seeded), not ImageNet: results are texture-only "
    "and not a real style transfer. Supply real weights with VGG19_WEIGHTS=/path/to/"
    f"{PTH_NAME} or let torchvision download them (internet access)."
)


def weights_url() -> str:
    return os.environ.get("VGG19_URL") or VGG19_URL


class WeightsError(RuntimeError):
    """Weights could not be obtained or are malformed."""


@dataclass(frozen=True)
class WeightsInfo:
    provenance: str  # IMAGENET or RANDOM
    seed: int | None
    torchvision: str
    source: str
    # Why ImageNet weights could not be obtained (auto mode's fallback); not stored in the file.
    note: str = field(default="", compare=False)

    @property
    def is_random(self) -> bool:
        return self.provenance == RANDOM

    def metadata(self) -> dict[str, str]:
        return {"provenance": self.provenance, "seed": "" if self.seed is None else str(self.seed),
                "torchvision": self.torchvision, "source": self.source, "format": "vgg19-conv"}


def random_state(seed: int = 0) -> dict[str, Tensor]:
    """torchvision's own VGG19 initialisation (Kaiming normal, zero bias), seeded and isolated."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = torchvision.models.vgg19(weights=None)
    return _conv_only(model.state_dict())


def _conv_only(state: dict[str, Tensor]) -> dict[str, Tensor]:
    shapes = conv_shapes()
    missing = [k for k in shapes if k not in state]
    if missing:
        raise WeightsError(f"not a VGG19 state dict: missing {missing[0]} (and {len(missing) - 1} more)")
    out = {}
    for key, shape in shapes.items():
        tensor = state[key]
        if tuple(tensor.shape) != shape:
            raise WeightsError(f"{key} has shape {tuple(tensor.shape)}, expected {shape}")
        out[key] = tensor.detach().float().contiguous()
    return out


def _strict_message(reason: str) -> str:
    return (f"ImageNet VGG19 weights are not available ({reason}). Supply them either by "
            f"(1) setting VGG19_WEIGHTS=/path/to/{PTH_NAME}, or (2) letting torchvision "
            f"download them into the torch hub cache ({hub_checkpoint().parent}) with internet access.")


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
           url: str | None = None, say: Callable[[str], None] | None = None) -> tuple[dict[str, Tensor], WeightsInfo]:
    """Get the conv weights according to ``mode`` (auto | strict | random). With ``progress`` a download
    shows a progress bar and ``say`` (if given) is told where the file was cached. Auto mode's fallback to
    random init warns nobody itself: the reason is in ``info.note`` for the caller's one line."""
    if mode not in MODES:
        raise WeightsError(f"mode must be one of {MODES}, got {mode!r}")
    version = torchvision.__version__
    if mode == "random":
        return random_state(seed), WeightsInfo(RANDOM, seed, version, "seeded torchvision init")
    source = source or os.environ.get("VGG19_WEIGHTS") or None
    url = url or weights_url()
    try:
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
        return _conv_only(state), WeightsInfo(IMAGENET, None, version, origin)
    except Exception as exc:  # any failure to obtain means: fall back or fail loudly
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        if mode == "strict":
            raise WeightsError(_strict_message(reason)) from exc
        return random_state(seed), WeightsInfo(RANDOM, seed, version, "seeded torchvision init", note=reason)


def export(path: str | os.PathLike[str], mode: str = "auto", source: str | None = None, seed: int = 0, *,
           progress: bool = False, say: Callable[[str], None] | None = None) -> WeightsInfo:
    state, info = obtain(mode, source, seed, progress=progress, say=say)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path), metadata=info.metadata())
    return info


# ---- the command line's weights: resolved once, cached, one line -----------------------------------

def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "style-transfer"


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def resolve(mode: str = "auto", source: str | None = None, seed: int = 0, *, progress: bool = True,
            url: str | None = None, say: Callable[[str], None] = _stderr) -> tuple[dict[str, Tensor], WeightsInfo]:
    """The command line's weights: like `obtain`, but the exported safetensors is cached in `cache_dir()`
    and reused, so only the first run converts (or downloads), and `say` gets exactly one line about
    which weights are used (plus a "downloaded … cached at …" line when a download happened).

    auto: cached ImageNet export, else a local .pth ($VGG19_WEIGHTS, torch hub cache) or a download, else
    the cached random-init export (made once; later runs do not retry the download: ``--weights-mode
    strict`` does). strict: ImageNet or WeightsError. random: seeded random init. An explicit `source`
    is always converted afresh (it may be a different file each run)."""
    if mode not in MODES:
        raise WeightsError(f"mode must be one of {MODES}, got {mode!r}")
    url = url or weights_url()
    cache = cache_dir()
    imagenet_file, random_file = cache / "vgg19_conv-imagenet1k_v1.safetensors", cache / f"vgg19_conv-random-seed{seed}.safetensors"
    source = source or os.environ.get("VGG19_WEIGHTS") or None
    texture_only = "results are texture-only, not a real style transfer"
    how = f"for real weights set VGG19_WEIGHTS=/path/to/{PTH_NAME} or run once with --weights-mode strict (downloads, 548 MB)"

    if mode != "random" and not source and imagenet_file.is_file():
        state, info = load(imagenet_file)
        say(f"weights: ImageNet VGG19 (cached at {imagenet_file}, from {info.source})")
        return state, info
    if mode == "random" or (mode == "auto" and not source and random_file.is_file() and not hub_checkpoint(url).is_file()):
        if random_file.is_file():
            state, info = load(random_file)
        else:
            state, info = obtain("random", seed=seed)
            _save_quietly(random_file, state, info)
        why = "as asked" if mode == "random" else f"ImageNet weights were not obtainable when first resolved; cached at {random_file}"
        say(f"weights: RANDOM-INIT VGG19 (seeded, {why}): {texture_only}; {how}")
        return state, info
    state, info = obtain(mode, source, seed, progress=progress, url=url, say=say)  # strict raises here
    if info.is_random:
        _save_quietly(random_file, state, info)
        say(f"weights: RANDOM-INIT VGG19 (seeded; ImageNet not obtainable: {info.note}): {texture_only}; {how}")
    else:
        if not source:
            _save_quietly(imagenet_file, state, info)
        cached = f", cached at {imagenet_file}" if not source else ""
        say(f"weights: ImageNet VGG19 (from {info.source}{cached})")
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
    if meta.get("provenance") not in (IMAGENET, RANDOM):
        raise WeightsError(f"{path} has no provenance metadata; export it with `python -m stylize.weights export`")
    seed = meta.get("seed") or None
    info = WeightsInfo(meta["provenance"], int(seed) if seed else None, meta.get("torchvision", "?"), meta.get("source", "?"))
    return _conv_only(state), info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stylize.weights", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    exp = sub.add_parser("export", help="write the VGG19 conv weights as safetensors")
    exp.add_argument("-o", "--output", required=True)
    exp.add_argument("--mode", choices=MODES, default=os.environ.get("WEIGHTS_MODE", "auto"))
    exp.add_argument("--source", help=f"local {PTH_NAME} (default: $VGG19_WEIGHTS, then torch hub)")
    exp.add_argument("--seed", type=int, default=0, help="seed for random init")
    info_cmd = sub.add_parser("info", help="print a weights file's provenance")
    info_cmd.add_argument("path")
    args = parser.parse_args(argv)
    try:
        if args.command == "export":
            info = export(args.output, args.mode, args.source, args.seed)
            print(f"wrote {args.output}: weights={info.provenance} source={info.source}")
        else:
            _, info = load(args.path)
            print(" ".join(f"{k}={v}" for k, v in info.metadata().items()))
    except WeightsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
