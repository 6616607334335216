"""Wall conditions of BOON on a concrete node grid, and ``T1`` (their exact imposition).

``T1`` imposes a Neumann/Robin wall in one of two ways. The published one solves the wall's
one-sided stencil for the wall node (the wall value absorbs whatever the interior implies, so a
slope error of the interior becomes a kink at the last node, which another stencil sees). With a
*lift* of length ``ell`` (:func:`lift_profile`) the wall node is first replaced by the quadratic
extrapolation of the three nodes next to it and the derivative is then corrected by a multiple
of the smooth profile ``psi(s) = s exp(-s / ell)`` (``s`` the distance from the wall,
``psi(0) = 0``, ``psi'(0) = 1``): the same profile in ``x`` at every grid spacing, so the
corrected field stays smooth at the wall and every consistent stencil sees the same derivative.
Both are exact for the wall's own stencil (the two walls' corrections are solved jointly, a
``2 x 2`` system, so neither disturbs the other wall).
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from physcon.bc import Neumann, Periodic, Robin, boundary_stencil, fd_weights

class _Wall(eqx.Module):
    """One wall's condition on a concrete grid: ``sum_j w_j u[index_j] = g`` (``index[0]`` the
    wall row), or ``periodic``. ``g`` has the wall's shape ``rest`` (or broadcasts to it)."""

    index: tuple[int, ...] = eqx.field(static=True)
    weights: tuple[float, ...] = eqx.field(static=True)
    g: Array | None
    periodic: bool = eqx.field(static=True, default=False)
    #: the lift: the smooth profile ``psi`` over the axis (``(n,)``) and the wall node's
    #: extrapolation ``(index, weights)`` from the interior; ``None`` for the stencil solve
    psi: tuple[float, ...] | None = eqx.field(static=True, default=None)
    extrap: tuple | None = eqx.field(static=True, default=None)


def lift_profile(x, side: str, ell: float) -> np.ndarray:
    """The lift's smooth profile ``psi`` on the nodes ``x`` for the wall on ``side``:
    ``(x - a) exp(-(x - a) / ell)`` at the left wall ``a``, ``(x - b) exp((x - b) / ell)`` at the
    right wall ``b``, so that ``psi = 0`` and ``dpsi/dx = 1`` at the wall (float64, ``(n,)``)."""
    x = np.asarray(x, np.float64)
    s = x - x[0] if side == "left" else x[-1] - x
    psi = s * np.exp(-s / ell)
    return psi if side == "left" else -psi


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


def _walls(left, right, n, domain, values, t, rest, dtype, names=("left", "right"), lift=None):
    """The two walls of axis 0 on ``linspace(*domain, n)``; ``names`` label them in errors.
    ``lift``: the length of the lift profile of Neumann/Robin walls (``None``: stencil solve)."""
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
        psi = extrap = None
        if lift is not None and (isinstance(bc, Neumann) or (isinstance(bc, Robin) and bc.b != 0)):
            if n < 4 + 1:
                raise ValueError(f"{name}: the lift needs at least 5 nodes, got {n}")
            near = np.arange(1, 4) if side == "left" else n - 1 - np.arange(1, 4)
            extrap = (tuple(int(i) for i in near), tuple(float(c) for c in fd_weights(x[index[0]], x[near], 0)))
            psi = tuple(float(c) for c in lift_profile(x, side, lift))
        out.append(_Wall(tuple(int(i) for i in index), tuple(float(c) for c in w),
                         _wall_value(name, bc, val, t, rest, dtype), psi=psi, extrap=extrap))
    return tuple(out)


def check_corners(walls, walls_y, v):
    """``v`` unchanged, but an error (``eqx.error_if``: eagerly and under ``jit``) if an x wall
    and a y wall are both Dirichlet (a single wall node) and their values disagree at a corner
    by more than ``8 eps (1 + |g|)``: only one of them can hold there, so the caller must say
    which (``BOON(..., corners="x" | "y")``)."""
    names_x, names_y = ("left", "right"), ("bottom", "top")
    for i, wx in enumerate(walls):
        for j, wy in enumerate(walls_y):
            if wx.periodic or wy.periodic or len(wx.index) > 1 or len(wy.index) > 1 or wx.psi or wy.psi:
                continue
            # x wall i along y at row 0 / -1 (y wall j); y wall j along x at row 0 / -1 (x wall i)
            gx = wx.g[wy.index[0]] / wx.weights[0]
            gy = wy.g[wx.index[0]] / wy.weights[0]
            eps = jnp.finfo(v.dtype).eps
            bad = jnp.any(jnp.abs(gx - gy) > 8 * eps * (1 + jnp.maximum(jnp.abs(gx), jnp.abs(gy))))
            v = eqx.error_if(v, bad, f"corners: the Dirichlet values of {names_x[i]} and {names_y[j]} disagree at "
                             f"their corner; only one can hold there: pass corners='x' or corners='y'")
    return v


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
    elif walls[0].psi is not None or walls[1].psi is not None:
        v = _lift(v, walls)
    else:
        vals = []
        for w in walls:
            val = w.g.astype(v.dtype)
            for i, c in zip(w.index[1:], w.weights[1:]):
                val = val - c * v[:, i]
            vals.append(jnp.broadcast_to(val / w.weights[0], v[:, 0].shape))
        v = v.at[:, walls[0].index[0]].set(vals[0]).at[:, walls[1].index[0]].set(vals[1])
    return 0.5 * v if halve else v


def _functional(w, v):
    """``sum_j w_j v[:, index_j]``: the wall's stencil applied to every channel, ``(c, *rest)``."""
    return sum(c * v[:, i] for i, c in zip(w.index, w.weights))


def _lift(v, walls):
    """``T1`` with lifted Neumann/Robin walls: wall nodes extrapolated, then ``v + a_L d_L + a_R
    d_R`` with ``d = psi`` (lifted walls) or the wall node's unit vector (other walls) and the
    two amplitudes solved from the ``2 x 2`` system ``F_s(v + a_L d_L + a_R d_R) = g_s``."""
    n = v.shape[1]
    for w in walls:
        if w.extrap is not None:
            v = v.at[:, w.index[0]].set(sum(c * v[:, i] for i, c in zip(*w.extrap)))
    dirs = []
    for w in walls:
        if w.psi is not None:
            dirs.append(np.asarray(w.psi, np.float64))
        else:
            dirs.append(np.eye(n)[w.index[0]])
    m = np.array([[sum(c * d[i] for i, c in zip(w.index, w.weights)) for d in dirs] for w in walls])
    minv = np.linalg.inv(m)
    r = [w.g.astype(v.dtype) - _functional(w, v) for w in walls]
    shape = (1, n) + (1,) * (v.ndim - 2)
    for k, d in enumerate(dirs):
        amp = minv[k, 0] * r[0] + minv[k, 1] * r[1]
        v = v + amp[:, None] * jnp.asarray(d, v.dtype).reshape(shape)
    return v


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
