"""Mass and walls together: one linear constraint per time step holding the conservation row
and the boundary rows, so ProbConserv keeps a BOON output's walls.

ProbConserv's update ``mu - Sigma G^T S^-1 (G mu - b)`` moves every point where the
prediction is uncertain, the wall points included: a prediction that satisfied its boundary
conditions (a BOON output) loses them after a mass-only update. Conditioning on the stacked
rows ``[w^T; l^T; r^T]`` (quadrature weights, the left and right wall functionals of
:func:`physcon.bc.boundary_stencil`) at once gives the posterior in which the mass *and* the
walls hold exactly, for the mean and for every sample (Matheron's rule), with any of
:func:`~physcon.constraints.probconserv`'s covariances.
"""

from __future__ import annotations

from typing import Callable, Union

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from physcon.bc import BoundaryCondition, Dirichlet, Neumann, Periodic, Robin, boundary_stencil
from physcon.constraints.conservation import LinearConstraint, conservation_law
from physcon.grid import Grid1D


def _wall_row(name, bc, x, side):
    if isinstance(bc, Periodic) or not isinstance(bc, (Dirichlet, Neumann, Robin)):
        raise ValueError(f"{name} must be Dirichlet, Neumann or Robin (one row per wall), got {bc!r}")
    index, w = boundary_stencil(bc, x, side)
    row = np.zeros(x.size)
    row[index] = w
    return row


def _values(name, bc, t, dtype):
    v = bc.value(t) if callable(bc.value) else bc.value
    v = jnp.asarray(v, dtype)
    try:
        return jnp.broadcast_to(v, t.shape)
    except ValueError:
        raise ValueError(f"{name}: the boundary value must be a scalar or one value per time (shape {t.shape}), "
                         f"got shape {v.shape}") from None


def mass_and_walls(
    grid: Grid1D,
    t: Float[ArrayLike, " nt"],
    mass: Union[Float[ArrayLike, " nt"], Callable[[Array], Array]],
    left: BoundaryCondition | None = None,
    right: BoundaryCondition | None = None,
    noise: float | ArrayLike = 0.0,
    wall_noise: float | ArrayLike = 0.0,
    rule: str | None = None,
) -> LinearConstraint:
    """``integral u(x, t_j) dx = mass(t_j)`` and the wall conditions, stacked per time step.

    Args:
        grid: a node grid (:meth:`Grid1D.nodes` with both walls), ``nx`` points.
        t: times, ``(nt,)``.
        mass: ``b(t_j)``, ``(nt,)``, or a function of ``t``.
        left, right: :class:`~physcon.bc.Dirichlet` (``u = g``), :class:`~physcon.bc.Neumann`
            (``du/dx = g`` by the condition's one-sided stencil of order ``order``) or
            :class:`~physcon.bc.Robin` at ``x = grid.a`` / ``grid.b``; ``None`` leaves that wall
            free. Values are constants or functions of ``t``.
        noise: ``sigma_G`` of the mass row (0 = exact), scalar or ``(nt,)``.
        wall_noise: standard deviation of the wall rows (0 = exact), scalar.
        rule: quadrature rule of the mass row (default: the grid's, trapezoid on nodes).

    Returns:
        A :class:`LinearConstraint` with ``r = 1 + number of walls`` rows per time step, in
        the order mass, left, right; use it with :func:`probconserv`.

    Raises:
        ValueError: a cell grid or a periodic node grid (no wall nodes), a Periodic condition,
            a stencil longer than the grid, or rows that are linearly dependent (too few
            nodes for the mass and both wall conditions: with ``sigma_G = 0`` they would be
            contradictory or redundant).
    """
    if grid.kind != "nodes" or not grid.endpoint:
        raise ValueError(f"mass_and_walls needs a node grid with both walls (Grid1D.nodes), got a {grid.kind} grid"
                         + ("" if grid.endpoint else " without the right wall"))
    law = conservation_law(grid, t, mass, noise=noise, rule=rule)
    walls = [(n, bc, s) for n, bc, s in (("left", left, "left"), ("right", right, "right")) if bc is not None]
    if not walls:
        return law
    x = grid.x_np()
    nt, dtype = law.G.shape[0], law.G.dtype
    rows = np.stack([np.asarray(grid.quadrature_np(rule))] + [_wall_row(n, bc, x, s) for n, bc, s in walls])
    sv = np.zeros(rows.shape[0])  # more rows than nodes: the missing singular values are 0
    sv[:min(rows.shape)] = np.linalg.svd(rows, compute_uv=False)
    if sv[-1] <= 1e-10 * sv[0]:
        names = ", ".join(["mass"] + [f"{n}={type(bc).__name__}" for n, bc, _ in walls])
        raise ValueError(
            f"inconsistent constraint rows: the mass row and the wall rows ({names}) are linearly dependent on "
            f"{grid.n} nodes (smallest/largest singular value {sv[-1] / sv[0]:.1e}); with sigma_G = 0 the "
            "conditions contradict (or repeat) each other; use a finer grid or lower stencil orders")
    tt = jnp.asarray(t, dtype)
    b = jnp.concatenate([law.b] + [_values(n, bc, tt, dtype)[:, None] for n, bc, _ in walls], axis=1)
    wn = jnp.broadcast_to(jnp.asarray(wall_noise, dtype), (nt, len(walls)))
    G = jnp.broadcast_to(jnp.asarray(rows, dtype), (nt,) + rows.shape)
    return LinearConstraint(G, b, jnp.concatenate([law.noise, wn], axis=1), check_G=False)
