"""Pixels against the Laplacian pyramid (:mod:`stylize.pyramid`) as the optimised image, on CPU in about a minute.

    PYTHONPATH=handler:. .venv/bin/python docs/pyramid_fit.py [--images ../shared/images] [--no-gram]

1. Fit: start from one photo (Chelsea) and fit another (Tübingen) at 128 px by mean squared error, Adam at
   NNST's step size (2e-3) and at the engine's (2e-2), and L-BFGS as the engine runs it. Prints the coarse error
   (both pictures at 1/8 size) and the fine error (what the 1/8 picture does not hold) after 10, 30, 100 steps.
   ``pyramid, coarse lr / 2^k`` damps level k's step size: the other way round, for comparison.
2. Gram (``--gram``, ImageNet VGG16): the engine's default objective (Gram, content relu4_2, TV) at 128 px, one
   stage from the content, Tübingen x Starry Night, pixels vs pyramid under Adam and L-BFGS, clamped each
   step as the engine does. Prints the total loss after 10, 30, 60 and ``--steps`` steps, and the seconds.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import torch
from PIL import Image
from stylize import StyleParams, images, weights
from stylize.losses import Objective, Terms
from stylize.pyramid import Pyramid
from stylize.vgg import FeatureNet, build_convs
from torch import Tensor
from torch.nn import functional as F

ROOT = Path(__file__).resolve().parent.parent
SIDE = 128


def load(path: Path, wh: tuple[int, int] | None = None) -> Tensor:
    picture = images.to_tensor(images.to_rgb(Image.open(path)))
    return images.resize(picture, wh or images.fit_size(picture.shape[-1], picture.shape[-2], SIDE))


class Variable:
    """The optimised image either way: its leaves, its picture, and the engine's clamp."""

    def __init__(self, start: Tensor, kind: str) -> None:
        self.kind = kind
        if kind == "pixels":
            self.pixels = start.clone().requires_grad_(True)
        else:
            self.pyramid = Pyramid.from_image(start, levels=8)

    def leaves(self) -> list[Tensor]:
        return [self.pixels] if self.kind == "pixels" else self.pyramid.parameters()

    def picture(self) -> Tensor:
        return self.pixels if self.kind == "pixels" else self.pyramid.image()

    @torch.no_grad()
    def clamp_(self) -> None:
        if self.kind == "pixels":
            self.pixels.clamp_(0, 1)
        else:
            self.pyramid.clamp_()


def optimiser(variable: Variable, method: str, lr: float, damp: bool = False) -> torch.optim.Optimizer:
    if method == "lbfgs":  # as the engine runs it
        return torch.optim.LBFGS(variable.leaves(), lr=1.0, max_iter=1, history_size=100, tolerance_grad=-1.0, tolerance_change=-1.0)
    groups = [{"params": [leaf], "lr": lr / 2**k if damp else lr} for k, leaf in enumerate(variable.leaves())]
    return torch.optim.Adam(groups, lr=lr)


def run(variable: Variable, opt: torch.optim.Optimizer, loss_of: Callable[[Tensor], Tensor], checkpoints: tuple[int, ...],
        measure: Callable[[Tensor], str], clamp: bool) -> list[str]:
    out = []
    for step in range(1, max(checkpoints) + 1):
        def closure() -> Tensor:
            opt.zero_grad(set_to_none=True)
            loss = loss_of(variable.picture())
            loss.backward()
            return loss
        opt.step(closure)
        if clamp:
            variable.clamp_()
        if step in checkpoints:
            with torch.no_grad():
                out.append(f"{step}: {measure(variable.picture())}")
    return out


def fit(image_dir: Path) -> None:
    target = load(image_dir / "tubingen.jpg")
    h, w = target.shape[-2:]
    start = load(image_dir / "chelsea.png", (w, h))

    def coarse(x: Tensor) -> Tensor:
        return F.interpolate(x, size=(h // 8, w // 8), mode="bilinear", antialias=True, align_corners=False)

    def measure(x: Tensor) -> str:
        detail = x - F.interpolate(coarse(x), size=(h, w), mode="bilinear", align_corners=False)
        wanted = target - F.interpolate(coarse(target), size=(h, w), mode="bilinear", align_corners=False)
        return f"coarse {float(F.mse_loss(coarse(x), coarse(target))):.5f} fine {float(F.mse_loss(detail, wanted)):.5f}"

    print(f"fit Tübingen from Chelsea at {w}x{h}, MSE; start: {measure(start)}")
    cases = [("adam", 2e-3), ("adam", 2e-2), ("lbfgs", 1.0)]
    for method, lr in cases:
        kinds = [("pixels", False), ("pyramid", False)] + ([("pyramid, coarse lr / 2^k", True)] if method == "adam" else [])
        for name, damp in kinds:
            variable = Variable(start, "pixels" if name == "pixels" else "pyramid")
            rows = run(variable, optimiser(variable, method, lr, damp), lambda x: F.mse_loss(x, target), (10, 30, 100), measure, clamp=False)
            print(f"  {method} lr {lr:<6g} {name:26s} " + " | ".join(rows))


def gram(image_dir: Path, steps: int) -> None:
    state, info = weights.resolve("strict")
    params = StyleParams()
    convs = build_convs(state, info.network, info.input_mean, info.input_std).to(memory_format=torch.channels_last)
    net = FeatureNet(convs, params.content_layers + params.style_layers, params.pooling)
    terms = Terms(params.content_layers, params.style_layers, tuple(1 / len(params.style_layers) for _ in params.style_layers),
                  params.content_weight, params.style_weight, params.tv_weight, params.style_loss)
    content = load(image_dir / "tubingen.jpg").contiguous()
    style = load(image_dir / "starry_night.jpg").contiguous()
    objective = Objective(net, terms, content, [style], [1.0])
    objective(content.clone().requires_grad_(True))[0].sum().backward()  # warm-up: the first pass pays for oneDNN's kernel choice
    print(f"Gram default objective at {content.shape[-1]}x{content.shape[-2]} from the content, {info.label}")
    for method, lr in (("adam", params.learning_rate), ("lbfgs", 1.0)):
        for kind in ("pixels", "pyramid"):
            variable = Variable(content, kind)
            began = time.monotonic()
            rows = run(variable, optimiser(variable, method, lr), lambda x: objective(x)[0].sum(), (10, 30, 60, steps),
                       lambda x: f"{float(objective(x)[0].sum()):.4f}", clamp=True)
            print(f"  {method} {kind:8s} loss " + " | ".join(rows) + f"  ({time.monotonic() - began:.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=Path, default=ROOT.parent / "shared" / "images")
    parser.add_argument("--gram", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--steps", type=int, default=150)
    args = parser.parse_args()
    torch.manual_seed(0)
    fit(args.images)
    if args.gram:
        gram(args.images, args.steps)


if __name__ == "__main__":
    main()
