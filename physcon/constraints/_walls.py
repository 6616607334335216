"""Wall conditions of BOON on a concrete node grid, and ``T1`` (their exact imposition)."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from physcon.bc import Periodic, boundary_stencil

class _Wall(eqx.Module):
    """One wall's condition on a concrete grid: ``sum_j w_j u[index_j] = g`` (``index[0]`` the
    wall row), or ``periodic``. ``g`` has the wall's shape ``rest`` (or broadcasts to it)."""

    index: tuple[int, ...] = eqx.field(static=True)
    weights: tuple[float, ...] = eqx.field(static=True)
    g: Array | None
    periodic: bool = eqx.field(static=True, default=False)


def _wall_value(name, bc, override, t, rest, dtype):
    if override is not None:
        g = jnp.asarray(override, dtype)
    elif callable(bc.value):
        if t is None:
            raise ValueError(f"{name}: the boundary value is a function of time; pass t")
        g = jnp.asarray(bc.value(jnp.asarray(t, dtype)), dtype)
    else:
        g = jnp.asarray(bc.value, dtype)
    try:
        g = jnp.broadcast_to(g, rest)
    except ValueError:
        raise ValueError(
            f"{name}: boundary value of shape {g.shape} does not broadcast to the wall's shape "
            f"{rest}") from None
    return eqx.error_if(g, ~jnp.all(jnp.isfinite(g)), f"{name}: boundary value must be finite")


def _walls(left, right, n, domain, values, t, rest, dtype, names=("left", "right")):
    """The two walls of axis 0 on ``linspace(*domain, n)``; ``names`` label them in errors."""
    if isinstance(left, Periodic):
        return (_Wall((0,), (1.0,), None, True), _Wall((n - 1,), (1.0,), None, True))
    x = np.linspace(domain[0], domain[1], n)
    out = []
    for side, name, bc, val in (("left", names[0], left, values[0]), ("right", names[1], right, values[1])):
        index, w = boundary_stencil(bc, x, side)
        other = n - 1 if side == "left" else 0
        if len(index) > 1 and other in index:
            raise ValueError(
                f"{name}: the {type(bc).__name__} stencil of order {bc.order} reaches the other wall "
                f"on a grid of {n} nodes; use a lower order or a finer grid")
        out.append(_Wall(tuple(int(i) for i in index), tuple(float(c) for c in w),
                         _wall_value(name, bc, val, t, rest, dtype)))
    return tuple(out)


def _pad_walls(walls, pads):
    """Zero-pad the wall values along padded axes (the reference pads the BC series)."""
    if not any(pads[1:]):
        return walls
    return tuple(w if w.g is None else eqx.tree_at(lambda q: q.g, w, jnp.pad(w.g, [(0, p) for p in pads[1:]]))
                 for w in walls)


def enforce(v: Float[Array, "c n *rest"], walls, halve: bool = False) -> Float[Array, "c n *rest"]:
    """``T1``: impose the wall conditions on every channel of ``v`` (walls on axis 1).

    Dirichlet sets the row; Neumann/Robin solve their stencil for the wall row; periodic walls
    are both set to their average. ``halve`` divides the whole field by 2 afterwards (the
    reference's Neumann branches; see the module docstring). The two stencils never reach the
    other wall (checked in :func:`_walls`), so both wall values come from the incoming ``v``.
    """
    if walls[0].periodic:
        i0, i1 = walls[0].index[0], walls[1].index[0]
        avg = 0.5 * (v[:, i0] + v[:, i1])
        v = v.at[:, i0].set(avg).at[:, i1].set(avg)
    else:
        vals = []
        for w in walls:
            val = w.g.astype(v.dtype)
            for i, c in zip(w.index[1:], w.weights[1:]):
                val = val - c * v[:, i]
            vals.append(jnp.broadcast_to(val / w.weights[0], v[:, 0].shape))
        v = v.at[:, walls[0].index[0]].set(vals[0]).at[:, walls[1].index[0]].set(vals[1])
    return 0.5 * v if halve else v


def _swap(v):
    """Grid axes 0 and 1 of a channel-first field swapped (the y walls become axis-0 walls)."""
    return jnp.swapaxes(v, 1, 2)


def impose(v: Float[Array, "c nx ny *rest"], walls, walls_y=None, corners: str = "x"):
    """``T1`` on the walls of grid axis 0 and, if ``walls_y`` is given, of axis 1 (``v``'s axes 1
    and 2). The axis named by ``corners`` is imposed last, so its conditions hold on their whole
    lines, the corners included; the other axis' conditions hold at every node off them."""
    if walls_y is None:
        return enforce(v, walls)
    on_y = lambda u: _swap(enforce(_swap(u), walls_y))  # noqa: E731
    return enforce(on_y(v), walls) if corners == "x" else on_y(enforce(v, walls))
