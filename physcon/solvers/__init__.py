"""Pure-JAX differentiable PDE solvers that generate training data."""

from physcon.solvers import boon_problems, exact, fv, gpme, hyperbolic

__all__ = ["boon_problems", "exact", "fv", "gpme", "hyperbolic"]
