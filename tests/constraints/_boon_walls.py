"""Shared by the 1-D BOON wall-elimination tests (test_boundary_conditioning.py,
test_boundary_width.py): the condition cases, float64 casting, wall residuals by each
condition's own stencil, and the layer as a dense matrix from impulses."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

import physcon as pc

CASES = {
    "dirichlet": (pc.Dirichlet(0.3), pc.Dirichlet(-1.0)),
    "neumann": (pc.Neumann(0.0, order=1), pc.Neumann(lambda t: 5.0 * jnp.sin(jnp.pi * t), order=3)),
    "periodic": (pc.Periodic(), pc.Periodic()),
    "robin": (pc.Robin(1.0, a=1.0, b=0.2, order=2), pc.Dirichlet(0.0)),
}


def f64(tree):
    return jax.tree.map(lambda a: jnp.asarray(a, jnp.float64) if eqx.is_inexact_array(a) else a, tree)


def wall_errors(u, x, left, right, t):
    """Max |residual| of each wall condition (its own stencil) over the leading axes of ``u: (..., nx)``."""
    if isinstance(left, pc.Periodic):
        return [float(jnp.abs(u[..., 0] - u[..., -1]).max())]
    out = []
    for side, bc in (("left", left), ("right", right)):
        idx, w = pc.boundary_stencil(bc, x, side)
        out.append(float(np.abs(np.asarray(u[..., idx], np.float64) @ w - np.asarray(bc.at(t, jnp.float64))).max()))
    return out


def dense(conv, c, n):
    """The layer as a dense matrix ``A[(o, r), (i, s)]`` from impulses (independent of the closed form)."""
    return np.asarray(jax.vmap(lambda e: conv(e.reshape(c, n)).reshape(-1))(jnp.eye(c * n)).T)


def wall_index(c, n):
    return np.array([ch * n + r for r in (0, n - 1) for ch in range(c)])  # side-major, as A_BB
