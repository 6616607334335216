"""The 1-D data generators of the BOON paper (Saad et al., ICLR 2023), in pure JAX.

Four problems, each with a solver (pure JAX: ``jit``/``vmap``/``grad``) and a ``generate_*``
function that draws random inputs from a seed and returns a :class:`BoonDataset`:

* **Stokes' second problem** (Dirichlet, closed form) ``u_t = nu u_xx`` with an oscillating wall
  ``u(0, t) = U cos(omega t)``: ``u = U exp(-kappa x) cos(kappa x - omega t)``,
  ``kappa = sqrt(omega / (2 nu))`` (:func:`stokes_second`).
* **Heat equation, Neumann** ``u_t = k u_xx`` on ``[0, 1]``, insulated left end
  ``u_x(0, t) = 0``, heater at the right end ``u_x(1, t) = 5 sin(pi t)``, ``k = 0.01``,
  ``u0 = cos(w pi x)`` with ``w ~ U[2.01, 3.99]`` (:class:`HeatNeumann`, :func:`heat_neumann_solve`).
* **Viscous Burgers, periodic** ``u_t + (u^2/2)_x = nu u_xx`` on ``[0, 1)``, Gaussian random
  field initial data ``N(0, 625 (-Laplacian + 25 I)^-2)`` (the FNO/PINO data)
  (:func:`burgers_periodic_solve`).
* **Viscous Burgers, Dirichlet** on ``[0, 1]`` with constant wall values ``u(0) = uL``,
  ``u(1) = uR`` (:func:`burgers_dirichlet_solve`).

Discretisations (all on node grids that include the walls, as BOON's grids
``linspace(0, 1, N)`` do; the periodic grid omits the right end point):

* heat: vertex-centred second-order finite volumes (half cells at the walls, flux = Neumann
  data). Its matrix is diagonalised exactly by the DCT-I basis ``cos(j pi i/(N-1))``, so the
  linear ODE is integrated *exactly* in time, except that the wall flux is taken piecewise
  linear over each substep (exponential integrator ETD2; exact for fluxes linear in ``t``).
  Unconditionally stable. The trapezoid mass ``sum_i w_i u_i`` changes by exactly the trapezoid
  rule of ``k (g_right - g_left)``.
* Burgers periodic: Fourier pseudo-spectral, 2/3 de-aliasing, integrating-factor RK4 (diffusion
  exact). The mean is conserved to round-off.
* Burgers Dirichlet: second-order central finite differences in conservative form
  ``(f_{i+1} - f_{i-1}) / 2h``, ``f = u^2/2``, on ``u = w + l(x)`` with the linear lift ``l``
  of the wall values; the Dirichlet Laplacian of ``w`` is diagonalised by the DST-I basis, so
  diffusion is again exact (integrating-factor RK4). Wall values are exact by construction.

Explicit advection in both Burgers solvers is checked for stability with ``eqx.error_if``
(``dt max|u0| * kmax <= 2``; the maximum principle bounds ``|u|`` by ``max |u0|`` and the wall
values; RK4's stability interval on the imaginary axis is ``2.83``).

What is *not* known from the paper's public material (see ``research/boon.md``) and chosen here:
Stokes' parameter ranges and domain, the Burgers-Dirichlet initial data and final time, and
the exact multi-step time grids of Stokes and Burgers-Dirichlet. These are arguments with
documented defaults.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from physcon.bc import Neumann
from physcon.grid import Grid1D

__all__ = [
    "BoonDataset",
    "HeatNeumann",
    "heater",
    "stokes_second",
    "generate_stokes",
    "heat_neumann_solve",
    "generate_heat_neumann",
    "grf_periodic",
    "burgers_periodic_solve",
    "generate_burgers_periodic",
    "burgers_dirichlet_solve",
    "generate_burgers_dirichlet",
]

# RK4's stability region reaches 2.83 on the imaginary axis; keep a margin.
_RK4_IMAG_LIMIT = 2.0


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


def _dtype(dtype=None):
    return jnp.dtype(dtype) if dtype is not None else jnp.result_type(float)


def _check_n(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_times(t, dtype, t0: float) -> Array:
    t = jnp.asarray(t, dtype)
    if t.ndim != 1 or t.shape[0] < 1:
        raise ValueError(f"t must be a 1-D array of output times, got shape {t.shape}")
    try:
        tn = np.asarray(t)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return t
    if not np.all(np.isfinite(tn)) or tn[0] < t0 or np.any(np.diff(tn) < 0):
        raise ValueError(f"t must be finite, non-decreasing and >= t0={t0}, got {tn}")
    return t


# --- Stokes' second problem ------------------------------------------------------------------
def stokes_second(
    x: ArrayLike, t: ArrayLike, U: ArrayLike, omega: ArrayLike, nu: ArrayLike
) -> Float[Array, "..."]:
    """``u = U exp(-kappa x) cos(kappa x - omega t)``, ``kappa = sqrt(omega / (2 nu))``.

    The periodic steady state of ``u_t = nu u_xx`` on ``x >= 0`` under the oscillating plate
    ``u(0, t) = U cos(omega t)`` (Stokes' second problem). Arguments broadcast; pass
    ``x[None, :]`` and ``t[:, None]`` for a ``(nt, nx)`` field. ``x``: distance from the plate;
    ``omega``: angular frequency (rad per unit time); ``nu``: kinematic viscosity (x^2 / t).
    """
    kappa = jnp.sqrt(omega / (2.0 * nu))
    return U * jnp.exp(-kappa * x) * jnp.cos(kappa * x - omega * t)


def generate_stokes(
    n: int,
    *,
    seed: int = 0,
    multi_step: bool = True,
    nx: int = 500,
    length: float = 1.0,
    nu: float = 0.1,
    t_final: float = 1.2,
    n_frames: int = 25,
    U_range: tuple[float, float] = (0.5, 1.5),
    omega_range: tuple[float, float] = (2.0, 6.0),
    dtype=None,
) -> BoonDataset:
    """Stokes' second problem data: input ``u(x, 0)``, targets ``u(x, t)`` from the closed form.

    Per sample ``U ~ U[U_range]`` and ``omega ~ U[omega_range]`` (ranges are *not* given in
    the public BOON material: assumed). Grid ``linspace(0, length, nx)``. Times: multi-step,
    ``n_frames`` frames ``t_final * (1..n_frames) / n_frames``; single-step, ``t = [t_final]``.
    Defaults: ``nx = 500``, ``nu = 0.1``, ``t_final = 1.2``, 25 frames (BOON's notebook). The
    Dirichlet data are ``u[:, :, 0] = U cos(omega t)`` and ``u[:, :, -1]``.
    """
    n = _check_n("n", n)
    nx = _check_n("nx", nx, 2)
    n_frames = _check_n("n_frames", n_frames)
    if not (length > 0 and nu > 0 and t_final > 0):
        raise ValueError(f"length, nu and t_final must be > 0, got {length}, {nu}, {t_final}")
    for name, (lo, hi) in (("U_range", U_range), ("omega_range", omega_range)):
        if not hi >= lo:
            raise ValueError(f"{name} must be (low, high) with high >= low, got {(lo, hi)}")
    if omega_range[0] <= 0:
        raise ValueError(f"omega_range must be positive, got {omega_range}")
    dtype = _dtype(dtype)
    kU, kw = jax.random.split(jax.random.PRNGKey(seed))
    U = jax.random.uniform(kU, (n,), dtype, U_range[0], U_range[1])
    omega = jax.random.uniform(kw, (n,), dtype, omega_range[0], omega_range[1])
    x = Grid1D.nodes(0.0, length, nx).points(dtype)
    if multi_step:
        t = jnp.asarray(t_final * np.arange(1, n_frames + 1) / n_frames, dtype)
    else:
        t = jnp.asarray([t_final], dtype)
    field = jax.vmap(lambda U_, w_: stokes_second(x[None, :], t[:, None], U_, w_, nu))
    a = jax.vmap(lambda U_, w_: stokes_second(x, 0.0, U_, w_, nu))(U, omega)
    return BoonDataset(x, t, a, field(U, omega), {"U": U, "omega": omega})


# --- heat equation with Neumann walls --------------------------------------------------------
def heater(t: ArrayLike) -> Array:
    """BOON's heater flux ``u_x(1, t) = 5 sin(pi t)``."""
    return 5.0 * jnp.sin(jnp.pi * t)


class HeatNeumann(eqx.Module):
    """``u_t = k u_xx`` on ``[a, b]`` with Neumann walls ``u_x = g_left(t)``, ``u_x = g_right(t)``.

    Defaults are BOON's set-up: ``k = 0.01``, insulated left end, heater ``5 sin(pi t)`` right.
    ``u_x`` is the derivative along +x on both walls (so heat flows in at the right wall when
    ``g_right > 0``; the heat content changes at the rate ``k (g_right - g_left)``).
    """

    k: float = 0.01
    left: Neumann = Neumann(0.0)
    right: Neumann = Neumann(heater)

    def __check_init__(self):
        for name in ("left", "right"):
            if not isinstance(getattr(self, name), Neumann):
                raise ValueError(f"HeatNeumann: {name} must be a Neumann condition")
        try:
            ok = float(self.k) > 0 and math.isfinite(float(self.k))
        except (TypeError, jax.errors.ConcretizationTypeError):
            return
        if not ok:
            raise ValueError(f"HeatNeumann: k must be a positive finite diffusivity, got {self.k!r}")


def _dct1_basis(n: int):
    """``V[i, j] = cos(j pi i / m)``, its inverse and ``sin^2(j pi / (2 m))``, ``m = n - 1``."""
    m = n - 1
    i = np.arange(n)
    V = np.cos(np.pi * np.outer(i, i) / m)
    c = np.ones(n)
    c[0] = c[-1] = 0.5
    Vinv = (2.0 / m) * (c[:, None] * V.T * c[None, :])
    s2 = np.sin(np.pi * i / (2 * m)) ** 2
    return V, Vinv, s2


def _phi12(z):
    """``phi1 = (e^z - 1)/z`` and ``phi2 = (e^z - 1 - z)/z^2`` (z <= 0), stable near 0."""
    small = jnp.abs(z) < 1e-2
    zs = jnp.where(small, -1.0, z)
    phi1 = jnp.where(small, 1 + z / 2 + z**2 / 6 + z**3 / 24 + z**4 / 120, jnp.expm1(zs) / zs)
    phi2 = jnp.where(
        small, 0.5 + z / 6 + z**2 / 24 + z**3 / 120 + z**4 / 720, (jnp.expm1(zs) - zs) / zs**2
    )
    return phi1, phi2


def heat_neumann_solve(
    problem: HeatNeumann,
    grid: Grid1D,
    u0: Float[ArrayLike, " nx"],
    t: Float[ArrayLike, " nt"],
    *,
    t0: float = 0.0,
    substeps: int = 20,
) -> Float[Array, "nt nx"]:
    """Solve :class:`HeatNeumann` from ``u(x, t0) = u0`` and return ``u`` at the times ``t``.

    Vertex-centred finite volumes on the node ``grid`` (second order in space): interior
    ``du_i/dt = k (u_{i-1} - 2 u_i + u_{i+1}) / h^2``, wall nodes on half cells
    ``du_0/dt = k (2 (u_1 - u_0)/h - 2 g_left) / h`` (and mirrored at the right wall).
    Time integration is exact for the diffusion (DCT-I eigenbasis) and treats the wall fluxes as
    linear in time over each of the ``substeps`` steps per output interval (ETD2), so it is
    unconditionally stable and second order in time only through the fluxes.

    Args:
        problem: the PDE.
        grid: ``Grid1D.nodes(a, b, nx)`` with the end points (``nx >= 3``).
        u0: initial node values, shape ``(nx,)``; ``vmap`` for a batch.
        t: non-decreasing output times ``>= t0``, shape ``(nt,)``. Its dtype (or ``u0``'s)
            is the result dtype.
        t0: the initial time.
        substeps: steps per output interval (static int; the first interval is ``[t0, t[0]]``).

    Returns:
        ``u`` at the times ``t``, shape ``(nt, nx)``.
    """
    if not (isinstance(grid, Grid1D) and grid.kind == "nodes" and grid.endpoint and grid.n >= 3):
        raise ValueError(f"grid must be Grid1D.nodes(a, b, n) with n >= 3, got {grid!r}")
    substeps = _check_n("substeps", substeps)
    dtype = jnp.result_type(u0, t, float)
    u0 = jnp.asarray(u0, dtype)
    if u0.shape != (grid.n,):
        raise ValueError(f"u0 must have shape ({grid.n},), got {u0.shape}")
    t = _check_times(t, dtype, t0)
    u0 = eqx.error_if(u0, ~jnp.all(jnp.isfinite(u0)), "u0 must be finite (no NaN/inf)")
    n, h = grid.n, grid.dx
    V, Vinv, s2 = _dct1_basis(n)
    k = jnp.asarray(problem.k, dtype)
    lam = -4.0 * k / h**2 * jnp.asarray(s2, dtype)
    V, Vinv = jnp.asarray(V, dtype), jnp.asarray(Vinv, dtype)
    pL = (2.0 * k / h) * Vinv[:, 0]  # eigen-coordinates of the wall sources
    pR = (2.0 * k / h) * Vinv[:, -1]

    def force(s):
        return pR * problem.right.at(s, dtype) - pL * problem.left.at(s, dtype)

    def interval(carry, t_end):
        a, s = carry
        dt = (t_end - s) / substeps
        E = jnp.exp(lam * dt)
        phi1, phi2 = _phi12(lam * dt)

        def step(i, b):
            ta = s + i * dt
            fa, fb = force(ta), force(ta + dt)
            return E * b + dt * (phi1 * fa + phi2 * (fb - fa))

        # the homogeneous part in one exponential (no round-off growth over the substeps),
        # plus the response to the wall fluxes accumulated from zero
        forced = jax.lax.fori_loop(0, substeps, step, jnp.zeros_like(a))
        a = jnp.exp(lam * (t_end - s)) * a + forced
        return (a, t_end), V @ a

    _, u = jax.lax.scan(interval, (Vinv @ u0, jnp.asarray(t0, dtype)), t)
    return u


def generate_heat_neumann(
    n: int,
    *,
    seed: int = 0,
    multi_step: bool = False,
    nx: int | None = None,
    problem: HeatNeumann = HeatNeumann(),
    omega_range: tuple[float, float] = (2.01, 3.99),
    substeps: int | None = None,
    dtype=None,
) -> BoonDataset:
    """BOON's heat-Neumann data on ``linspace(0, 1, nx)``: ``u0 = cos(w pi x)``, ``w ~ U[omega_range]``.

    Single-step: target ``u(x, 0.5)``, default ``nx = 500``. Multi-step: targets at
    ``linspace(0, 0.5, 200)[-25:]``, default ``nx = 2048`` (BOON trains on every 2nd point).
    ``substeps``: ETD2 steps per output interval (default: steps of at most ``2.5e-3``, counted
    separately for ``[0, t[0]]`` and the frame intervals). Params: ``{"omega": w}``.
    """
    n = _check_n("n", n)
    nx = _check_n("nx", nx if nx is not None else (2048 if multi_step else 500), 3)
    lo, hi = omega_range
    if not hi >= lo:
        raise ValueError(f"omega_range must be (low, high) with high >= low, got {omega_range}")
    dtype = _dtype(dtype)
    grid = Grid1D.nodes(0.0, 1.0, nx)
    x = grid.points(dtype)
    w = jax.random.uniform(jax.random.PRNGKey(seed), (n,), dtype, lo, hi)
    a = jnp.cos(w[:, None] * jnp.pi * x[None, :])
    t_np = np.linspace(0.0, 0.5, 200)[-25:] if multi_step else np.array([0.5])
    t = jnp.asarray(t_np, dtype)

    def solve(v, tt, t0, k):
        f = lambda w: heat_neumann_solve(problem, grid, w, tt, t0=t0, substeps=k)  # noqa: E731
        return jax.jit(jax.vmap(f))(v)

    def count(tt, t0):
        return max(1, math.ceil(float(np.max(np.diff(tt, prepend=t0))) / 2.5e-3 - 1e-9))

    return BoonDataset(x, t, a, _march(solve, a, t_np, dtype, substeps, count), {"omega": w})


# --- Gaussian random fields ------------------------------------------------------------------
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


# --- integrating-factor RK4 ------------------------------------------------------------------
def _ifrk4(a0, lam, nonlin, t, t0, substeps, dtype):
    def interval(carry, t_end):
        a, s = carry
        dt = (t_end - s) / substeps
        E, E2 = jnp.exp(lam * dt), jnp.exp(lam * dt / 2)

        def step(_, a):
            k1 = nonlin(a)
            k2 = nonlin(E2 * (a + dt / 2 * k1))
            k3 = nonlin(E2 * a + dt / 2 * k2)
            k4 = nonlin(E * a + dt * E2 * k3)
            return E * a + dt / 6 * (E * k1 + 2 * E2 * (k2 + k3) + k4)

        a = jax.lax.fori_loop(0, substeps, step, a)
        return (a, t_end), a

    _, out = jax.lax.scan(interval, (a0, jnp.asarray(t0, dtype)), t)
    return out


def _max_dt(t, t0, substeps):
    return jnp.max(jnp.diff(t, prepend=jnp.asarray(t0, t.dtype))) / substeps


def _auto_substeps(t, t0, umax: float, kmax: float) -> int:
    dt_stable = _RK4_IMAG_LIMIT / max(umax * kmax, 1e-300)
    longest = float(np.max(np.diff(np.asarray(t, float), prepend=t0)))
    return max(1, math.ceil(longest / (0.9 * dt_stable)))


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


# --- Burgers, periodic -----------------------------------------------------------------------
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


# --- Burgers, Dirichlet ----------------------------------------------------------------------
def _dst1_basis(n: int):
    """Interior sine basis ``S[i, j] = sin(j pi i / m)``, ``i, j = 1..m-1``, ``m = n - 1``."""
    m = n - 1
    i = np.arange(1, m)
    S = np.sin(np.pi * np.outer(i, i) / m)
    return S, (2.0 / m) * S, np.sin(np.pi * i / (2 * m)) ** 2


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
    if not (isinstance(grid, Grid1D) and grid.kind == "nodes" and grid.endpoint and grid.n >= 4):
        raise ValueError(f"grid must be Grid1D.nodes(a, b, n) with n >= 4, got {grid!r}")
    if not nu > 0:
        raise ValueError(f"nu must be > 0, got {nu}")
    substeps = _check_n("substeps", substeps)
    dtype = jnp.result_type(u0, t, float)
    u0 = jnp.asarray(u0, dtype)
    if u0.shape != (grid.n,):
        raise ValueError(f"u0 must have shape ({grid.n},), got {u0.shape}")
    t = _check_times(t, dtype, t0)
    h = grid.dx
    u0 = eqx.error_if(u0, ~jnp.all(jnp.isfinite(u0)), "u0 must be finite (no NaN/inf)")
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
