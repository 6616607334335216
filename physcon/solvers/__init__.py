"""Pure-JAX differentiable PDE solvers that generate training data."""

from physcon.solvers import boon_problems, cavity, cavity_data, darcy, exact, fv, gpme, hyperbolic, navier_stokes, wave

__all__ = ["boon_problems", "cavity", "cavity_data", "darcy", "exact", "fv", "gpme", "hyperbolic", "navier_stokes", "wave"]
