"""Pure-JAX differentiable PDE solvers that generate training data, one module per physical system.

* :mod:`~physcon.solvers.gpme` the generalized porous medium equation ``u_t = (k(u) u_x)_x``
  (diffusion, porous medium, Stefan) and the scalar conservation laws (advection, inviscid
  Burgers) on a 1-D finite-volume cell grid, with their closed forms (``gpme.exact``).
* :mod:`~physcon.solvers.heat` heat with Neumann walls (exact in time in the DCT-I basis).
* :mod:`~physcon.solvers.stokes` Stokes' second problem (oscillating wall, closed form).
* :mod:`~physcon.solvers.burgers` viscous Burgers, periodic (pseudo-spectral) and Dirichlet.
* :mod:`~physcon.solvers.wave` the 2-D wave equation with Neumann walls (exact in time).
* :mod:`~physcon.solvers.darcy` 2-D Darcy flow ``-div(a grad p) = f`` with Dirichlet walls (FNO's benchmark).
* :mod:`~physcon.solvers.navier_stokes` 2-D incompressible Navier-Stokes: the periodic
  pseudo-spectral vorticity solver and the lid-driven cavity.

Shared numerics sit beside them: ``_spectral`` (DCT-I/DST-I bases and transforms, ETD and
integrating-factor RK4), ``_checks`` (argument checks), ``_dataset`` (the 1-D data record).
Solvers import only the ground floor (``grid``, ``bc``) and each other, never models or
constraints. The pre-1.0 flat module paths (``boon_problems``, ``cavity``, ``ns_spectral``,
``fv``, ...) still import, with a ``DeprecationWarning`` naming the new path
(:mod:`physcon.solvers._deprecated`).
"""

from physcon.solvers import _deprecated
from physcon.solvers import burgers, darcy, gpme, heat, navier_stokes, stokes, wave
from physcon.solvers._dataset import BoonDataset

_deprecated.install()

__all__ = ["BoonDataset", "burgers", "darcy", "gpme", "heat", "navier_stokes", "stokes", "wave"]


def __getattr__(name: str):
    return _deprecated.attribute(name)
