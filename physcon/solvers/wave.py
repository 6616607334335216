"""2-D wave equation with Neumann walls (the BOON paper's §4.2.2 experiment, whose code was never
released; research/boon.md §2).

    u_tt = c^2 (u_xx + u_yy)   on [0, Lx] x [0, Ly],   du/dn = 0 on all four walls,
    u(x, y, 0) = u0,   u_t(x, y, 0) = v0.

Discretisation: node grids that include the walls (``linspace(0, L, n)``, as BOON's grids), the
vertex-centred second-order Laplacian with half cells at the walls (zero wall flux), i.e.
``(u_{i+1} - 2 u_i + u_{i-1}) / h^2`` with the mirror ghost ``u_{-1} = u_1``. Along each axis it
is diagonalised *exactly* by the DCT-I basis ``cos(j pi i / (n - 1))`` with eigenvalues
``-(4 / h^2) sin^2(j pi / (2 (n - 1)))``, so the semi-discrete system is integrated exactly in
time, mode by mode:

    u_hat(t) = u_hat0 cos(w t) + v_hat0 sin(w t) / w,   w^2 = c^2 (lam_x + lam_y),

with ``sin(w t) / w -> t`` for the constant mode. No time step, hence no CFL limit; the discrete
energy ``sum_ij W_ij (u_t^2 + c^2 |grad_h u|^2) / 2`` (trapezoid weights ``W``) is conserved to
round-off. A cosine mode ``cos(a pi x / Lx) cos(b pi y / Ly)`` sampled on the grid is an exact
eigenvector, so the only error against the analytic solution is the O(h^2) dispersion of ``w``.

Random data (:func:`generate_wave_neumann`, a documented choice since the paper's generator is
unpublished): the initial displacement is a Gaussian random field in the Neumann eigenbasis,
``u0 = sum_{j,k} xi_jk (pi^2 (j^2 + k^2) + tau^2)^(-alpha/2) cos(j pi x) cos(k pi y)`` on the unit
square, ``xi ~ N(0, 1)``, ``j, k < modes`` (``tau = 5, alpha = 3`` by default), scaled to unit
maximum; the initial velocity is zero. Each field satisfies the walls' Neumann condition exactly.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from physcon.solvers._checks import _check_n, _check_times, _dtype
from physcon.solvers._spectral import _dct1_basis

__all__ = ["wave_neumann_solve", "wave_energy", "wave_neumann_grf", "WaveDataset", "generate_wave_neumann"]


def _axis(n: int, length: float, dtype):
    """DCT-I basis, its inverse and the Laplacian eigenvalues ``(4/h^2) sin^2`` along one axis."""
    V, Vinv, s2 = _dct1_basis(n)
    h = length / (n - 1)
    return jnp.asarray(V, dtype), jnp.asarray(Vinv, dtype), jnp.asarray(4.0 * s2 / h**2, dtype)


def _check_field(name: str, u, shape=None):
    u = jnp.asarray(u)
    if u.ndim != 2 or min(u.shape) < 3:
        raise ValueError(f"{name} must be a 2-D field (nx, ny) with at least 3 nodes per axis, got shape {u.shape}")
    if shape is not None and u.shape != shape:
        raise ValueError(f"{name} must have the shape of u0 {shape}, got {u.shape}")
    return u


def _check_positive(name: str, value) -> float:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def wave_neumann_solve(
    u0: Float[ArrayLike, "nx ny"],
    t: Float[ArrayLike, " nt"],
    *,
    c: float = 1.0,
    v0: Float[ArrayLike, "nx ny"] | None = None,
    length: tuple[float, float] = (1.0, 1.0),
) -> Float[Array, "nt nx ny"]:
    """``u(x, y, t)`` of the 2-D wave equation with zero Neumann walls at the times ``t``.

    Args:
        u0: initial displacement on the node grid ``linspace(0, Lx, nx) x linspace(0, Ly, ny)``
            (walls included), ``(nx, ny)``, ``nx, ny >= 3``.
        t: output times, non-decreasing and ``>= 0``, ``(nt,)``; the solution is exact in time.
        c: wave speed (length per time unit).
        v0: initial velocity ``u_t(x, y, 0)``, ``(nx, ny)`` (default zero).
        length: ``(Lx, Ly)``.

    Returns:
        ``(nt, nx, ny)`` in the dtype of ``u0`` (float64 needs ``jax_enable_x64``).
    """
    u0 = _check_field("u0", u0)
    dtype = _dtype(u0.dtype if jnp.issubdtype(u0.dtype, jnp.floating) else None)
    u0 = u0.astype(dtype)
    c = _check_positive("c", c)
    lx, ly = (_check_positive(f"length[{i}]", float(v)) for i, v in enumerate(length))
    t = _check_times(t, dtype, 0.0)
    v0 = jnp.zeros_like(u0) if v0 is None else _check_field("v0", v0, u0.shape).astype(dtype)
    finite = jnp.all(jnp.isfinite(u0)) & jnp.all(jnp.isfinite(v0))
    u0 = eqx.error_if(u0, ~finite, "u0 and v0 must be finite")
    Vx, Vxi, lx_ = _axis(u0.shape[0], lx, dtype)
    Vy, Vyi, ly_ = _axis(u0.shape[1], ly, dtype)
    w = c * jnp.sqrt(lx_[:, None] + ly_[None, :])                   # (nx, ny) angular frequencies
    a0, b0 = Vxi @ u0 @ Vyi.T, Vxi @ v0 @ Vyi.T                      # DCT-I coefficients
    safe = jnp.where(w > 0, w, 1.0)

    def at(tk):
        sinc = jnp.where(w > 0, jnp.sin(safe * tk) / safe, tk)
        return Vx @ (a0 * jnp.cos(w * tk) + b0 * sinc) @ Vy.T

    return jax.vmap(at)(t)


def wave_energy(
    u: Float[ArrayLike, "nx ny"],
    ut: Float[ArrayLike, "nx ny"],
    *,
    c: float = 1.0,
    length: tuple[float, float] = (1.0, 1.0),
) -> Array:
    """Discrete energy ``sum W (u_t^2 + c^2 |grad_h u|^2) / 2`` conserved by :func:`wave_neumann_solve`.

    ``W``: trapezoid weights of the node grid; ``|grad_h u|^2 = -u . Lap_h u`` in the
    ``W``-inner product (the scheme's own Laplacian, so conservation is exact up to round-off).
    """
    u, ut = jnp.asarray(u), jnp.asarray(ut)
    nx, ny = u.shape
    hx, hy = length[0] / (nx - 1), length[1] / (ny - 1)
    wx = jnp.full(nx, hx, u.dtype).at[0].mul(0.5).at[-1].mul(0.5)
    wy = jnp.full(ny, hy, u.dtype).at[0].mul(0.5).at[-1].mul(0.5)
    wgt = wx[:, None] * wy[None, :]
    pad = jnp.pad(u, 1, mode="reflect")                              # mirror ghosts: zero wall flux
    lap = ((pad[2:, 1:-1] - 2 * u + pad[:-2, 1:-1]) / hx**2
           + (pad[1:-1, 2:] - 2 * u + pad[1:-1, :-2]) / hy**2)
    return 0.5 * jnp.sum(wgt * (ut**2 - c**2 * u * lap))


def wave_neumann_grf(
    key: PRNGKeyArray,
    n: int,
    *,
    modes: int = 16,
    tau: float = 5.0,
    alpha: float = 3.0,
    dtype=None,
) -> Float[Array, "n n"]:
    """One random initial displacement on ``linspace(0, 1, n)^2``, scaled to ``max |u0| = 1``.

    ``u0 = sum_{j,k < modes} xi_jk (pi^2 (j^2 + k^2) + tau^2)^(-alpha/2) cos(j pi x) cos(k pi y)``
    with ``xi_jk ~ N(0, 1)``; the constant mode is dropped (it never moves). Zero wall
    derivative in closed form.
    """
    n = _check_n("n", n, 3)
    modes = _check_n("modes", modes, 2)
    tau, alpha = _check_positive("tau", tau), _check_positive("alpha", alpha)
    dtype = _dtype(dtype)
    j = jnp.arange(modes, dtype=dtype)
    spec = (jnp.pi**2 * (j[:, None] ** 2 + j[None, :] ** 2) + tau**2) ** (-alpha / 2)
    xi = jax.random.normal(key, (modes, modes), dtype).at[0, 0].set(0.0)
    x = jnp.linspace(0.0, 1.0, n, dtype=dtype)
    basis = jnp.cos(jnp.pi * j[:, None] * x[None, :])               # (modes, n)
    u = basis.T @ (xi * spec) @ basis
    return u / jnp.max(jnp.abs(u))


class WaveDataset(NamedTuple):
    """2-D wave trajectories: ``a`` the initial displacement ``(n, nx, nx)``, ``u`` the frames
    ``(n, nt, nx, nx)`` at ``t`` ``(nt,)`` (``u[i, f, a, b]`` at ``(x[a], x[b])``), ``x`` ``(nx,)``,
    ``params`` the wave speed per sample ``{"c": (n,)}``."""

    x: Array
    t: Array
    a: Array
    u: Array
    params: dict


def generate_wave_neumann(
    n: int,
    *,
    nx: int = 50,
    nt: int = 25,
    t_final: float = 1.0,
    c: float = 1.0,
    modes: int = 16,
    seed: int = 0,
    dtype=None,
) -> WaveDataset:
    """``n`` random 2-D wave trajectories with zero Neumann walls on the unit square.

    Frames at ``t_k = k t_final / nt``, ``k = 1..nt``; inputs from :func:`wave_neumann_grf`
    (sample ``i`` uses ``fold_in(PRNGKey(seed), i)``, so sets of different ``n`` share their
    first samples). The defaults mirror BOON's 3-D experiments (50 x 50 nodes, 25 frames).
    """
    n, nx, nt = _check_n("n", n), _check_n("nx", nx, 3), _check_n("nt", nt)
    t_final, c = _check_positive("t_final", t_final), _check_positive("c", c)
    dtype = _dtype(dtype)
    key = jax.random.PRNGKey(seed)
    t = jnp.arange(1, nt + 1, dtype=dtype) * (t_final / nt)
    a = jax.vmap(lambda i: wave_neumann_grf(jax.random.fold_in(key, i), nx, modes=modes, dtype=dtype))(jnp.arange(n))
    u = jax.vmap(lambda u0: wave_neumann_solve(u0, t, c=c))(a)
    return WaveDataset(x=jnp.linspace(0.0, 1.0, nx, dtype=dtype), t=t, a=a, u=u,
                       params={"c": jnp.full((n,), c, dtype)})
