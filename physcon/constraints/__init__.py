"""Transforms that make predictions satisfy physics exactly."""

from physcon.constraints.conservation import (
    LinearConstraint,
    conservation_law,
    hard_projection,
    probconserv,
)

__all__ = ["LinearConstraint", "conservation_law", "hard_projection", "probconserv"]
