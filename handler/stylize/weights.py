"""VGG19 conv weights: obtain (hub cache/download, local .pth, or seeded random init), export to
safetensors with provenance metadata, load back. The runtime only ever loads safetensors.

    python -m stylize.weights export -o model_store/vgg19_conv.safetensors --mode auto
    python -m stylize.weights info model_store/vgg19_conv.safetensors
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from dataclasses import dataclass
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
RANDOM_WARNING = (
    "WARNING: VGG19 weights are RANDOM-INIT (seeded), not ImageNet: results are texture-only "
    "and not a real style transfer. Supply real weights with VGG19_WEIGHTS=/path/to/"
    f"{PTH_NAME} or let torchvision download them (internet access)."
)


class WeightsError(RuntimeError):
    """Weights could not be obtained or are malformed."""


@dataclass(frozen=True)
class WeightsInfo:
    provenance: str  # IMAGENET or RANDOM
    seed: int | None
    torchvision: str
    source: str

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
            f"(1) setting VGG19_WEIGHTS=/path/to/{PTH_NAME} (or --source), or (2) letting torchvision "
            "download them into the torch hub cache (~/.cache/torch/hub/checkpoints) with internet access.")


def obtain(mode: str = "auto", source: str | os.PathLike[str] | None = None, seed: int = 0) -> tuple[dict[str, Tensor], WeightsInfo]:
    """Get the conv weights according to ``mode`` (auto | strict | random)."""
    if mode not in MODES:
        raise WeightsError(f"mode must be one of {MODES}, got {mode!r}")
    version = torchvision.__version__
    if mode == "random":
        return random_state(seed), WeightsInfo(RANDOM, seed, version, "seeded torchvision init")
    source = source or os.environ.get("VGG19_WEIGHTS") or None
    try:
        if source:
            path = Path(source)
            if not path.is_file():
                raise WeightsError(f"{path} does not exist")
            # weights_only=True: the safe unpickler, so a hostile .pth cannot run code.
            state = torch.load(path, map_location="cpu", weights_only=True)
            return _conv_only(state), WeightsInfo(IMAGENET, None, version, str(path))
        weights = torchvision.models.VGG19_Weights.IMAGENET1K_V1
        state = weights.get_state_dict(progress=False, check_hash=True)
        return _conv_only(state), WeightsInfo(IMAGENET, None, version, weights.url)
    except Exception as exc:  # any failure to obtain means: fall back or fail loudly
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        if mode == "strict":
            raise WeightsError(_strict_message(reason)) from exc
        warnings.warn(f"{_strict_message(reason)} Falling back to seeded random init.", stacklevel=2)
        return random_state(seed), WeightsInfo(RANDOM, seed, version, "seeded torchvision init")


def export(path: str | os.PathLike[str], mode: str = "auto", source: str | None = None, seed: int = 0) -> WeightsInfo:
    state, info = obtain(mode, source, seed)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path), metadata=info.metadata())
    return info


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
