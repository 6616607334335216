"""Shared fixtures.

* ``x64``: run one test with ``jax_enable_x64`` on (restored afterwards), for round-off checks.
* ``fv_run``: a session cache of float64 finite-volume runs, so the mass-balance and the
  convergence tests share the (compile-heavy) solves instead of repeating them.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import tempfile
from types import SimpleNamespace

# One persistent XLA compilation cache for the whole run: the xdist workers, the CLI
# subprocesses and the notebook kernels (they inherit the environment) compile the same ANP/FNO
# steps; sharing them measured 626 -> 377 s for the demo test + the Stefan notebook (loaded
# machine, fresh cache). Set before jax is imported so that this process uses it too.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR",
                      os.path.join(tempfile.gettempdir(), f"physcon-jax-cache-{getpass.getuser()}"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")

import jax  # noqa: E402
import numpy as np
import pytest


@contextlib.contextmanager
def _x64(enabled: bool):
    previous = bool(jax.config.jax_enable_x64)
    jax.config.update("jax_enable_x64", enabled)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", previous)


@pytest.fixture
def x64():
    """Enable float64 for one test and restore the previous setting afterwards."""
    with _x64(True):
        yield


@pytest.fixture
def x32():
    """Run one test with float64 disabled (JAX's default), whatever the session set."""
    with _x64(False):
        yield


@pytest.fixture(scope="session")
def fv_run():
    """``run(problem, n, tmax=None, nt=11)``: a cached float64 ``physcon.gpme.simulate`` run.

    The problem is solved on ``Grid1D.cells(*problem.domain, n)`` at ``nt`` equally spaced
    times from ``t_span[0]`` to ``tmax`` (default ``t_span[1]``) with the default (stable)
    substeps. Returns NumPy float64 arrays: ``t, x, u, inflow, exact`` and the ``grid``.
    """
    import physcon

    cache: dict = {}

    def run(problem, n: int, tmax: float | None = None, nt: int = 11) -> SimpleNamespace:
        key = (repr(problem), n, tmax, nt)
        if key not in cache:
            with _x64(True):
                grid = physcon.Grid1D.cells(*problem.domain, n=n)
                t = np.linspace(problem.t_span[0], problem.t_span[1] if tmax is None else tmax, nt)
                sim = physcon.gpme.simulate(problem, grid, t)
                assert sim.u.dtype == np.float64
                cache[key] = SimpleNamespace(
                    grid=grid,
                    t=np.asarray(sim.t),
                    x=grid.x_np(),
                    u=np.asarray(sim.u),
                    inflow=np.asarray(sim.inflow),
                    exact=np.asarray(problem.exact(grid.x_np(), t)),
                    substeps=sim.substeps,
                )
        return cache[key]

    return run


def l1_time_averaged(run) -> float:
    """``mean over output times t > t0 of integral |u - u_exact| dx`` (midpoint rule)."""
    err = np.abs(run.u[1:] - run.exact[1:]).sum(-1) * run.grid.dx
    return float(err.mean())


@pytest.fixture(scope="session")
def order_of():
    """``order_of(ns, errors)``: the fitted convergence order, the least-squares slope of
    ``log(error)`` against ``log(dx)`` with ``dx = 1/n``."""
    from physcon.metrics import convergence_order

    def order_of(ns, errors) -> float:
        return convergence_order(1.0 / np.asarray(ns, float), errors)

    return order_of


@pytest.fixture(scope="session")
def l1_error():
    """``l1_error(run)``: L1 error averaged over the output times after ``t0``."""
    return l1_time_averaged
