"""Pure-JAX differentiable PDE solvers that generate training data."""

from physcon.solvers import exact, fv, gpme, hyperbolic

__all__ = ["exact", "fv", "gpme", "hyperbolic"]
