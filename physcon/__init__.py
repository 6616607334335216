"""physcon: physics-constrained machine learning in JAX.

Differentiable PDE solvers generate data; neural surrogates learn the map; constraint layers
make predictions obey conservation laws and boundary conditions exactly.
"""

from physcon._version import __version__
from physcon.bc import Dirichlet, Neumann, Periodic, Robin, boundary_stencil, fd_weights
from physcon.grid import Grid1D
from physcon.solvers import darcy, exact, gpme, navier_stokes, wave
from physcon import constraints, data, distributions, metrics, models, operator_data, tasks


__all__ = [
    "__version__", "Grid1D", "Dirichlet", "Neumann", "Periodic", "Robin", "boundary_stencil", "fd_weights",
    "gpme", "exact", "darcy", "navier_stokes", "wave", "data", "operator_data", "distributions", "constraints", "metrics", "models", "tasks", "train",
]
from physcon import train  # noqa: E402
