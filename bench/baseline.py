"""The PyTorch tutorial's Gatys algorithm ("Neural Transfer Using PyTorch"), written out plainly.

A reference point for the benchmark, not product code: a full nn.Sequential copy of
vgg19.features with ContentLoss/StyleLoss modules inserted after conv layers (content conv_4,
style conv_1..conv_5), a Normalization module, L-BFGS (torch defaults: up to 20 evaluations per
step) on the input image, the closure clamping it to [0, 1], style weight 1e6, content weight 1,
300 steps counted as closure evaluations. Only the tutorial's progress printing is left out.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# torchvision's VGG19 "E" configuration; "M" is a max pool.
VGG19_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M")
CONTENT_LAYERS = ("conv_4",)
STYLE_LAYERS = ("conv_1", "conv_2", "conv_3", "conv_4", "conv_5")
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def vgg19_features(state: dict[str, Tensor]) -> nn.Sequential:
    """vgg19().features with the given conv weights (torchvision key layout features.<i>.*)."""
    layers: list[nn.Module] = []
    in_ch = 3
    for item in VGG19_CFG:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(in_ch, int(item), kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            in_ch = int(item)
    features = nn.Sequential(*layers)
    features.load_state_dict({k.removeprefix("features."): v for k, v in state.items()})
    return features.eval()


class ContentLoss(nn.Module):
    def __init__(self, target: Tensor) -> None:
        super().__init__()
        self.target = target.detach()
        self.loss = torch.zeros(())

    def forward(self, x: Tensor) -> Tensor:
        self.loss = F.mse_loss(x, self.target)
        return x  # transparent: the network goes on with the unchanged features


def gram_matrix(x: Tensor) -> Tensor:
    a, b, c, d = x.size()
    features = x.view(a * b, c * d)
    return torch.mm(features, features.t()).div(a * b * c * d)


class StyleLoss(nn.Module):
    def __init__(self, target_feature: Tensor) -> None:
        super().__init__()
        self.target = gram_matrix(target_feature).detach()
        self.loss = torch.zeros(())

    def forward(self, x: Tensor) -> Tensor:
        self.loss = F.mse_loss(gram_matrix(x), self.target)
        return x


class Normalization(nn.Module):
    def __init__(self, mean: Tensor, std: Tensor) -> None:
        super().__init__()
        self.mean = mean.clone().view(-1, 1, 1)
        self.std = std.clone().view(-1, 1, 1)

    def forward(self, img: Tensor) -> Tensor:
        return (img - self.mean) / self.std


def style_model_and_losses(cnn: nn.Sequential, content_img: Tensor, style_img: Tensor,
                           content_layers: tuple[str, ...] = CONTENT_LAYERS, style_layers: tuple[str, ...] = STYLE_LAYERS,
                           ) -> tuple[nn.Sequential, list[StyleLoss], list[ContentLoss]]:
    device = content_img.device
    normalization = Normalization(torch.tensor(MEAN, device=device), torch.tensor(STD, device=device))
    content_losses: list[ContentLoss] = []
    style_losses: list[StyleLoss] = []
    model = nn.Sequential(normalization)
    i = 0
    for layer in cnn.children():
        if isinstance(layer, nn.Conv2d):
            i += 1
            name = f"conv_{i}"
        elif isinstance(layer, nn.ReLU):
            name = f"relu_{i}"
            layer = nn.ReLU(inplace=False)  # in-place would overwrite what the loss modules saw
        elif isinstance(layer, nn.MaxPool2d):
            name = f"pool_{i}"
        else:
            raise RuntimeError(f"unrecognised layer {type(layer).__name__}")
        model.add_module(name, layer)
        if name in content_layers:
            target = model(content_img).detach()
            content_loss = ContentLoss(target)
            model.add_module(f"content_loss_{i}", content_loss)
            content_losses.append(content_loss)
        if name in style_layers:
            target_feature = model(style_img).detach()
            style_loss = StyleLoss(target_feature)
            model.add_module(f"style_loss_{i}", style_loss)
            style_losses.append(style_loss)
    # Drop everything after the last loss module.
    for j in range(len(model) - 1, -1, -1):
        if isinstance(model[j], (ContentLoss, StyleLoss)):
            break
    return model[: j + 1], style_losses, content_losses


def run_style_transfer(cnn: nn.Sequential, content_img: Tensor, style_img: Tensor, input_img: Tensor,
                       num_steps: int = 300, style_weight: float = 1e6, content_weight: float = 1.0,
                       eval_times: list[float] | None = None) -> Tensor:
    """Optimise ``input_img`` in place; ``eval_times`` (if given) gets a timestamp per closure evaluation."""
    model, style_losses, content_losses = style_model_and_losses(cnn, content_img, style_img)
    input_img.requires_grad_(True)
    model.eval()
    model.requires_grad_(False)
    optimizer = torch.optim.LBFGS([input_img])
    run = [0]
    while run[0] <= num_steps:

        def closure() -> Tensor:
            with torch.no_grad():
                input_img.clamp_(0, 1)
            optimizer.zero_grad()
            model(input_img)
            style_score = sum(sl.loss for sl in style_losses) * style_weight
            content_score = sum(cl.loss for cl in content_losses) * content_weight
            loss = style_score + content_score
            loss.backward()
            run[0] += 1
            if eval_times is not None:
                eval_times.append(time.perf_counter())
            return style_score + content_score

        optimizer.step(closure)
    with torch.no_grad():
        input_img.clamp_(0, 1)
    return input_img
