"""The quality section: each style method's result against wall time, judged on layers it does not optimise.

Per method (tools.gallery.METHODS: the loss, optimiser, averaging and schedule), one run of Tübingen x
Starry Night whose iterations are calibrated to ``budget_s`` on this machine; every snapshot is judged:

style distance   = mean over relu2_2, relu3_3, relu4_3 of ‖G(x) − G(style)‖² / ‖G(style)‖²
content distance = mean over the same layers of ‖F(x) − F(content)‖² / ‖F(content)‖²
noise            = mean |Laplacian| of the image (0-255 units): the optimiser's pixel noise
copied share     = the share of the result's relu5_1 positions (object-sized receptive fields) whose feature is
                   nearer, by cosine, to some position of the painting than to the photo's own feature at the
                   same place: where the painting's objects (a wave, a face) replaced the photo's ("ghosts")

on ImageNet features only (random-init statistics say nothing about pictures), every image resized to
the final size first. The optimisation uses relu1_1…relu5_1 and relu4_2, so no method is judged on
its own objective; the Gram form of the style distance still leans towards the Gram loss.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import torch
from PIL import Image
from stylize import Engine, StyleParams, images, weights
from stylize.methods.statistics import gram
from stylize.vgg import FeatureNet
from torch import Tensor
from torch.nn import functional as F

from tools.gallery import METHODS, iterations_for

JUDGE_LAYERS = ("relu2_2", "relu3_3", "relu4_3")
GHOST_LAYER = "relu5_1"
PAIR = ("tubingen.jpg", "starry_night.jpg")
LAPLACIAN = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]).view(1, 1, 3, 3)


def noise(image: Tensor) -> float:
    """Mean absolute Laplacian of the luminance, in 0-255 units (3 x H x W or 1 x 3 x H x W in [0, 1])."""
    image = image.reshape(-1, 3, *image.shape[-2:]).float().cpu()
    grey = (0.299 * image[:, 0] + 0.587 * image[:, 1] + 0.114 * image[:, 2]).unsqueeze(1)
    return float(F.conv2d(grey * 255, LAPLACIAN).abs().mean())


def copied_share(result: Tensor, content: Tensor, style: Tensor) -> float:
    """Share of the result's positions whose feature is nearer (cosine) to its nearest style position than to
    the content's feature at the same place; feature maps 1 x C x H x W, result and content the same size.
    0 for the content itself; near 1 for the painting itself (or a copy of it)."""
    def unit(f: Tensor) -> Tensor:
        return F.normalize(f.float().flatten(2).squeeze(0).t(), dim=1)  # positions x channels

    r, c, s = unit(result), unit(content), unit(style)
    own = (r * c).sum(1)
    nearest_style = torch.cat([(chunk @ s.t()).amax(1) for chunk in r.split(4096)])
    return float((nearest_style > own).float().mean())


class Judge:
    def __init__(self, engine: Engine, content: Tensor, style: Tensor, size: tuple[int, int]) -> None:
        self.size = size
        self.net = FeatureNet(engine.convs, (*JUDGE_LAYERS, GHOST_LAYER)).to(engine.device)
        self.device = engine.device
        with torch.no_grad():
            content_feats, style_feats = self.net(self._fit(content)), self.net(self._fit(style))
            self.content = {k: content_feats[k].float() for k in JUDGE_LAYERS}
            self.grams = {k: gram(style_feats[k]) for k in JUDGE_LAYERS}
            self.ghost = (content_feats[GHOST_LAYER].float(), style_feats[GHOST_LAYER].float())

    def _fit(self, image: Tensor) -> Tensor:
        image = image.unsqueeze(0) if image.dim() == 3 else image
        return images.resize(image.float().to(self.device), self.size).contiguous()

    @torch.no_grad()
    def __call__(self, image: Tensor) -> tuple[float, float, float]:
        """(style distance, content distance, copied share) of this image, from one pass of the network."""
        feats = self.net(self._fit(image))
        style = sum(float((gram(feats[k]) - g).square().sum() / g.square().sum()) for k, g in self.grams.items())
        content = sum(float((feats[k].float() - c).square().sum() / c.square().sum()) for k, c in self.content.items())
        return style / len(JUDGE_LAYERS), content / len(JUDGE_LAYERS), copied_share(feats[GHOST_LAYER], *self.ghost)


def trace(engine: Engine, judge: Judge, content: Image.Image, style: Image.Image, params: StyleParams) -> list[dict[str, float]]:
    """(seconds, iteration, style, content, noise, copied) at every snapshot; judging time is not counted."""
    points, judging = [], 0.0
    for snap in engine.run(engine.job(content, [style], params)):
        t0 = time.monotonic()
        s, c, copied = judge(snap.image)
        points.append({"seconds": snap.elapsed_s - judging, "iteration": snap.iteration, "style": s, "content": c,
                       "noise": noise(snap.image), "copied": copied, "final": snap.final})
        judging += time.monotonic() - t0
    return points


def plot(traces: dict[str, list[dict[str, float]]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display; PNG only
    from matplotlib import pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for name, points in traces.items():
        t = [p["seconds"] for p in points]
        for ax, key in zip(axes, ("style", "content", "noise"), strict=True):
            ax.plot(t, [p[key] for p in points], marker=".", label=name)
    for ax, label in zip(axes, ("style distance (Gram, relu2_2/3_3/4_3)", "content distance (same layers)",
                                "noise (mean |Laplacian|, 0-255)"), strict=True):
        ax.set_xlabel("seconds")
        ax.set_title(label, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].set_yscale("log")
    axes[0].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def section(images_dir: Path, size: int, budget_s: float, plot_path: Path | None, device: str = "cpu") -> tuple[str, list[str]]:
    head = "### Quality vs wall time per style method (section `quality`)"
    try:
        state, info = weights.resolve("strict")
    except weights.WeightsError as exc:
        return f"{head}\n\nNot measured: no ImageNet weights here ({exc}); random-init statistics do not count.", []
    engine = Engine(state, info, device)
    content = Image.open(images_dir / PAIR[0]).convert("RGB")
    style = Image.open(images_dir / PAIR[1]).convert("RGB")
    final_wh = images.fit_size(*content.size, size)
    judge = Judge(engine, images.to_tensor(content), images.to_tensor(style), final_wh)
    traces: dict[str, list[dict[str, float]]] = {}
    rows = ["| method | iterations | seconds | style distance | content distance | noise | copied share |",
            "|---|---|---|---|---|---|---|"]
    for name, overrides in METHODS.items():
        base = replace(StyleParams(size=size, snapshot_every=0), **overrides)  # type: ignore[arg-type]
        n = iterations_for(engine, content, [style], base, budget_s)
        params = replace(base, iterations=n, snapshot_every=max(1, n // 12), time_budget_s=budget_s * 1.25)
        traces[name] = trace(engine, judge, content, style, params)
        for p in (traces[name][len(traces[name]) // 2], traces[name][-1]):
            rows.append(f"| {name} | {p['iteration']:.0f} | {p['seconds']:.1f} | {p['style']:.4f} | {p['content']:.4f} | {p['noise']:.2f} "
                        f"| {p['copied']:.3f} |")
    title = f"{info.label} · {PAIR[0]} x {PAIR[1]} · {size} px · {budget_s:g} s per method"
    if plot_path is not None:
        plot(traces, plot_path, title)
    finals = {name: points[-1] for name, points in traces.items()}
    cleanest = min(finals, key=lambda k: finals[k]["noise"])
    text = "\n".join([head, "", title + " (each method: its halfway snapshot, then its result).", "", *rows, "",
                      f"Plot: `{plot_path}`." if plot_path else ""])
    targets = [f"quality ({size} px, {budget_s:g} s): lowest noise {cleanest} ({finals[cleanest]['noise']:.2f}); "
               + ", ".join(f"{k} style {v['style']:.4f} / content {v['content']:.4f}" for k, v in finals.items())]
    return text, targets
