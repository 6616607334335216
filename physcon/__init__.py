"""physcon: physics-constrained machine learning in JAX.

Differentiable PDE solvers generate data; neural surrogates learn the map; constraint layers
make predictions obey conservation laws and boundary conditions exactly.
"""

from physcon._version import __version__
from physcon.bc import Dirichlet, Neumann, Periodic, Robin, boundary_stencil, fd_weights
from physcon.grid import Grid1D
from physcon.solvers import darcy, gpme, navier_stokes, wave
from physcon.solvers.gpme import exact
from physcon import constraints, data, distributions, metrics, models, tasks


__all__ = [
    "__version__", "Grid1D", "Dirichlet", "Neumann", "Periodic", "Robin", "boundary_stencil", "fd_weights",
    "gpme", "exact", "darcy", "navier_stokes", "wave", "data", "distributions", "constraints", "metrics", "models", "tasks", "train",
]
from physcon import train  # noqa: E402


def __getattr__(name):
    if name == "operator_data":  # deprecated alias of physcon.data.operator, imported (and warned about) on use
        import importlib

        return importlib.import_module("physcon.operator_data")
    raise AttributeError(f"module 'physcon' has no attribute {name!r}")
