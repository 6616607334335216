"""Data of the BOON reproduction (:mod:`physcon.experiments.boon`): the test sets at the
training resolution, at half the spacing (2x) and at about twice it (0.5x)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from physcon.data import operator as od

#: problems whose inputs are the same functions on every grid (closed-form initial data), so a
#: coarser set holds the same samples and the 0.5x zero-shot evaluation is possible (the
#: Burgers inputs are drawn on the solver's grid, which changes with ``nx``)
COARSE_OK = ("heat_neumann", "stokes")

def _fine(nx: int) -> int:
    """Nodes of the grid with half the spacing (walls kept; periodic: the same rule)."""
    return 2 * nx - 1


def _coarse(nx: int) -> int:
    """Nodes of the grid with about twice the spacing: ``(nx + 1) // 2`` (exactly twice for odd ``nx``)."""
    return (nx + 1) // 2


def generate(problem: str, n: int, *, multi_step: bool, quick: bool, nx: int | None = None, seed: int = 0,
             fine: bool = False, coarse: bool = False) -> dict:
    """``n`` samples from :func:`physcon.data.operator.boon_dataset` in float64 NumPy:
    ``{"x": (nx,), "t": (nt,), "a": (n, nx), "u": (n, nt, nx), "left", "right": (n, nt) | None}``
    (the walls' prescribed values, :func:`physcon.data.operator.boundary_values`). With
    ``fine=True`` the same samples on ``2 nx - 1`` nodes, solved on the same fine grid where the
    preset's ``refine`` is even. With ``coarse=True`` the same samples (:data:`COARSE_OK`
    problems) on ``(nx + 1) // 2`` nodes, solved ``2 refine`` times finer (about the same solver grid)."""
    sizes = od.BOON_PROBLEMS[problem].sizes(multi_step, quick)
    nx = nx or sizes.nx
    refine = sizes.refine
    if fine:
        nx, refine = _fine(nx), max(1, refine // 2)
    elif coarse:
        nx, refine = _coarse(nx), (1 if problem == "stokes" else 2 * refine)  # Stokes: a closed form
    with jax.enable_x64(True):
        ds = od.boon_dataset(problem, multi_step=multi_step, n=n, seed=seed, nx=nx, quick=quick, refine=refine,
                             dtype=jnp.float64)
        lv, rv = od.boundary_values(problem, ds)
        out = {k: np.asarray(getattr(ds, k), np.float64) for k in ("x", "t", "a", "u")}
        out["left"], out["right"] = (None if v is None else np.asarray(v, np.float64) for v in (lv, rv))
    return out


def coarsen(ds: dict) -> dict:
    """Every second node of a data set on ``2 nx - 1`` nodes: the set on ``nx`` nodes (the walls
    and, for Dirichlet data, their values are unchanged). Equal to :func:`generate` on ``nx``
    nodes whenever both solve on the same fine grid (an even preset ``refine``, or Stokes)."""
    return {k: (v if k in ("t", "left", "right") or v is None else v[..., ::2]) for k, v in ds.items()}
