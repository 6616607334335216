"""Viscous Burgers ``u_t + (u^2/2)_x = nu u_xx``, periodic and Dirichlet, in pure JAX.

* **Periodic** on ``[0, 1)``, Gaussian random field initial data
  ``N(0, 625 (-Laplacian + 25 I)^-2)`` (the FNO/PINO data; :func:`grf_periodic`): Fourier
  pseudo-spectral, 2/3 de-aliasing, integrating-factor RK4 (diffusion exact). The mean is
  conserved to round-off (:func:`burgers_periodic_solve`, :func:`generate_burgers_periodic`).
* **Dirichlet** on ``[0, 1]`` with constant wall values ``u(0) = uL``, ``u(1) = uR``: second-order
  central finite differences in conservative form ``(f_{i+1} - f_{i-1}) / 2h``, ``f = u^2/2``,
  on ``u = w + l(x)`` with the linear lift ``l`` of the wall values; the Dirichlet Laplacian of
  ``w`` is diagonalised by the DST-I basis, so diffusion is again exact (integrating-factor
  RK4). Wall values are exact by construction (:func:`burgers_dirichlet_solve`,
  :func:`generate_burgers_dirichlet`).

Explicit advection in both solvers is checked for stability with ``eqx.error_if``
(``dt max|u0| * kmax <= 2``; the maximum principle bounds ``|u|`` by ``max |u0|`` and the wall
values; RK4's stability interval on the imaginary axis is ``2.83``).

Not known from the BOON paper's public material and chosen here: the Dirichlet set's initial
data, final time and time grid (arguments with documented defaults).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from physcon.grid import Grid1D
from physcon.solvers._checks import _check_n, _check_times, _dtype, _node_field
from physcon.solvers._dataset import BoonDataset, _march
from physcon.solvers._spectral import _RK4_IMAG_LIMIT, _auto_substeps, _dst1_basis, _ifrk4, _max_dt

__all__ = [
    "BoonDataset", "grf_periodic", "burgers_periodic_solve", "generate_burgers_periodic",
    "burgers_dirichlet_solve", "generate_burgers_dirichlet",
]


# --- periodic --------------------------------------------------------------------------------
def grf_periodic(
    key, n_samples: int, nx: int, *, alpha: float = 2.0, tau: float = 5.0, sigma: float = 25.0,
    dtype=None,
) -> Float[Array, "n_samples nx"]:
    """Samples of ``N(0, sigma^2 (-Laplacian + tau^2 I)^-alpha)`` on the periodic grid
    ``i / nx`` of ``[0, 1)``, mean zero (FNO's ``GaussianRF``; defaults give
    ``625 (-Laplacian + 25 I)^-2``). Modes ``1 <= k < nx/2``:
    ``u = sum_k sqrt(2) sigma (4 pi^2 k^2 + tau^2)^(-alpha/2) (xi_k cos 2 pi k x + eta_k sin 2 pi k x)``.
    """
    n_samples, nx = _check_n("n_samples", n_samples), _check_n("nx", nx, 2)
    dtype = _dtype(dtype)
    kmax = nx // 2 + 1
    kk = np.arange(kmax)
    s = np.sqrt(2.0) * sigma * (4 * np.pi**2 * kk**2 + tau**2) ** (-alpha / 2)
    s[0] = 0.0
    if nx % 2 == 0:
        s[-1] = 0.0
    k1, k2 = jax.random.split(key)
    xi = jax.random.normal(k1, (n_samples, kmax), dtype)
    eta = jax.random.normal(k2, (n_samples, kmax), dtype)
    c = (nx / 2) * jnp.asarray(s, dtype) * (xi - 1j * eta)
    return jnp.fft.irfft(c, n=nx, axis=-1).astype(dtype)


def _burgers_periodic_kmax(nx: int, length: float) -> float:
    return 2 * np.pi / length * (nx // 3)


def burgers_periodic_solve(
    u0: Float[ArrayLike, " nx"],
    t: Float[ArrayLike, " nt"],
    *,
    nu: float,
    length: float = 1.0,
    t0: float = 0.0,
    substeps: int,
) -> Float[Array, "nt nx"]:
    """Viscous Burgers ``u_t + (u^2/2)_x = nu u_xx`` on the periodic ``[0, length)``.

    Fourier pseudo-spectral on the grid ``length * i / nx`` (``Grid1D.nodes(0, length, nx,
    endpoint=False)``) with 2/3-rule de-aliasing and integrating-factor RK4 (diffusion exact);
    ``substeps`` (static) steps per output interval. The mean of ``u`` is conserved to round-off.

    Raises:
        ValueError: bad shapes/arguments (eagerly).
        RuntimeError (``eqx.error_if``, also under jit): non-finite ``u0``, or a step above the
            advective limit ``dt max|u0| kmax <= 2`` (``kmax = 2 pi (nx // 3) / length``).
    """
    u0 = jnp.asarray(u0)
    dtype = jnp.result_type(u0, t, float)
    u0 = u0.astype(dtype)
    if u0.ndim != 1 or u0.shape[0] < 4:
        raise ValueError(f"u0 must have shape (nx,) with nx >= 4, got {u0.shape}")
    if not (nu >= 0 and length > 0):
        raise ValueError(f"nu must be >= 0 and length > 0, got nu={nu}, length={length}")
    substeps = _check_n("substeps", substeps)
    t = _check_times(t, dtype, t0)
    nx = u0.shape[0]
    k = 2 * np.pi / length * np.fft.rfftfreq(nx, 1.0 / nx)
    idx = np.arange(k.size)
    # 2/3 rule: keep |k| <= nx // 3, and never the (even nx) Nyquist mode
    mask = jnp.asarray((idx <= nx // 3) & (2 * idx != nx), dtype)
    lam = jnp.asarray(-nu * k**2, dtype)
    ik = 1j * jnp.asarray(k, dtype)
    kmax = _burgers_periodic_kmax(nx, length)
    u0 = eqx.error_if(u0, ~jnp.all(jnp.isfinite(u0)), "u0 must be finite (no NaN/inf)")
    u0 = eqx.error_if(
        u0,
        _max_dt(t, t0, substeps) * jnp.max(jnp.abs(u0)) * kmax > _RK4_IMAG_LIMIT,
        "burgers_periodic_solve: step above the advective stability limit; raise substeps",
    )

    def nonlin(a):
        u = jnp.fft.irfft(a * mask, n=nx)
        return -ik * mask * jnp.fft.rfft(0.5 * u * u)

    a = _ifrk4(jnp.fft.rfft(u0), lam, nonlin, t, t0, substeps, dtype)
    return jnp.fft.irfft(a, n=nx, axis=-1).astype(dtype)


def generate_burgers_periodic(
    n: int,
    *,
    seed: int = 0,
    multi_step: bool = False,
    nx: int = 128,
    refine: int = 8,
    nu: float | None = None,
    substeps: int | None = None,
    dtype=None,
) -> BoonDataset:
    """Periodic Burgers data (FNO / PINO sets): GRF ``u0 ~ N(0, 625 (-Laplacian + 25 I)^-2)``.

    Solved on ``nx * refine`` points of ``[0, 1)`` and returned on every ``refine``-th (``nx``
    points). Single-step (FNO's ``burgers_data_R10``): ``nu = 0.1``, target ``u(x, 1)``; BOON
    uses 8192 points subsampled to 128, here ``128 * 8`` by default (``nu = 0.1`` is resolved
    to round-off far below 1024 points). Multi-step (PINO's ``burgers_pino``): ``nu = 0.01``,
    targets at ``linspace(0, 1, 101)[-25:]``. ``params`` is empty (the input is the field).
    ``substeps``: IF-RK4 steps per output interval; default: the fewest stable ones, counted
    separately for ``[0, t[0]]`` and for the frame intervals.
    """
    n, nx, refine = _check_n("n", n), _check_n("nx", nx, 2), _check_n("refine", refine)
    dtype = _dtype(dtype)
    nu = (0.01 if multi_step else 0.1) if nu is None else nu
    nfine = nx * refine
    u0 = grf_periodic(jax.random.PRNGKey(seed), n, nfine, dtype=dtype)
    t_np = np.linspace(0.0, 1.0, 101)[-25:] if multi_step else np.array([1.0])
    t = jnp.asarray(t_np, dtype)

    def solve(v, tt, t0, k):
        f = lambda w: burgers_periodic_solve(w, tt, nu=nu, t0=t0, substeps=k)  # noqa: E731
        return jax.jit(jax.vmap(f))(v)

    kmax = _burgers_periodic_kmax(nfine, 1.0)
    umax = float(jnp.max(jnp.abs(u0)))
    u = _march(solve, u0, t_np, dtype, substeps, lambda tt, t0: _auto_substeps(tt, t0, umax, kmax))
    x = Grid1D.nodes(0.0, 1.0, nx, endpoint=False).points(dtype)
    return BoonDataset(x, t, u0[:, ::refine], u[:, :, ::refine], {})


# --- Dirichlet -------------------------------------------------------------------------------
def burgers_dirichlet_solve(
    grid: Grid1D,
    u0: Float[ArrayLike, " nx"],
    t: Float[ArrayLike, " nt"],
    *,
    nu: float,
    t0: float = 0.0,
    substeps: int,
) -> Float[Array, "nt nx"]:
    """Viscous Burgers ``u_t + (u^2/2)_x = nu u_xx`` with constant Dirichlet walls.

    The wall values are ``u0[0]`` and ``u0[-1]`` and stay exactly so. Central second-order
    finite differences (conservative form) on the node ``grid``; ``u = w + l`` with the linear
    lift ``l`` of the wall values, ``w`` expanded in the DST-I basis that diagonalises the
    discrete Dirichlet Laplacian, integrating-factor RK4 (diffusion exact). Central differencing
    is non-oscillatory while the cell Reynolds number ``max|u| h / nu`` stays below 2.

    Raises:
        ValueError: bad grid/shape/arguments (eagerly).
        RuntimeError (``eqx.error_if``): non-finite ``u0`` or a step above the advective limit
            ``dt max|u0| / h <= 2``.
    """
    u0, t = _node_field(grid, u0, t, t0, 4)
    if not nu > 0:
        raise ValueError(f"nu must be > 0, got {nu}")
    substeps = _check_n("substeps", substeps)
    dtype, h = u0.dtype, grid.dx
    u0 = eqx.error_if(
        u0,
        _max_dt(t, t0, substeps) * jnp.max(jnp.abs(u0)) / h > _RK4_IMAG_LIMIT,
        "burgers_dirichlet_solve: step above the advective stability limit; raise substeps",
    )
    S, Sinv, s2 = (jnp.asarray(m, dtype) for m in _dst1_basis(grid.n))
    lam = -4.0 * nu / h**2 * s2
    xi = jnp.linspace(0.0, 1.0, grid.n, dtype=dtype)
    lift = u0[0] * (1 - xi) + u0[-1] * xi

    def full(a):
        return lift + jnp.concatenate([jnp.zeros(1, dtype), S @ a, jnp.zeros(1, dtype)])

    def nonlin(a):
        f = 0.5 * full(a) ** 2
        return Sinv @ (-(f[2:] - f[:-2]) / (2 * h))

    a = _ifrk4(Sinv @ (u0 - lift)[1:-1], lam, nonlin, t, t0, substeps, dtype)
    return jax.vmap(full)(a)


def generate_burgers_dirichlet(
    n: int,
    *,
    seed: int = 0,
    multi_step: bool = False,
    nx: int = 500,
    nu: float = 0.1,
    t_final: float = 1.0,
    n_frames: int = 25,
    wall_range: tuple[float, float] = (-1.0, 1.0),
    substeps: int | None = None,
    dtype=None,
) -> BoonDataset:
    """Burgers with Dirichlet walls on ``linspace(0, 1, nx)`` (BOON: ``nu = 0.1``, ``nx = 500``).

    BOON's initial data and final time are not public; here ``uL, uR ~ U[wall_range]`` and
    ``u0 = uL (1 - x) + uR x + s(x)`` with ``s`` a random sine series with the GRF spectrum
    ``sigma sqrt(2) (pi^2 j^2 + tau^2)^-1`` (``sigma = 25``, ``tau = 5``), so ``u0`` matches the
    walls. Times: single-step ``[t_final]``; multi-step ``t_final * (1..n_frames) / n_frames``.
    Params: ``{"u_left", "u_right"}`` (also ``u[:, :, 0]`` and ``u[:, :, -1]`` exactly).
    ``substeps``: as in :func:`generate_burgers_periodic`.
    """
    n, nx, n_frames = _check_n("n", n), _check_n("nx", nx, 4), _check_n("n_frames", n_frames)
    if not t_final > 0:
        raise ValueError(f"t_final must be > 0, got {t_final}")
    dtype = _dtype(dtype)
    grid = Grid1D.nodes(0.0, 1.0, nx)
    x = grid.points(dtype)
    kw, kc = jax.random.split(jax.random.PRNGKey(seed))
    walls = jax.random.uniform(kw, (n, 2), dtype, wall_range[0], wall_range[1])
    j = np.arange(1, min(nx - 1, 64))
    amp = jnp.asarray(np.sqrt(2.0) * 25.0 / (np.pi**2 * j**2 + 25.0), dtype)
    modes = jnp.asarray(np.sin(np.pi * np.outer(j, np.asarray(x, float))), dtype)
    coef = jax.random.normal(kc, (n, j.size), dtype) * amp
    a = walls[:, :1] * (1 - x) + walls[:, 1:] * x + coef @ modes
    a = a.at[:, 0].set(walls[:, 0]).at[:, -1].set(walls[:, 1])
    if multi_step:
        t_np = t_final * np.arange(1, n_frames + 1) / n_frames
    else:
        t_np = np.array([t_final])
    t = jnp.asarray(t_np, dtype)

    def solve(v, tt, t0, k):
        f = lambda w: burgers_dirichlet_solve(grid, w, tt, nu=nu, t0=t0, substeps=k)  # noqa: E731
        return jax.jit(jax.vmap(f))(v)

    umax, kmax = float(jnp.max(jnp.abs(a))), 1.0 / grid.dx
    u = _march(solve, a, t_np, dtype, substeps, lambda tt, t0: _auto_substeps(tt, t0, umax, kmax))
    return BoonDataset(x, t, a, u, {"u_left": walls[:, 0], "u_right": walls[:, 1]})
