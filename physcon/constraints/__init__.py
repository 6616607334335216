"""Transforms that make predictions satisfy physics exactly, and the soft (penalty) baselines."""

from physcon.constraints.boundary import BOON, boon_conditioning, decouple, enforce
from physcon.constraints.conservation import (
    LinearConstraint,
    conservation_law,
    hard_projection,
    probconserv,
)
from physcon.constraints.likelihood import constrained_nll
from physcon.constraints.mass_walls import mass_and_walls
from physcon.constraints.soft import conservation_penalty, pointwise_residual, soft_penalty

__all__ = [
    "BOON", "boon_conditioning", "decouple", "enforce",
    "LinearConstraint", "conservation_law", "hard_projection", "probconserv", "mass_and_walls",
    "constrained_nll", "conservation_penalty", "pointwise_residual", "soft_penalty",
]
