"""Accuracy of the finite-volume GPME solvers against their closed forms.

:func:`convergence` solves one problem on a sequence of grids and fits the observed order of
the L1 error (averaged over the output times after ``t0``) and reports the discrete mass
balance. Used by ``physcon demo``, the README's accuracy table and the tests.
"""

from __future__ import annotations

import time

import jax.numpy as jnp
import numpy as np

from physcon.grid import Grid1D
from physcon.metrics import convergence_order, l1_error
from physcon.solvers.gpme.fv import simulate


def convergence(problem, ns=(50, 100, 200, 400), nt: int = 11, t_end: float | None = None) -> dict:
    """Errors of ``problem`` on grids of ``ns`` cells against ``problem.exact``.

    Returns a dict with ``n``, ``dx``, ``l1`` (mean over output times ``t > t0`` of the L1
    error), ``linf_final`` (max error at the last time), ``mass_balance`` (max relative
    ``|dx sum u(t) - dx sum u(0) - inflow(t)|``), ``mass_error`` (relative gap between the
    discrete mass and the closed-form ``mass(t)`` at the last time), ``seconds`` and
    ``order`` (the fitted slope of log L1 against log dx).
    """
    t = jnp.linspace(problem.t_span[0], problem.t_span[1] if t_end is None else t_end, nt)
    out = {k: [] for k in ("n", "dx", "l1", "linf_final", "mass_balance", "mass_error", "seconds")}
    for n in ns:
        grid = Grid1D.cells(*problem.domain, n=n)
        start = time.perf_counter()
        sim = simulate(problem, grid, t)
        u = np.asarray(sim.u.block_until_ready())
        seconds = time.perf_counter() - start
        exact = np.asarray(problem.exact(grid.points(u.dtype), t))
        w = np.asarray(grid.weights)
        mass = u @ w
        scale = max(float(np.abs(np.asarray(problem.mass(t))).max()), float(np.abs(u[0]) @ w), 1e-30)
        out["n"].append(n)
        out["dx"].append(grid.dx)
        out["l1"].append(float(np.mean(np.asarray(l1_error(u[1:], exact[1:], w)))))
        out["linf_final"].append(float(np.abs(u[-1] - exact[-1]).max()))
        out["mass_balance"].append(float(np.abs(mass - mass[0] - np.asarray(sim.inflow)).max() / scale))
        out["mass_error"].append(float(abs(mass[-1] - float(problem.mass(t[-1]))) / scale))
        out["seconds"].append(seconds)
    out["order"] = convergence_order(out["dx"], out["l1"])
    return out
