"""The generalized porous medium equation ``u_t = (k(u) u_x)_x`` and its test problems
(``physcon.gpme``), with the scalar conservation laws ``u_t + f(u)_x = 0``.

The three diffusion classes of ProbConserv (Hansen et al., ICML 2023, Sec. 4), with the
paper's domains, time windows, parameter ranges and closed forms:

==================  =======================  ===========  =========  =====================
problem             ``k(u)``                 domain       t          parameter (train/test)
==================  =======================  ===========  =========  =====================
:class:`Diffusion`  ``k`` (constant)         [0, 2 pi]    [0, 1]     k ~ U[1, 5]; {1, 5}
:class:`PorousMedium` ``u^m``                [0, 1]       [0, 1]     m ~ U[1, 6]; {1, 3, 6}
:class:`Stefan`     ``1[u >= u*]``           [0, 1]       [0, 0.1]   u* ~ U[.55, .7]; {.5, .6}
==================  =======================  ===========  =========  =====================

plus the appendix's hyperbolic laws :class:`Advection` and :class:`Burgers` (inviscid). Solve
any of them with :func:`solve` (cell values, ``(nt, nx)``) or :func:`simulate` (also the
accumulated boundary inflow)::

    import jax.numpy as jnp, physcon as pc

    grid = pc.Grid1D.cells(0.0, 1.0, n=200)
    stefan = pc.gpme.Stefan(u_star=0.6)
    u = pc.gpme.solve(stefan, grid, jnp.linspace(0.0, 0.1, 11))   # (11, 200), mass to round-off

Inside: :mod:`~physcon.solvers.gpme.problem` (the :class:`Problem` interface),
:mod:`~physcon.solvers.gpme.diffusion` (diffusion problems), :mod:`~physcon.solvers.gpme.hyperbolic`
(conservation laws), :mod:`~physcon.solvers.gpme.fv` (the conservative finite-volume scheme)
and :mod:`~physcon.solvers.gpme.exact` (closed forms, also ``physcon.exact``).
"""

from physcon.solvers.gpme import exact, fv, problem
from physcon.solvers.gpme.diffusion import Diffusion, DiffusionProblem, PorousMedium, Stefan
from physcon.solvers.gpme.fv import Simulation, simulate, solve, stable_dt, stable_substeps
from physcon.solvers.gpme.hyperbolic import Advection, Burgers, ConservationLaw
from physcon.solvers.gpme.problem import Problem

PROBLEMS: dict[str, type[Problem]] = {
    "diffusion": Diffusion,
    "pme": PorousMedium,
    "stefan": Stefan,
    "advection": Advection,
    "burgers": Burgers,
}
"""The problems by the names the data generator and the CLI use."""

__all__ = [
    "DiffusionProblem", "Diffusion", "PorousMedium", "Stefan", "Advection", "Burgers",
    "ConservationLaw", "Problem", "Simulation", "simulate", "solve", "stable_dt",
    "stable_substeps", "PROBLEMS", "exact", "fv", "problem",
]
