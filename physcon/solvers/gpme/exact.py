"""Closed-form solutions and total masses of the GPME family and the two hyperbolic laws.

Every function is pure JAX (jit/vmap/grad), broadcasts its arguments, and returns values in
the dtype of its inputs. ``x`` and ``t`` broadcast against each other: pass ``x[None, :]``
and ``t[:, None]`` for a ``(nt, nx)`` field. The masses are ``U(t) = integral u(x, t) dx``
over the problem's domain; they equal ``U(0)`` plus the time-integrated boundary inflow, which
is what the ProbConserv constraint needs.

References for the set-ups: Hansen et al., "Learning physical models that can respect
conservation laws", ICML 2023, Section 4 and Appendix (GPME family).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.scipy.special as jsp
import optimistix as optx
from jaxtyping import Array, ArrayLike, Float

_SQRT_PI = 1.7724538509055159


def _where_safe(cond, f, x, fill):
    """``where(cond, f(x), fill)`` with gradients that stay finite where ``cond`` is False."""
    x_safe = jnp.where(cond, x, jnp.ones_like(x))
    return jnp.where(cond, f(x_safe), fill)


# --- heat equation ----------------------------------------------------------------------------
def heat_sine(x: ArrayLike, t: ArrayLike, k: ArrayLike) -> Float[Array, "..."]:
    """``u = exp(-k t) sin x``: solves ``u_t = k u_xx`` with ``u(x, 0) = sin x``."""
    return jnp.exp(-k * t) * jnp.sin(x)


def heat_sine_mass(t: ArrayLike, k: ArrayLike, a: float = 0.0, b: float = 2 * jnp.pi):
    """``integral_a^b exp(-k t) sin x dx`` (zero on a whole period)."""
    return jnp.exp(-k * t) * (jnp.cos(a) - jnp.cos(b))


# --- porous medium equation -------------------------------------------------------------------
def pme_front(x: ArrayLike, t: ArrayLike, m: ArrayLike) -> Float[Array, "..."]:
    """``u = (m relu(t - x))^(1/m)``: a front moving at unit speed for ``u_t = (u^m u_x)_x``.

    Boundary value ``u(0, t) = (m t)^(1/m)``, zero initial data on ``x > 0``.
    """
    s = m * (t - x)
    return _where_safe(s > 0, lambda s: s ** (1.0 / m), s, 0.0)


def pme_mass(t: ArrayLike, m: ArrayLike) -> Float[Array, "..."]:
    """``integral_0^1 u dx = m^(1+1/m) t^(1+1/m) / (m+1)``, valid while the front is inside
    the domain (``0 <= t <= 1``)."""
    tc = jnp.maximum(t, 0.0)
    p = 1.0 + 1.0 / m
    return _where_safe(tc > 0, lambda tc: (m * tc) ** p / (m + 1.0), tc, 0.0)


def pme_boundary(t: ArrayLike, m: ArrayLike) -> Float[Array, "..."]:
    """``u(0, t) = (m t)^(1/m)``."""
    return pme_front(0.0, t, m)


# --- Stefan problem ---------------------------------------------------------------------------
def _stefan_residual(z, us):
    # module level (not a closure) so optimistix's compiled solve is reused across calls
    return jnp.log(us * jsp.erf(z) * z) + z * z - jnp.log((1.0 - us) / _SQRT_PI)


def stefan_z1(u_star: ArrayLike) -> Float[Array, ""]:
    """Root ``z1`` of ``u* erf(z) z exp(z^2) = (1 - u*) / sqrt(pi)`` (``0 < u* < 1``).

    Solved by bisection in log form (monotone in z); differentiable by the implicit function
    theorem (optimistix), so ``jax.grad`` through ``u*`` is exact.
    """
    u_star = jnp.asarray(u_star)
    dtype = u_star.dtype if jnp.issubdtype(u_star.dtype, jnp.floating) else jnp.result_type(float)
    u_star = u_star.astype(dtype)
    eps = float(jnp.finfo(dtype).eps)

    def solve_one(us):
        solver = optx.Bisection(rtol=8 * eps, atol=8 * eps)
        sol = optx.root_find(
            _stefan_residual, solver, jnp.asarray(1.0, dtype), args=us,
            options=dict(lower=jnp.asarray(1e-6, dtype), upper=jnp.asarray(8.0, dtype)),
            max_steps=256,
        )
        return sol.value

    if u_star.ndim == 0:
        return solve_one(u_star)
    return jax.vmap(solve_one)(u_star.ravel()).reshape(u_star.shape)


def _like(u_star: ArrayLike, *xs: ArrayLike) -> Array:
    """``u_star`` in the promoted floating dtype of ``(u_star, *xs)``, so a Python-number
    parameter does not turn float32 ``x``/``t`` into float64 output when x64 is enabled."""
    dtype = jnp.result_type(u_star, *xs)
    if not jnp.issubdtype(dtype, jnp.floating):
        dtype = jnp.result_type(float)
    return jnp.asarray(u_star, dtype)


def stefan_constants(u_star: ArrayLike) -> tuple[Array, Array, Array]:
    """``(z1, alpha, c1)`` with front ``x*(t) = alpha sqrt(t)``, ``alpha = 2 z1``,
    ``c1 = (1 - u*) / erf(z1)``."""
    z1 = stefan_z1(u_star)
    return z1, 2.0 * z1, (1.0 - u_star) / jsp.erf(z1)


def stefan(x: ArrayLike, t: ArrayLike, u_star: ArrayLike) -> Float[Array, "..."]:
    """Similarity solution of ``u_t = (k(u) u_x)_x`` with ``k = 1[u >= u*]``, ``u(0, t) = 1``.

    ``u = 1 - c1 erf(x / (2 sqrt t))`` behind the front ``x <= alpha sqrt(t)``, 0 beyond; the
    solution drops from ``u*`` to 0 at the front. ``u(0, t) = 1`` for all ``t >= 0``.
    """
    _, alpha, c1 = stefan_constants(_like(u_star, x, t))
    x, t = jnp.asarray(x), jnp.asarray(t)
    pos = t > 0
    sqrt_t = _where_safe(pos, jnp.sqrt, t, 0.0)
    behind = 1.0 - c1 * jsp.erf(x / jnp.where(pos, 2.0 * sqrt_t, 1.0))
    u = jnp.where(pos & (x <= alpha * sqrt_t), behind, 0.0)
    return jnp.where(x <= 0, jnp.ones_like(u), u)


def stefan_front(t: ArrayLike, u_star: ArrayLike) -> Float[Array, "..."]:
    """Front position ``x*(t) = alpha sqrt(t)``."""
    _, alpha, _ = stefan_constants(_like(u_star, t))
    return alpha * jnp.sqrt(t)


def stefan_mass(t: ArrayLike, u_star: ArrayLike) -> Float[Array, "..."]:
    """``integral u dx = 2 c1 sqrt(t / pi)`` (the integrated inflow ``-u_x(0, t)``), while the
    front is inside the domain."""
    _, _, c1 = stefan_constants(_like(u_star, t))
    return 2.0 * c1 * jnp.sqrt(jnp.maximum(t, 0.0) / jnp.pi)


# --- hyperbolic laws --------------------------------------------------------------------------
def advection_step(x: ArrayLike, t: ArrayLike, a: ArrayLike) -> Float[Array, "..."]:
    """``u = h(x - a t)``, ``h = 1[x <= 1/2]``, inflow value 1 (``a > 0``)."""
    return jnp.where(x - a * t <= 0.5, 1.0, 0.0) * jnp.ones_like(a * t * x)


def advection_mass(t: ArrayLike, a: ArrayLike) -> Float[Array, "..."]:
    """``integral_0^1 u dx = min(1/2 + a t, 1)``."""
    return jnp.minimum(0.5 + a * t, 1.0)


def burgers_ramp(x: ArrayLike, t: ArrayLike, a: ArrayLike) -> Float[Array, "..."]:
    """Entropy solution of ``u_t + (u^2/2)_x = 0`` on [-1, 1] from ``u0 = -a x`` (x <= 0),
    ``0`` (x > 0), inflow ``u(-1, t) = a``.

    Before breaking (``a t < 1``): ``a`` for ``x <= a t - 1``, the ramp ``a x / (a t - 1)``
    up to ``x = 0``, then 0. After: a shock at ``x_s = (a t - 1)/2`` between ``a`` and ``0``.
    """
    x, t = jnp.asarray(x), jnp.asarray(t)
    at1 = a * t - 1.0
    before = at1 < 0
    ramp = a * x / jnp.where(before, at1, -1.0)
    u_before = jnp.where(x <= at1, a, jnp.where(x <= 0, ramp, 0.0))
    u_after = jnp.where(x <= 0.5 * at1, a, 0.0)
    return jnp.where(before, u_before, u_after) * jnp.ones_like(x * t * a)


def burgers_mass(t: ArrayLike, a: ArrayLike) -> Float[Array, "..."]:
    """``integral_{-1}^1 u dx = (a/2)(1 + a t)`` until the shock leaves at ``t = 3/a``, then
    ``2a`` (the reference code keeps the first formula for all t; that is wrong after exit)."""
    return 0.5 * a * (1.0 + jnp.minimum(a * t, 3.0))
