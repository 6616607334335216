"""The lid-driven cavity: 2-D incompressible Navier-Stokes in the unit square, no-slip walls,
the lid ``y = 1`` sliding in ``+x`` with speed ``U(t)``, impulsively started.

Streamfunction-vorticity on a uniform ``n x n`` node grid (walls included), second order in
space, third order in time (the discretisation is described in
:mod:`~physcon.solvers.navier_stokes.cavity_poisson` and
:mod:`~physcon.solvers.navier_stokes.cavity_stencils`; units are non-dimensional, ``nu = 1/Re``):

* each stage solves ``lap_h psi = -w`` by DST-I (sine transforms, no matrix), sets the wall
  vorticity by Thom's formula, and evaluates ``-u.grad w + (1/Re) lap_h w`` at the interior;
* time stepping: explicit three-stage SSP Runge-Kutta (Shu-Osher), stable for the Courant
  number ``dt (max|u| + max|v|)/h <= 1`` and the diffusion number ``dt/(Re h^2) <= 1/4``
  (:func:`~physcon.solvers.navier_stokes.cavity_stencils.cavity_numbers`). The lid speed is evaluated at each
  stage's time, so a time-dependent ``U(t)`` keeps the third order.

Entry points::

    import jax, physcon as pc
    cav = pc.navier_stokes                                      # the public face of the cavity API

    flow = cav.LidDrivenCavity(reynolds=100.0)                 # lid speed 1, impulsive start
    dt = cav.cavity_stable_dt(65, 100.0)                        # both limits, safety 0.9
    w = cav.cavity_solve(flow, n=65, dt=dt, n_steps=1000, save_every=100)   # (11, 65, 65)
    psi, u, v = cav.cavity_fields(w[-1], flow.lid_velocity(1000 * dt))
    x, y, u, v = cav.cavity_steady_state(reynolds=100.0, n=65)  # the classic steady flow
    ds = cav.generate_cavity_dataset(1200, key=jax.random.PRNGKey(0))   # BOON's sizes

Checks (``ValueError`` eagerly on concrete inputs; ``eqx.error_if`` under ``jit``): square
grid of at least 5 nodes per side, finite initial vorticity, positive ``Re`` and ``dt``, and
the two stability limits at ``t = 0`` and at every saved frame.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from physcon.solvers._checks import _as_leaves, _dtype
from physcon.solvers.navier_stokes.cavity_poisson import cavity_grid, check_nodes, check_square, pad_walls, poisson_interior
from physcon.solvers.navier_stokes.cavity_stencils import (
    MAX_COURANT_NUMBER,
    MAX_DIFFUSION_NUMBER,
    cavity_fields,
    cavity_numbers,
    max_stable_dt,
    transport_rhs,
    wall_vorticity,
)

__all__ = [
    "LidDrivenCavity", "cavity_stable_dt", "cavity_make_step", "cavity_solve",
    "cavity_steady_state", "cavity_vorticity",
]

Field = Float[Array, "*batch n n"]


class LidDrivenCavity(eqx.Module):
    """The problem: Reynolds number and lid speed ``U(t) = lid_speed * lid_profile(t)``.

    Attributes:
        reynolds: ``Re = U_ref L / nu`` (> 0); a scalar, or a ``(batch,)`` array to solve a
            batch of cavities (or ``vmap`` over it).
        lid_speed: the lid's tangential speed in ``+x`` (units of ``U_ref``; default 1).
            Scalar or ``(batch,)``.
        lid_profile: optional ``t -> factor`` (a JAX-traceable callable, e.g.
            ``lambda t: jnp.sin(jnp.pi * t / 2)``): ``U(t) = lid_speed * lid_profile(t)``.
            ``None`` (default) is the impulsive start: ``U = lid_speed`` for all ``t >= 0``
            while the fluid starts from the given vorticity.
    """

    reynolds: ArrayLike = 100.0
    lid_speed: ArrayLike = 1.0
    lid_profile: Callable | None = eqx.field(default=None, static=True)

    def __check_init__(self):
        for name in ("reynolds", "lid_speed"):
            val = getattr(self, name)
            try:
                arr = np.asarray(val, dtype=float)
            except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError, TypeError):
                continue  # traced: checked with eqx.error_if in cavity_solve
            if name == "reynolds" and not (np.all(np.isfinite(arr)) and np.all(arr > 0)):
                raise ValueError(f"reynolds must be positive and finite, got {val!r}")
            if name == "lid_speed" and not np.all(np.isfinite(arr)):
                raise ValueError(f"lid_speed must be finite, got {val!r}")

    def lid_velocity(self, t) -> Array:
        """``U(t)``: the lid speed at time ``t`` (shape of ``lid_speed`` broadcast with ``t``)."""
        U = jnp.asarray(self.lid_speed)
        return U if self.lid_profile is None else U * self.lid_profile(t)


def cavity_stable_dt(n: int, reynolds: float = 100.0, max_speed: float = 1.0, safety: float = 0.9) -> float:
    """A stable ``dt`` on the ``n x n`` grid: ``safety * min(Re h^2 / 4, h / (2 max_speed))``,
    ``h = 1/(n-1)``, the diffusion and Courant limits of the RK3 step for a flow whose speed is
    at most ``max_speed`` (1 for the classic cavity; take the lid plus any perturbation)."""
    return max_stable_dt(n, reynolds, max_speed, safety)


def _rk3(rhs, w, t, dt):
    w1 = w + dt * rhs(w, t)
    w2 = 0.75 * w + 0.25 * (w1 + dt * rhs(w1, t + dt))
    return w / 3 + (2.0 / 3.0) * (w2 + dt * rhs(w2, t + 0.5 * dt))


def cavity_make_step(flow: LidDrivenCavity, dt, method: str = "auto") -> Callable:
    """One unchecked SSP-RK3 step ``(w_interior, t) -> w_interior`` on the interior vorticity
    (``(*batch, m, m)``, ``m = n - 2``); pure (``jit``/``vmap``/``grad``/``lax.scan``).
    ``method`` picks the DST implementation (:func:`~physcon.solvers._spectral.dst1`)."""
    nu = 1.0 / jnp.asarray(flow.reynolds)

    def rhs(w, t):
        return transport_rhs(w, flow.lid_velocity(t), nu.astype(w.dtype), method)

    def step(w, t):
        return _rk3(rhs, w, t, jnp.asarray(dt, w.dtype))

    return step


def cavity_vorticity(flow: LidDrivenCavity, w_interior, t) -> Field:
    """The full ``(*batch, n, n)`` vorticity at time ``t`` from its interior values: walls by
    Thom's formula with the lid speed ``U(t)``."""
    w_interior = jnp.asarray(w_interior)
    return _cavity_vorticity(_as_leaves(flow), w_interior, jnp.asarray(t, w_interior.dtype))


@eqx.filter_jit  # one compile per shape (eagerly, the Poisson solve's ~60 primitives compiled one by one)
def _cavity_vorticity(flow, w_interior, t):
    psi = pad_walls(poisson_interior(w_interior, "auto", -1.0))
    return wall_vorticity(psi, w_interior, flow.lid_velocity(t))


def _check_numbers(w_full, flow, t, dt, where):
    _, u, v = cavity_fields(w_full, flow.lid_velocity(t))
    courant, diffusion = cavity_numbers(u, v, dt, flow.reynolds)
    w_full = eqx.error_if(w_full, ~jnp.all(jnp.isfinite(w_full)), f"vorticity {where} must be finite (no NaN/inf)")
    w_full = eqx.error_if(
        w_full, jnp.any(courant > MAX_COURANT_NUMBER),
        f"unstable time step: the Courant number dt (max|u| + max|v|) / h {where} exceeds "
        f"{MAX_COURANT_NUMBER}; reduce dt (cavity_stable_dt)",
    )
    return eqx.error_if(
        w_full, jnp.any(diffusion > MAX_DIFFUSION_NUMBER),
        f"unstable time step: the diffusion number dt / (Re h^2) exceeds {MAX_DIFFUSION_NUMBER}; "
        "reduce dt (cavity_stable_dt)",
    )


def _prepare(flow, w0, n, dt):
    """Validate eagerly; returns ``(w0 full, n)``."""
    if not isinstance(flow, LidDrivenCavity):
        raise ValueError(f"flow must be a LidDrivenCavity, got {type(flow).__name__}")
    if w0 is None:
        if n is None:
            raise ValueError("give the initial vorticity w0 or the grid size n (w0 = 0: fluid at rest)")
        n = check_nodes(n)
        batch = jnp.broadcast_shapes(jnp.shape(flow.reynolds), jnp.shape(flow.lid_speed))
        w0 = jnp.zeros(batch + (n, n), _dtype(None))
    w0 = jnp.asarray(w0)
    if jnp.issubdtype(w0.dtype, jnp.complexfloating):
        raise ValueError(f"w0 must be real, got {w0.dtype}")
    if not jnp.issubdtype(w0.dtype, jnp.floating):
        w0 = w0.astype(_dtype(None))
    side = check_square(w0.shape, "w0")
    if n is not None and check_nodes(n) != side:
        raise ValueError(f"n = {n} does not match w0's shape {w0.shape}")
    try:  # eager value checks; the same run again under jit
        finite = bool(np.all(np.isfinite(np.asarray(w0))))
        dt_ = float(dt)
        re = np.asarray(flow.reynolds, float)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError, TypeError):
        return w0, side
    if not finite:
        raise ValueError("w0 (initial vorticity) must be finite (no NaN/inf)")
    if not (math.isfinite(dt_) and dt_ > 0):
        raise ValueError(f"dt must be positive and finite, got {dt!r}")
    h = 1.0 / (side - 1)
    diffusion = float(np.max(dt_ / (re * h**2)))
    if diffusion > MAX_DIFFUSION_NUMBER:
        raise ValueError(
            f"unstable time step: dt = {dt_:.4g} gives the diffusion number dt / (Re h^2) = "
            f"{diffusion:.3g} > {MAX_DIFFUSION_NUMBER} (explicit RK3); use dt <= "
            f"{dt_ * MAX_DIFFUSION_NUMBER / diffusion:.4g}"
        )
    try:
        courant = float(_initial_courant(_as_leaves(flow), w0, np.asarray(dt_)))
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError, TypeError):
        return w0, side
    if courant > MAX_COURANT_NUMBER:
        raise ValueError(
            f"unstable time step: dt = {dt_:.4g} gives the Courant number dt (max|u| + max|v|) / h "
            f"= {courant:.3g} > {MAX_COURANT_NUMBER} at t = 0; use dt <= {dt_ * MAX_COURANT_NUMBER / courant:.4g}"
        )
    return w0, side


@eqx.filter_jit
def _initial_courant(flow, w0, dt):
    _, u, v = cavity_fields(w0, flow.lid_velocity(jnp.zeros((), w0.dtype)))
    return jnp.max(cavity_numbers(u, v, dt, flow.reynolds)[0])


def cavity_solve(
    flow: LidDrivenCavity,
    w0: Field | None = None,
    *,
    n: int | None = None,
    dt,
    n_steps: int,
    save_every: int = 1,
    method: str = "auto",
    check_frames: bool = True,
) -> Float[Array, "*batch nt n n"]:
    """March the cavity from ``w0`` and return the vorticity every ``save_every`` steps.

    Args:
        flow: the :class:`LidDrivenCavity` (Reynolds number, lid speed and profile).
        w0: initial vorticity on the node grid, shape ``(n, n)`` or ``(*batch, n, n)``; only
            its interior is used (the walls follow from Thom's formula). ``None``: the fluid at
            rest (impulsive start), with ``n`` nodes per side. Its dtype is the result's.
        n: nodes per side (walls included) when ``w0`` is ``None``.
        dt: time step (units ``L/U_ref``); may be traced under ``jit``.
        n_steps, save_every: run ``n_steps`` steps (a multiple of ``save_every``, static ints)
            and save frames at ``t = 0, k dt, ..., n_steps dt`` (``n_steps // save_every + 1``).
        method: DST implementation (``"auto"``, ``"fft"``, ``"matmul"``).
        check_frames: check every saved frame (finite; both stability numbers) with
            ``eqx.error_if`` (one extra Poisson solve per frame).

    Returns:
        The full vorticity (walls by Thom's formula) at the saved times,
        ``(*batch, nt, n, n)``; the first frame is ``w0`` with its walls recomputed.

    Raises:
        ValueError: (eagerly) non-square or too small grids, bad arguments, non-finite ``w0``,
            an unstable ``dt`` (Courant number > 1 or diffusion number > 1/4 at ``t = 0``).
        RuntimeError: ``eqx.error_if`` under ``jit``: the same checks on traced inputs and at
            every saved frame (a blow-up is reported, not returned as NaN).
    """
    for name, val, low in (("n_steps", n_steps, 0), ("save_every", save_every, 1)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < low:
            raise ValueError(f"{name} must be an int >= {low}, got {val!r}")
    if n_steps % save_every:
        raise ValueError(f"n_steps ({n_steps}) must be a multiple of save_every ({save_every})")
    w0, _ = _prepare(flow, w0, n, dt)
    return _run(_as_leaves(flow), w0, jnp.asarray(dt, w0.dtype), int(n_steps) // int(save_every), int(save_every), method, bool(check_frames))


@eqx.filter_jit
def _run(flow, w0, dt, n_frames_after, every, method, check_frames):
    re = jnp.asarray(flow.reynolds)
    w0 = eqx.error_if(w0, ~(dt > 0), "dt must be positive")
    w0 = eqx.error_if(w0, ~jnp.all(jnp.isfinite(re) & (re > 0)), "reynolds must be positive and finite")
    w_in = w0[..., 1:-1, 1:-1]
    first = cavity_vorticity(flow, w_in, jnp.zeros((), w0.dtype))
    first = _check_numbers(first, flow, 0.0, dt, "at t = 0")
    w_in = first[..., 1:-1, 1:-1]
    step = cavity_make_step(flow, dt, method)

    @jax.checkpoint
    def frame(carry, _):
        w, k = carry
        w = jax.lax.fori_loop(0, every, lambda i, s: step(s, (k + i) * dt), w)
        k = k + every
        full = cavity_vorticity(flow, w, k * dt)
        if check_frames:
            full = _check_numbers(full, flow, k * dt, dt, "at a saved frame")
        return (w, k), full

    if n_frames_after == 0:
        return jnp.expand_dims(first, -3)
    _, frames = jax.lax.scan(frame, (w_in, jnp.zeros((), w0.dtype)), None, length=n_frames_after)
    return jnp.moveaxis(jnp.concatenate([first[None], frames]), 0, -3)


def cavity_steady_state(
    reynolds: float = 100.0,
    n: int = 65,
    *,
    tol: float = 1e-6,
    dt: float | None = None,
    max_time: float = 200.0,
    check_every: int | None = None,
    dtype=None,
    full_output: bool = False,
):
    """The steady lid-driven cavity flow (lid speed 1 at ``y = 1``) by marching from rest.

    Args:
        reynolds: Reynolds number ``Re = U L / nu`` (concrete, > 0).
        n: nodes per side, walls included (``h = 1/(n-1)``).
        tol: stop when the residual ``max|w(t + T) - w(t)| / T`` over a check interval ``T``
            (the sup norm of ``dw/dt``, units ``U^2/L^2``) drops below
            ``max(tol, 4 eps max|w| / T)``, ``eps`` the dtype's resolution: below that floor
            the residual is rounding noise (a float32 march stalls at 1-2 ulps of ``max|w|``
            per check, ~2e-6..9e-6 at the defaults), so the default call converges in any
            dtype; in float64 the floor (~1e-13) never binds. ``info["tol"]`` reports the
            tolerance that applied.
        dt: time step (default :func:`cavity_stable_dt` ``(n, Re)``).
        max_time: give up (``RuntimeError``) if not converged by this time.
        check_every: steps per residual check (default ``~0.5 / dt``, half a time unit).
        dtype: floating dtype (default JAX's default float).
        full_output: also return ``info`` (dict: ``time``, ``steps``, ``residual``, ``psi``, ``w``).

    Returns:
        ``(x, y, u, v)``, each ``(n, n)`` (``indexing="ij"``): node coordinates and velocity,
        with ``u = 1`` on the lid row and ``0`` on the other walls; plus ``info`` if asked.
    """
    n = check_nodes(n)
    reynolds = float(reynolds)
    if not (math.isfinite(reynolds) and reynolds > 0):
        raise ValueError(f"reynolds must be positive and finite, got {reynolds!r}")
    if not (math.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be positive, got {tol!r}")
    dt = cavity_stable_dt(n, reynolds) if dt is None else float(dt)
    check_every = max(1, round(0.5 / dt)) if check_every is None else int(check_every)
    dtype = _dtype(dtype)
    flow = LidDrivenCavity(reynolds=reynolds)
    w0, _ = _prepare(flow, jnp.zeros((n, n), dtype), n, dt)
    max_chunks = math.ceil(max_time / (dt * check_every))
    w, k, res, tol_used = _march_steady(
        flow, w0[1:-1, 1:-1], jnp.asarray(dt, dtype), check_every, max_chunks, tol
    )
    res, tol_used = float(res), float(tol_used)
    if not res < tol_used:
        raise RuntimeError(
            f"cavity_steady_state did not converge: residual {res:.3g} >= tol {tol_used:.3g} "
            f"(tol = {tol:g}, or the {jnp.dtype(dtype).name} round-off floor 4 eps max|w| / T if "
            f"larger) at t = {float(k) * dt:.4g} (max_time = {max_time}); raise max_time or tol, "
            "or check dt"
        )
    full = cavity_vorticity(flow, w, 0.0)
    psi, u, v = cavity_fields(full, 1.0)
    x, y = cavity_grid(n, dtype)
    if full_output:
        info = {"time": float(k) * dt, "steps": int(k), "residual": res, "tol": tol_used, "psi": psi, "w": full}
        return x, y, u, v, info
    return x, y, u, v


@eqx.filter_jit
def _march_steady(flow, w, dt, every, max_chunks, tol):
    step = cavity_make_step(flow, dt)

    eps = jnp.finfo(w.dtype).eps

    def cond(state):
        _, _, res, tol_used, i = state
        return ~(res < tol_used) & (i < max_chunks) & ((i == 0) | jnp.isfinite(res))

    def body(state):
        w, k, _, _, i = state
        w_new = jax.lax.fori_loop(0, every, lambda j, s: step(s, (k + j) * dt), w)
        res = jnp.max(jnp.abs(w_new - w)) / (every * dt)
        floor = 4 * eps * jnp.max(jnp.abs(w_new)) / (every * dt)
        return w_new, k + every, res, jnp.maximum(tol, floor).astype(w.dtype), i + 1

    inf = jnp.asarray(jnp.inf, w.dtype)
    init = (w, jnp.zeros((), jnp.int32), inf, inf, jnp.zeros((), jnp.int32))
    w, k, res, tol_used, _ = jax.lax.while_loop(cond, body, init)
    return w, k, res, tol_used
