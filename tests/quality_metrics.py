"""Judging a result on real features: Gram matrices at VGG16 layers the loss does not optimise, and edges.

The judge is always the wheel's ImageNet VGG16 (whatever network made the picture), at relu2_2 and
relu3_3: neither is in the default style layers (relu1_1, relu2_1, relu3_1, relu4_1, relu5_1), so a
picture only gets close to the style's Grams there by taking on the style, not by fitting the loss.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image
from stylize import images
from stylize.vgg import FeatureNet, VGGConvs, build_convs

JUDGE_LAYERS = ("relu2_2", "relu3_3")
SHARED_IMAGES = Path(__file__).resolve().parent.parent.parent / "shared" / "images"


def judge_convs(weights_file: Path) -> VGGConvs:
    from stylize import weights

    state, info = weights.load(weights_file)
    assert info.network == "vgg16" and not info.is_random, "the judge must be real ImageNet VGG16"
    return build_convs(state, info.network, info.input_mean, info.input_std)


def _gram(x: torch.Tensor) -> torch.Tensor:
    _, c, h, w = x.shape
    f = x.reshape(c, h * w)
    return f @ f.T / (h * w)


@torch.no_grad()
def gram_distances(convs: VGGConvs, picture: Image.Image, style: Image.Image) -> dict[str, float]:
    """||G(picture) - G(style)|| / ||G(style)|| per judge layer, the style resized to the picture's longest side."""
    net = FeatureNet(convs, JUDGE_LAYERS)
    side = max(picture.size)
    p = images.to_tensor(picture)
    s = images.resize(images.to_tensor(style), images.fit_size(*style.size, side))
    fp, fs = net(p), net(s)
    return {layer: float((_gram(fp[layer]) - _gram(fs[layer])).norm() / _gram(fs[layer]).norm()) for layer in JUDGE_LAYERS}


def style_moved(convs: VGGConvs, content: Image.Image, result: Image.Image, style: Image.Image) -> dict[str, float]:
    """Per judge layer: the fraction of the content's Gram distance to the style that the result closed (1 = all)."""
    before = gram_distances(convs, content.resize(result.size, Image.LANCZOS), style)
    after = gram_distances(convs, result, style)
    return {layer: 1 - after[layer] / before[layer] for layer in JUDGE_LAYERS}


def edge_correlation(a: Image.Image, b: Image.Image) -> float:
    """Pearson correlation of the Sobel gradient magnitudes of two pictures' luminance (b resized to a)."""
    def sobel(img: Image.Image) -> torch.Tensor:
        grey = images.to_tensor(img.convert("L").convert("RGB"))[:, :1]
        kx = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])[None, None]
        gx, gy = F.conv2d(grey, kx, padding=1), F.conv2d(grey, kx.transpose(-1, -2), padding=1)
        return (gx**2 + gy**2).sqrt()[..., 1:-1, 1:-1].flatten()
    x, y = sobel(a), sobel(b.resize(a.size, Image.LANCZOS))
    x, y = x - x.mean(), y - y.mean()
    return float((x * y).sum() / (x.norm() * y.norm()))


@torch.no_grad()
def structure_and_copies(convs: VGGConvs, content: Image.Image, result: Image.Image, style: Image.Image) -> tuple[float, float]:
    """(structure distance at relu3_3, copied share at relu5_1) of a result (bench/quality.py defines both),
    the content and the style resized to the result's size."""
    from bench.quality import GHOST_LAYER, STRUCTURE_LAYER, copied_share, structure_distance

    net = FeatureNet(convs, (STRUCTURE_LAYER, GHOST_LAYER))
    r, c, s = (net(images.to_tensor(p.resize(result.size, Image.LANCZOS))) for p in (result, content, style))
    return structure_distance(r[STRUCTURE_LAYER], c[STRUCTURE_LAYER]), copied_share(r[GHOST_LAYER], c[GHOST_LAYER], s[GHOST_LAYER])
