"""Conservative finite-volume time stepping on a 1-D cell grid.

The state is the vector of cell values ``u_i`` (cell centres, width ``dx``). One forward-Euler
step in flux form is

    u_i <- u_i - dt/dx (F_{i+1/2} - F_{i-1/2}),

with ``F`` the ``n + 1`` face fluxes (positive along +x) supplied by the problem. Summing over
cells telescopes the interior fluxes, so the discrete mass ``dx sum(u)`` changes by exactly
``dt (F_{1/2} - F_{n+1/2})`` per step: the simulation accumulates this net boundary inflow
alongside ``u`` and the balance holds to round-off (tested).

Two flux families live here:

* :func:`kirchhoff_fluxes` for ``u_t = (k(u) u_x)_x``: ``F = -d Phi(u)/dx`` with the Kirchhoff
  potential ``Phi(u) = integral_0^u k``, differenced between neighbouring cells. This is the
  classical monotone scheme for degenerate and discontinuous diffusivities (porous medium,
  Stefan/enthalpy); it is second order for smooth solutions. A Dirichlet wall uses the
  one-sided derivative of ``Phi`` from the wall value and ``order`` (1 or 2) interior cells.
* :func:`godunov_fluxes` for ``u_t + f(u)_x = 0``: a two-point Riemann flux with ghost cells
  (Dirichlet: the wall value; Neumann: a linear extrapolation; periodic: wrap).

Step-size rule (documented, checked under jit): forward Euler is monotone (maximum
principle, hence stable) when ``dt <= dx^2 / (c L)`` for diffusion, with ``L = max k(u)`` over
the solution's range and ``c = 2`` (interior), ``3`` or ``4`` (a Dirichlet wall with a first
or second order stencil); and when ``dt <= dx / max|f'(u)|`` for a conservation law.
Each output interval ``[t_j, t_j+1]`` is split into ``substeps`` equal steps.
"""

from __future__ import annotations

import math

import equinox as eqx
import equinox.internal as eqxi
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from physcon.bc import Dirichlet, Periodic, wall_derivative_weights
from physcon.grid import Grid1D


# --- face fluxes ------------------------------------------------------------------------------
def kirchhoff_fluxes(potential, diffusivity, u, t, left, right, dx: float, order: int):
    """Face fluxes ``F = -d Phi(u)/dx``, shape ``(n + 1,)``, for ``u_t = (k(u) u_x)_x``.

    Args:
        potential: ``Phi(u)``, the Kirchhoff potential (``Phi' = k``).
        diffusivity: ``k(u)``, used for the flux through a Neumann wall, ``-k(u_wall) g``
            (``u_wall`` taken from the adjacent cell; exact for constant ``k`` or ``g = 0``).
        u: cell values, shape ``(n,)``.
        t: time at which the boundary values are taken.
        left, right: boundary conditions (``physcon.bc``).
        dx: cell width.
        order: accuracy order (1 or 2) of the one-sided wall derivative for Dirichlet walls.
    """
    phi = potential(u)
    interior = -(phi[1:] - phi[:-1]) / dx
    if isinstance(left, Periodic):
        wrap = -(phi[:1] - phi[-1:]) / dx
        return jnp.concatenate([wrap, interior, wrap])
    w = wall_derivative_weights(order, dx, staggered=True)

    def wall(bc, cells, sign):
        if isinstance(bc, Dirichlet):
            # scalar multiply-adds (not a dot): XLA fuses them into the update kernel
            d = w[0] * potential(bc.at(t, u.dtype))
            for j in range(order):
                d = d + w[j + 1] * cells[j]
            return -sign * d
        return -diffusivity(cells[0:1])[0] * bc.at(t, u.dtype)

    f_left = wall(left, phi, 1.0)
    f_right = wall(right, phi[::-1], -1.0)
    return jnp.concatenate([f_left[None], interior, f_right[None]])


def godunov_fluxes(riemann, u, t, left, right, dx: float):
    """Face fluxes ``F = H(u_L, u_R)``, shape ``(n + 1,)``, for ``u_t + f(u)_x = 0``.

    ``riemann(uL, uR)`` is a monotone two-point flux (Godunov's exact Riemann flux for the
    problems here). Ghost values: Dirichlet ``g``; Neumann ``du/dx = g`` by linear
    extrapolation (``g = 0``: transmissive outflow); periodic by wrapping.
    """

    def ghost(bc, inner, sign):
        if isinstance(bc, Periodic):
            return None
        g = bc.at(t, u.dtype)
        return g if isinstance(bc, Dirichlet) else inner + sign * g * dx

    if isinstance(left, Periodic):
        gl, gr = u[-1], u[0]
    else:
        gl, gr = ghost(left, u[0], -1.0), ghost(right, u[-1], 1.0)
    # scalar boundary data meet a batched state (nx, batch): one ghost value per problem
    gl, gr = (jnp.broadcast_to(g, u.shape[1:]).astype(u.dtype) for g in (gl, gr))
    ext = jnp.concatenate([gl[None], u, gr[None]])
    return riemann(ext[:-1], ext[1:])


# --- time integration -------------------------------------------------------------------------
class Simulation(eqx.Module):
    """The output of :func:`simulate`.

    Attributes:
        t: output times, shape ``(nt,)``.
        u: cell values at the output times, shape ``(nt, nx)``; ``u[0]`` is the initial data.
        inflow: cumulative net boundary inflow ``integral_{t0}^{t} (F_left - F_right) ds`` as
            accumulated by the scheme, shape ``(nt,)``. ``dx * u.sum(-1) - dx * u[0].sum()``
            equals it to round-off.
        dt: the largest step taken (``max diff(t) / substeps``).
        substeps: Euler steps per output interval; ``None`` when the count was chosen at
            run time (traced ``t`` or parameters), interval by interval.
    """

    t: Float[Array, " nt"]
    u: Float[Array, "nt nx"]
    inflow: Float[Array, " nt"]
    dt: Float[Array, ""]
    substeps: int | None = eqx.field(static=True)


def float_dtype(*xs):
    """The floating dtype of the caller's arrays (JAX's default float if none is floating)."""
    dts = [jnp.asarray(x).dtype for x in xs]
    floats = [d for d in dts if jnp.issubdtype(d, jnp.floating)]
    return jnp.result_type(*floats) if floats else jnp.result_type(float)


def cast_problem(problem, dtype):
    """Cast the problem's floating array leaves to ``dtype`` (Python numbers stay weak)."""

    def cast(leaf):
        if eqx.is_array(leaf) and jnp.issubdtype(leaf.dtype, jnp.floating):
            return leaf.astype(dtype)
        return leaf

    return jax.tree.map(cast, problem)


def _check_grid(problem, grid):
    if not isinstance(grid, Grid1D) or grid.kind != "cells":
        raise ValueError(f"grid must be a cell grid, Grid1D.cells(a, b, n); got {grid!r}")
    if not np.allclose(grid.domain, problem.domain, rtol=1e-12, atol=1e-12):
        raise ValueError(
            f"grid covers {grid.domain} but the problem's domain is {problem.domain}; build it "
            "with Grid1D.cells(*problem.domain, n=...)"
        )


def _check_inputs(grid, t, u0, batch=()):
    if t.ndim != 1 or t.shape[0] < 1:
        raise ValueError(f"t must be a 1-D array of output times, got shape {t.shape}")
    if u0.shape != (grid.n, *batch):
        want = f"(nx,) = ({grid.n},)" + (f" or (batch, nx) = {(*batch, grid.n)}" if batch else "")
        raise ValueError(f"u0 must have shape {want}, got {u0.shape[::-1] if batch else u0.shape}")


def stable_dt(problem, grid: Grid1D, t_end: ArrayLike, boundary_order: int = 2) -> Array:
    """Largest monotone forward-Euler step for ``problem`` on ``grid`` up to time ``t_end``."""
    return problem.stable_dt(grid.dx, t_end, boundary_order)


def stable_substeps(
    problem, grid: Grid1D, t: ArrayLike, cfl: float = 0.9, boundary_order: int = 2
) -> int:
    """Euler steps per output interval so that ``dt <= cfl * stable_dt`` (concrete inputs).

    ``problem`` may hold a batch of parameter values (e.g. ``Stefan(u_star=array)``): the
    most restrictive one sets the count, so one static value serves a whole ``vmap``.
    Raises ``ValueError`` for traced ``t`` or parameters (inside ``jit``/``vmap``/``grad``:
    :func:`simulate` then picks the count per interval at run time by itself).
    """
    count = _concrete_substeps(problem, grid, t, cfl, boundary_order)
    if count is None:
        raise ValueError(
            "stable_substeps needs concrete t and problem parameters (it returns a Python int); "
            "inside jit/vmap/grad call simulate/solve without substeps= instead"
        )
    return count


def _concrete_substeps(problem, grid, t, cfl, boundary_order) -> int | None:
    """:func:`stable_substeps`, or ``None`` when ``t`` or the parameters are traced."""
    if not 0.0 < cfl <= 1.0:
        raise ValueError(f"cfl must be in (0, 1], got {cfl}")
    try:
        t_np = np.asarray(t, dtype=np.float64)
        dt_max = float(np.asarray(stable_dt(problem, grid, t_np[-1], boundary_order)).min())
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return None
    if t_np.size < 2:
        return 1
    steps = np.diff(t_np)
    if not (np.all(steps > 0) and np.all(np.isfinite(t_np))):
        raise ValueError("t must be strictly increasing and finite")
    span = float(np.max(steps))
    return max(1, math.ceil(span / (cfl * dt_max) - 1e-9))


def simulate(
    problem,
    grid: Grid1D,
    t: Float[ArrayLike, " nt"],
    *,
    u0: Float[ArrayLike, " nx"] | None = None,
    substeps: int | None = None,
    cfl: float = 0.9,
    boundary_order: int = 2,
    compensated: bool | None = None,
    max_substeps: int = 100_000,
) -> Simulation:
    """Integrate ``problem`` on the cell ``grid`` and return the state at the times ``t``.

    ``problem`` may carry a 1-D batch of parameter values (``Stefan(u_star=jnp.array([...]))``):
    the batch is then solved in one native loop (faster than ``vmap`` on CPU) and the
    :class:`Simulation` fields get a leading batch axis (``u``: ``(batch, nt, nx)``).

    Args:
        problem: a GPME or conservation-law problem (``physcon.gpme``).
        grid: ``Grid1D.cells(*problem.domain, n=nx)``.
        t: strictly increasing output times, shape ``(nt,)``; the run starts at ``t[0]``.
            Its floating dtype is the dtype of the result.
        u0: initial cell values at ``t[0]``, shape ``(nx,)`` (or ``(batch, nx)`` for a batched
            problem); default ``problem.initial(x)``.
        substeps: forward-Euler steps per output interval (a static int). Default: the
            fewest with ``dt <= cfl * stable_dt``, chosen here from concrete ``t`` and
            parameters. Under ``jit``/``vmap``/``grad`` (traced ``t`` or parameters) the same
            rule runs at run time, interval by interval, in a bounded while loop whose
            reverse pass is checkpointed (binomial, as diffrax's ``RecursiveCheckpointAdjoint``):
            ``grad`` stores ``O(log max_substeps)`` states per interval. Forward-mode
            (``jvp``/``jacfwd``) needs a static ``substeps``.
        cfl: safety factor on the stable step when ``substeps`` is chosen here.
        boundary_order: 1 or 2, order of the one-sided derivative at Dirichlet walls.
        compensated: accumulate ``u`` and the inflow with Kahan-compensated sums. Explicit
            diffusion takes many steps whose increments are tiny next to ``u``; in float32
            plain sums lose them: the default Stefan run then deviates from float64 by 3e-4
            and conserves mass to 2.6e-5 (relative), against 3e-6 and 8e-8 compensated
            (porous medium m = 3, 5e5 steps: 1e-2 plain, 2e-6 compensated); costs ~2x. Default: on below float64, off in float64
            (where plain sums already balance to ~1e-15 and the extra work buys nothing).
        max_substeps: bound on the Euler steps of one output interval when their count is
            chosen at run time (traced inputs, no ``substeps``); exceeding it is an error
            (``eqx.error_if``) asking for more output times or a larger bound.

    Raises:
        ValueError: (eagerly) bad shapes, grid/domain mismatch, bad ``substeps``/
            ``boundary_order``/``cfl``/``max_substeps``, non-increasing ``t`` when
            ``substeps`` is chosen here.
        RuntimeError: from ``eqx.error_if`` at run time, also under jit (eagerly
            ``equinox.EquinoxRuntimeError``, under ``jax.jit`` ``jax.errors.JaxRuntimeError``,
            both carrying the message): invalid physical parameters, NaN/inf in ``u0`` or
            boundary data, non-increasing ``t``, a step above the stability limit.
    """
    if boundary_order not in (1, 2):
        raise ValueError(f"boundary_order must be 1 or 2 (monotone wall stencils), got {boundary_order}")
    dtype = float_dtype(t)
    t = jnp.asarray(t, dtype=dtype)
    problem = cast_problem(problem, dtype)
    _check_grid(problem, grid)  # before the grid is used for the initial data
    batch = jnp.shape(problem.value)
    if len(batch) > 1:
        raise ValueError(f"problem parameters must be scalars or a 1-D batch, got shape {batch}")
    x = grid.points(dtype)
    # a batched problem runs natively with the state laid out (nx, batch): the stencil then
    # slices the outer axis and every batch lane is contiguous (2-3x faster than vmap's
    # (batch, nx) layout on CPU)
    if u0 is None:
        u0 = jnp.broadcast_to(problem.initial(x[:, None] if batch else x), (grid.n, *batch))
    else:
        u0 = jnp.asarray(u0)
        if batch and u0.shape == (*batch, grid.n):
            u0 = u0.T
        elif batch and u0.shape == (grid.n,):
            u0 = jnp.broadcast_to(u0[:, None], (grid.n, *batch))
    u0 = u0.astype(dtype)
    _check_inputs(grid, t, u0, batch)
    if substeps is None:
        substeps = _concrete_substeps(problem, grid, t, cfl, boundary_order)
    if substeps is not None and (isinstance(substeps, bool) or int(substeps) != substeps or substeps < 1):
        raise ValueError(f"substeps must be a positive int, got {substeps!r}")
    if isinstance(max_substeps, bool) or int(max_substeps) != max_substeps or max_substeps < 1:
        raise ValueError(f"max_substeps must be a positive int, got {max_substeps!r}")
    limit = problem.stable_dt(grid.dx, t[-1], boundary_order)
    # traced inputs: each interval takes the fewest steps with dt <= cfl * limit (as above)
    count = int(substeps) if substeps is not None else _run_time_count(cfl * jnp.min(limit))

    if t.shape[0] > 1:
        steps = jnp.diff(t)
        dt_max = jnp.max(steps / count(steps) if callable(count) else steps / count)
        t = eqx.error_if(t, ~jnp.all(steps > 0), "t must be strictly increasing")
        if callable(count):
            t = eqx.error_if(
                t, jnp.any(count(steps) > max_substeps),
                f"an output interval needs more than max_substeps={max_substeps} stable Euler "
                "steps: pass more output times t or a larger max_substeps",
            )
    else:
        dt_max = jnp.zeros((), dtype)
    # parameters first: a bad parameter also spoils the default u0, and should be named
    for bad, message in problem.invalid():
        u0 = eqx.error_if(u0, bad, message)
    u0 = eqx.error_if(u0, ~jnp.all(jnp.isfinite(u0)), "u0 (initial data) must be finite (no NaN/inf)")
    for side, bc in (("left", problem.left), ("right", problem.right)):
        if not isinstance(bc, Periodic):
            g = jax.vmap(lambda s: bc.at(s, dtype))(t)
            u0 = eqx.error_if(
                u0, ~jnp.all(jnp.isfinite(g)), f"{side} boundary value must be finite (no NaN/inf)"
            )
    u0 = eqx.error_if(
        u0,
        jnp.any(dt_max > limit * (1 + 1e-6)),
        "unstable time step: dt = max(diff(t))/substeps exceeds the monotone (stable) limit "
        "of the explicit scheme; increase substeps",
    )
    fluxes = lambda u, s: problem.face_fluxes(u, s, grid.dx, boundary_order).astype(dtype)
    if compensated is None:
        compensated = jnp.finfo(dtype).bits < 64
    u, inflow = _run(fluxes, u0, t, count, grid.dx, bool(compensated), int(max_substeps))
    if batch:  # (nt, nx, batch) -> (batch, nt, nx), as vmap would return
        u, inflow = jnp.moveaxis(u, -1, 0), jnp.moveaxis(inflow, -1, 0)
    return Simulation(t=t, u=u, inflow=inflow, dt=dt_max, substeps=None if callable(count) else count)


def solve(problem, grid: Grid1D, t, **kwargs) -> Float[Array, "nt nx"]:
    """``simulate(...).u``: the cell values at the times ``t``, shape ``(nt, nx)``."""
    return simulate(problem, grid, t, **kwargs).u


def _run_time_count(dt_cap):
    """Steps per interval of length ``span`` with ``dt <= dt_cap``, at run time (int32)."""

    def count(span):
        return jnp.maximum(jnp.ceil(span / dt_cap - 1e-9), 1).astype(jnp.int32)

    return count


def _run(fluxes, u0, t, substeps, dx: float, compensated: bool, max_substeps: int):
    """``substeps``: a static int, or a function ``span -> int32 count`` (traced inputs)."""
    zero = jnp.zeros(u0.shape[1:], u0.dtype)  # the inflow: one per problem of a batch

    # With compensation each sum is carried as a stacked (value, lost low bits) pair: one
    # array, so XLA updates it in a single pass instead of copying two carries (Kahan).
    def add(pair, inc):
        if not compensated:
            return pair + inc
        y = inc - pair[1]
        s = pair[0] + y
        return jnp.stack([s, (s - pair[0]) - y])

    def value(pair):
        return pair[0] if compensated else pair

    def start(x):
        return jnp.stack([x, jnp.zeros_like(x)]) if compensated else x

    def stepper(t0, dt):
        def euler(i, c):
            u, q = c
            f = fluxes(value(u), t0 + i * dt)
            return add(u, -(dt / dx) * (f[1:] - f[:-1])), add(q, dt * (f[0] - f[-1]))

        return euler

    @jax.checkpoint  # reverse mode stores one state per output time, recomputes the substeps
    def interval(carry, bounds):
        t0, t1 = bounds
        carry = jax.lax.fori_loop(0, substeps, stepper(t0, (t1 - t0) / substeps), carry)
        return carry, (value(carry[0]), value(carry[1]))

    def traced_interval(carry, bounds):
        t0, t1 = bounds
        n = substeps(t1 - t0)
        euler = stepper(t0, (t1 - t0) / n.astype(t.dtype))
        _, *carry = eqxi.while_loop(
            lambda c: c[0] < n, lambda c: (c[0] + 1, *euler(c[0], c[1:])), (jnp.zeros((), jnp.int32), *carry),
            max_steps=max_substeps, kind="checkpointed",
        )
        return tuple(carry), (value(carry[0]), value(carry[1]))

    if callable(substeps):
        interval = traced_interval

    if t.shape[0] == 1:
        return u0[None], zero[None]
    _, (u, q) = jax.lax.scan(interval, (start(u0), start(zero)), (t[:-1], t[1:]))
    return jnp.concatenate([u0[None], u]), jnp.concatenate([zero[None], q])
