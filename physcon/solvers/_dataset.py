"""The record every 1-D operator-data generator returns (heat, Stokes, Burgers), and the batched
march that fills it.

The class keeps its historical name :class:`BoonDataset` (the 1-D sets of the BOON paper were
the first it held); it is a plain ``(x, t, a, u, params)`` tuple for any input-to-field map.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
from jaxtyping import Array

__all__ = ["BoonDataset"]


class BoonDataset(NamedTuple):
    """Inputs and targets of one generated data set.

    Attributes:
        x: grid points, shape ``(nx,)``.
        t: output times, shape ``(nt,)`` (``nt = 1`` for a single-step set).
        a: inputs (initial conditions ``u(x, 0)``), shape ``(n, nx)``.
        u: targets ``u(x, t)``, shape ``(n, nt, nx)``; the single-step target is ``u[:, -1]``.
        params: the drawn per-sample parameters, each of shape ``(n,)``.
    """

    x: Array
    t: Array
    a: Array
    u: Array
    params: dict


def _march(solve, u0, t_np, dtype, substeps, count):
    """``solve(u0, t, t0, substeps)`` batched; with ``substeps=None`` the first interval
    ``[0, t[0]]`` and the (often much shorter) frame intervals get their own counts
    ``count(t, t0)``."""
    t = jnp.asarray(t_np, dtype)
    if substeps is not None:
        return solve(u0, t, 0.0, substeps)
    first = solve(u0, t[:1], 0.0, count(t_np[:1], 0.0))
    if t_np.size == 1:
        return first
    rest = solve(first[:, 0], t[1:], float(t_np[0]), count(t_np[1:], float(t_np[0])))
    return jnp.concatenate([first, rest], axis=1)


