"""Gatys et al.'s style method: the squared distance between Gram matrices (raw second moments)."""

from __future__ import annotations

from torch import Tensor

from ..numerics import EPS
from .statistics import Moments, StatisticsMethod, StyleLoss


class GramLoss(StyleLoss):
    """‖G − G_target‖² / ‖G_target‖²: matches E[f fᵀ] only, so mean and spread of a channel trade off."""

    name = "gram"
    uses_mean = False

    def __init__(self, target: Moments) -> None:
        self.target = target.second
        self.norm = target.second.square().sum(dim=(-2, -1)) + EPS

    def distance(self, current: Moments) -> Tensor:
        return (current.second - self.target).square().sum(dim=(-2, -1)) / self.norm


class Gram(StatisticsMethod):
    name = "gram"
    summary = "Gatys' Gram matrices"
    loss = GramLoss


METHOD = Gram()
