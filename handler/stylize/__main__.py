"""Command line: python -m stylize CONTENT STYLE [STYLE ...] -o out.png [options]."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import fields
from pathlib import Path

from tqdm import tqdm

from . import images, masks, precision, weights
from .engine import Engine
from .images import ImageError
from .params import ParamError, StyleParams
from .weights import WeightsError

_SCHEMA = StyleParams.schema()


def add_param_options(parser: argparse.ArgumentParser) -> None:
    """One --option per StyleParams field (values parsed/validated by StyleParams.from_mapping)."""
    for f in fields(StyleParams):
        spec = _SCHEMA[f.name]
        flag = "--" + f.name.replace("_", "-")
        rng = f" [{spec['min']:g}..{spec['max']:g}]" if "min" in spec else ""
        choices = f" ({', '.join(spec['choices'])})" if "choices" in spec and f.name not in ("content_layers", "style_layers") else ""
        default = spec["default"]
        shown = ",".join(map(str, default)) if isinstance(default, list) else default
        if spec["type"] == "bool":
            parser.add_argument(flag, dest=f.name, default=None, action=argparse.BooleanOptionalAction,
                                help=f"{spec['help']} (default: {shown})")
        else:
            parser.add_argument(flag, dest=f.name, default=None, metavar=f.name.upper(),
                                help=f"{spec['help']}{rng}{choices} (default: {shown})")


def collect_params(args: argparse.Namespace) -> dict[str, object]:
    return {f.name: getattr(args, f.name) for f in fields(StyleParams) if getattr(args, f.name) is not None}


def check_writable(path: Path, field_name: str) -> None:
    """Refuse an output file that could not be written, before any work starts (ParamError: one line)."""
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise ParamError(field_name, f"{path} is a directory; give a file name")
    if not parent.is_dir():
        raise ParamError(field_name, f"cannot write {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ParamError(field_name, f"cannot write {path}: permission denied")


def prepare_dir(path: Path, field_name: str) -> None:
    """Create a snapshots directory up front, so a bad path fails before the job, not after it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ParamError(field_name, f"cannot create {path} ({exc.strerror})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ParamError(field_name, f"cannot write into {path}: permission denied")


def _read(path: str, field_name: str, max_pixels: int) -> images.Image.Image:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ImageError(field_name, f"cannot read {path} ({exc.strerror})") from None
    return images.decode(data, field_name, max_pixels)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stylize", description="Neural style transfer (Gatys et al. 2015) on VGG19.")
    parser.add_argument("content", help="content image")
    parser.add_argument("styles", nargs="+", metavar="style", help="one or more style images")
    parser.add_argument("-o", "--output", required=True, help="output image (.png, .jpg or .webp)")
    parser.add_argument("--snapshots-dir", help="write every snapshot here as PNG")
    parser.add_argument("--weights", help="exported .safetensors weights (default: obtain per --weights-mode)")
    parser.add_argument("--weights-mode", choices=weights.MODES, default=os.environ.get("WEIGHTS_MODE", "auto"),
                        help="auto: ImageNet if obtainable else random-init; strict: fail without ImageNet; random")
    parser.add_argument("--device", help="cpu, cuda, cuda:1 (default: CUDA when available)")
    parser.add_argument("--max-pixels", type=int, default=images.DEFAULT_MAX_PIXELS, help="refuse larger decoded inputs")
    parser.add_argument("--mask", action="append", default=[], metavar="N=FILE",
                        help="greyscale region of the content where style N applies (white = fully); repeatable")
    parser.add_argument("--style-mask", action="append", default=[], metavar="N=FILE",
                        help="greyscale region of style N's own image to take the style from; repeatable")
    add_param_options(parser)
    args = parser.parse_args(argv)

    try:
        params = StyleParams.from_mapping(collect_params(args)).validated(n_styles=len(args.styles))
        content = _read(args.content, "content", args.max_pixels)
        styles = [_read(p, "style" if i == 0 else f"style_{i + 1}", args.max_pixels) for i, p in enumerate(args.styles)]
        regions = {kind: masks.read_specs(getattr(args, kind), kind, len(styles), args.max_pixels) for kind in ("mask", "style_mask")}
        masks.regions(regions["mask"], regions["style_mask"], len(styles))  # refuse an all-black set before loading weights
        suffix = Path(args.output).suffix.lower().lstrip(".") or "png"
        if suffix not in images.FORMATS:
            raise ParamError("output", f"unsupported extension .{suffix} (use .png, .jpg or .webp)")
        check_writable(Path(args.output), "output")
        snapshots_dir = Path(args.snapshots_dir) if args.snapshots_dir else None
        if snapshots_dir:
            prepare_dir(snapshots_dir, "snapshots-dir")
        if args.weights:
            state, info = weights.load(args.weights)
            texture = ": results are texture-only" if info.is_random else ""
            print(f"weights: {'RANDOM-INIT' if info.is_random else 'ImageNet'} VGG19 from {args.weights}{texture}", file=sys.stderr)
        else:
            state, info = weights.resolve(args.weights_mode)
    except (ParamError, ImageError, WeightsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    engine = Engine(state, info, args.device)
    mode = precision.resolve(params.precision, engine.auto)
    why = f" ({engine.auto.reason})" if params.precision == precision.AUTO else ""
    print(f"device={engine.device} precision={mode}{why} size={params.size} iterations={params.iterations}", file=sys.stderr)
    bar = tqdm(total=params.iterations, unit="it", dynamic_ncols=True, file=sys.stderr)
    try:
        for snap in engine.run(content, styles, params, masks=regions["mask"], style_masks=regions["style_mask"]):
            bar.update(snap.iteration - bar.n)
            bar.set_postfix(stage=f"{snap.stage}/{snap.stages}", **{k: f"{v:.3g}" for k, v in snap.losses.items()})
            if snapshots_dir:
                (snapshots_dir / f"snapshot_{snap.iteration:05d}.png").write_bytes(images.encode(snap.image, "png"))
            if snap.final:
                Path(args.output).write_bytes(images.encode(snap.image, suffix))
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        bar.close()
    label = " (RANDOM-INIT weights: texture only)" if info.is_random else ""
    print(f"wrote {args.output} {snap.size[0]}x{snap.size[1]} in {snap.elapsed_s:.1f}s, {snap.stopped}{label}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # e.g. during a first weights download
        print("\ninterrupted", file=sys.stderr)
        sys.exit(130)
