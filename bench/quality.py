"""The quality section: each style method's result against wall time, judged on layers it does not optimise.

Per method (tools.gallery.METHODS: the loss, optimiser, averaging and schedule) and per pair (:data:`PAIRS`: Tübingen
x Starry Night, and two photos under face paintings), one run whose iterations are calibrated to ``budget_s`` on
this machine; every snapshot is judged:

style distance   = mean over relu2_2, relu3_3, relu4_3 of ‖G(x) − G(style)‖² / ‖G(style)‖²
content distance = mean over the same layers of ‖F(x) − F(content)‖² / ‖F(content)‖²
noise            = mean |Laplacian| of the image (0-255 units): the optimiser's pixel noise
structure        = mean |S(x) − S(content)| of the cosine self-similarity matrices S of relu3_3 (centred, pooled to
                   32 x 32 places) à la STROTSS: how far the photo's layout (what resembles what, where) moved,
                   blind to colour and texture, which the style may change
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
STRUCTURE_LAYER = "relu3_3"
STRUCTURE_GRID = 32
# the plotted pair, then two face paintings, on which statistics methods paste the painting's objects
PAIRS = (("tubingen.jpg", "starry_night.jpg"), ("astronaut.png", "gallery/klimt_the-kiss-detail.jpg"),
         ("tubingen.jpg", "gallery/toulouse-lautrec_in-bed.jpg"))
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


def self_similarity(features: Tensor, grid: int = STRUCTURE_GRID) -> Tensor:
    """(grid²) x (grid²) cosine similarities between the places of a 1 x C x H x W map, pooled to grid x grid and
    centred (minus the mean feature), so the matrix says which parts of the picture resemble which."""
    places = F.adaptive_avg_pool2d(features.float(), (grid, grid)).flatten(2).squeeze(0).t()
    places = F.normalize(places - places.mean(0, keepdim=True), dim=1)
    return places @ places.t()


def structure_distance(result: Tensor, content: Tensor) -> float:
    """Mean |difference| of the self-similarity matrices of two feature maps (0: the same layout; at most 2)."""
    return float((self_similarity(result) - self_similarity(content)).abs().mean())


class Judge:
    def __init__(self, engine: Engine, content: Tensor, style: Tensor, size: tuple[int, int]) -> None:
        self.size = size
        self.net = FeatureNet(engine.convs, (*JUDGE_LAYERS, GHOST_LAYER)).to(engine.device)  # relu3_3 is a judge layer
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
    def __call__(self, image: Tensor) -> tuple[float, float, float, float]:
        """(style distance, content distance, structure, copied share) of this image, from one pass of the network."""
        feats = self.net(self._fit(image))
        style = sum(float((gram(feats[k]) - g).square().sum() / g.square().sum()) for k, g in self.grams.items())
        content = sum(float((feats[k].float() - c).square().sum() / c.square().sum()) for k, c in self.content.items())
        structure = structure_distance(feats[STRUCTURE_LAYER], self.content[STRUCTURE_LAYER])
        return style / len(JUDGE_LAYERS), content / len(JUDGE_LAYERS), structure, copied_share(feats[GHOST_LAYER], *self.ghost)


def trace(engine: Engine, judge: Judge, content: Image.Image, style: Image.Image, params: StyleParams) -> list[dict[str, float]]:
    """(seconds, iteration, style, content, noise, copied) at every snapshot; judging time is not counted."""
    points, judging = [], 0.0
    for snap in engine.run(engine.job(content, [style], params)):
        t0 = time.monotonic()
        s, c, structure, copied = judge(snap.image)
        points.append({"seconds": snap.elapsed_s - judging, "iteration": snap.iteration, "style": s, "content": c,
                       "structure": structure, "noise": noise(snap.image), "copied": copied, "final": snap.final})
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
    rows = ["| pair | method | iterations | seconds | style distance | content distance | structure | noise | copied share |",
            "|---|---|---|---|---|---|---|---|---|"]
    finals: dict[tuple[str, str], dict[str, float]] = {}
    for index, (content_name, style_name) in enumerate(PAIRS):
        content = Image.open(images_dir / content_name).convert("RGB")
        style = Image.open(images_dir / style_name).convert("RGB")
        judge = Judge(engine, images.to_tensor(content), images.to_tensor(style), images.fit_size(*content.size, size))
        pair = f"{Path(content_name).stem} x {Path(style_name).stem}"
        traces: dict[str, list[dict[str, float]]] = {}
        for name, overrides in METHODS.items():
            base = replace(StyleParams(size=size, snapshot_every=0), **overrides)  # type: ignore[arg-type]
            n = iterations_for(engine, content, [style], base, budget_s)
            params = replace(base, iterations=n, snapshot_every=max(1, n // 12), time_budget_s=budget_s * 1.25)
            traces[name] = trace(engine, judge, content, style, params)
            # the first pair (the plot's) also shows each method halfway
            for p in (traces[name][len(traces[name]) // 2], traces[name][-1]) if index == 0 else (traces[name][-1],):
                rows.append(f"| {pair} | {name} | {p['iteration']:.0f} | {p['seconds']:.1f} | {p['style']:.4f} | {p['content']:.4f} "
                            f"| {p['structure']:.4f} | {p['noise']:.2f} | {p['copied']:.3f} |")
            finals[pair, name] = traces[name][-1]
        if index == 0 and plot_path is not None:
            plot(traces, plot_path, f"{info.label} · {pair} · {size} px · {budget_s:g} s per method")
    title = f"{info.label} · {size} px · {budget_s:g} s per method, iterations calibrated to it on this machine"
    text = "\n".join([head, "", title + " (the first pair: each method's halfway snapshot, then its result; the others: "
                      "the result).", "", *rows, "", f"Plot (first pair): `{plot_path}`." if plot_path else ""])
    first = f"{Path(PAIRS[0][0]).stem} x {Path(PAIRS[0][1]).stem}"
    cleanest = min(METHODS, key=lambda k: finals[first, k]["noise"])
    ghosts = {name: sum(finals[pair, name]["copied"] for pair, m in finals if m == name) / len(PAIRS) for name in METHODS}
    least = min(ghosts, key=lambda k: ghosts[k])
    targets = [f"quality ({size} px, {budget_s:g} s): lowest noise on {first} {cleanest} ({finals[first, cleanest]['noise']:.2f}); "
               f"least copied (mean over {len(PAIRS)} pairs) {least} ({ghosts[least]:.3f}); "
               + ", ".join(f"{k} copied {v:.3f}" for k, v in ghosts.items())]
    return text, targets
