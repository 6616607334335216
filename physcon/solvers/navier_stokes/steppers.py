"""Time steppers for ``w_t = L w + N(w)`` with a diagonal (spectral) linear part ``L``.

Strategy objects for ``stepper=`` of :func:`physcon.navier_stokes.solve`; ``L`` holds
viscosity and drag, ``N`` the explicit advection and forcing:

* :class:`CrankNicolsonRK4` (default): Carpenter-Kennedy low-storage 5-stage RK4 for ``N``,
  Crank-Nicolson on each stage for ``L`` (Canuto et al., Spectral Methods, App. D.3). The
  scheme of jax-cfd's ``crank_nicolson_rk4`` (same coefficients), so timings compare like
  for like. Order 2 overall (4 in ``N`` alone).
* :class:`CrankNicolsonRK3`: Williamson's low-storage RK3 with Crank-Nicolson; order 2.
* :class:`CrankNicolsonRK2`: Heun with Crank-Nicolson; order 2.
* :class:`IntegratingFactorRK4`: classical RK4 on ``exp(-L t) w`` (Lawson): ``L`` exact,
  order 4, four evaluations per step; an exact Taylor-Green vortex decays at the analytic
  rate to round-off.

Stability. The explicit advection is stable for the Courant number
``C = dt max(|u|/dx + |v|/dy) <= max_cfl`` (:func:`~physcon.solvers.navier_stokes.spectral.cfl_number`).
``max_cfl`` is the linear stability limit for advection by a uniform flow: the dealiased
advection's eigenvalues are at most ``(2 pi / 3) C / dt`` in modulus, so
``max_cfl = y* / (2 pi / 3)`` with ``y*`` the reach of the RK scheme's stability region on
the imaginary axis. Use about half of it in practice (jax-cfd's default, ``cfl = 0.5`` on
``max|u| dt / dx``, is ``C <= 1``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Complex

__all__ = ["Stepper", "CrankNicolsonRK2", "CrankNicolsonRK3", "CrankNicolsonRK4", "IntegratingFactorRK4"]

Spectrum = Complex[Array, "*batch nx nyh"]


class Stepper(eqx.Module):
    """A time-stepping scheme for ``w_t = L w + N(w)`` (``L`` diagonal: viscosity and drag).

    Class attributes: ``order`` (global order of accuracy), ``max_cfl`` (linear stability
    limit of the explicit part on the Courant number of :func:`cfl_number`), ``stages``
    (evaluations of ``N`` per step).
    """

    order: ClassVar[int]
    max_cfl: ClassVar[float]
    stages: ClassVar[int]

    def make(self, explicit: Callable, linear: Array, dt) -> Callable[[Spectrum], Spectrum]:
        raise NotImplementedError


class _LowStorageCN(Stepper):
    """Low-storage RK for ``N`` with Crank-Nicolson for ``L`` on each stage::

        h <- N(w) + beta_k h;   mu = dt (alpha_{k+1} - alpha_k) / 2
        w <- ((1 + mu L) w + gamma_k dt h) / (1 - mu L)

    evaluated as ``w <- w + (2 mu L w + gamma_k dt h) / (1 - mu L)`` with the stage
    increments summed apart from the step's starting value ``w_n`` (``w_n + (d_1 + d_2 +
    ...)``): only small increments are rounded, never the amplification factor
    ``(1 + mu L) / (1 - mu L)`` or ``w`` once per stage, whose float32 rounding errors
    compound over thousands of steps (FNO setting, 64^2, 1000 steps: float32 within 2.4e-6 of
    float64, against 9e-5 for the textbook form and 1.6e-4 for jax-cfd).
    """

    alphas: ClassVar[tuple[float, ...]]
    betas: ClassVar[tuple[float, ...]]
    gammas: ClassVar[tuple[float, ...]]

    def make(self, explicit, linear, dt):
        coefs = []
        for k, gamma in enumerate(self.gammas):
            mu = 0.5 * dt * (self.alphas[k + 1] - self.alphas[k])
            den = 1 / (1 - mu * linear)
            coefs.append(((2 * mu * linear) * den, (gamma * dt) * den))

        def step(w_hat):
            h = delta = None
            stage = w_hat
            for k, (a, b) in enumerate(coefs):
                n = explicit(stage)
                h = n if k == 0 else n + self.betas[k] * h
                inc = a * stage + b * h
                delta = inc if k == 0 else delta + inc
                stage = w_hat + delta
            return stage

        return step


class CrankNicolsonRK2(_LowStorageCN):
    """Heun (RK2) + Crank-Nicolson. Order 2. Heun is only weakly unstable on the imaginary
    axis (``|R(iy)|^2 = 1 + y^4/4``): viscosity must damp the top modes; ``max_cfl = 0.5``
    is a practical bound, not a strict one."""

    alphas: ClassVar = (0.0, 1.0, 1.0)
    betas: ClassVar = (0.0, -1.0)
    gammas: ClassVar = (1.0, 0.5)
    order: ClassVar = 2
    max_cfl: ClassVar = 0.5
    stages: ClassVar = 2


class CrankNicolsonRK3(_LowStorageCN):
    """Williamson's low-storage RK3 + Crank-Nicolson (jax-cfd's ``crank_nicolson_rk3``).
    Order 2 (3 in the advection alone); imaginary-axis reach ``sqrt(3)``: ``max_cfl = 0.82``."""

    alphas: ClassVar = (0.0, 1 / 3, 3 / 4, 1.0)
    betas: ClassVar = (0.0, -5 / 9, -153 / 128)
    gammas: ClassVar = (1 / 3, 15 / 16, 8 / 15)
    order: ClassVar = 2
    max_cfl: ClassVar = 0.82
    stages: ClassVar = 3


class CrankNicolsonRK4(_LowStorageCN):
    """Carpenter-Kennedy low-storage 5-stage RK4 + Crank-Nicolson (jax-cfd's
    ``crank_nicolson_rk4``, same coefficients). Order 2 (4 in the advection alone);
    imaginary-axis reach ``3.34``: ``max_cfl = 1.59``."""

    # Carpenter & Kennedy (1994), the (5,4) 2N-storage scheme, exact rationals
    alphas: ClassVar = (
        0.0, 1432997174477 / 9575080441904, 2526269341429 / 6820363962896,
        2006345519317 / 3224310063776, 2802321613138 / 2924317926251, 1.0,
    )
    betas: ClassVar = (
        0.0, -567301805773 / 1357537059087, -2404267990393 / 2016746695238,
        -3550918686646 / 2091501179385, -1275806237668 / 842570457699,
    )
    gammas: ClassVar = (
        1432997174477 / 9575080441904, 5161836677717 / 13612068292357,
        1720146321549 / 2090206949498, 3134564353537 / 4481467310338,
        2277821191437 / 14882151754819,
    )
    order: ClassVar = 2
    max_cfl: ClassVar = 1.59
    stages: ClassVar = 5


class IntegratingFactorRK4(Stepper):
    """Classical RK4 on ``v = exp(-L t) w`` (Lawson's integrating-factor RK4): the linear
    part (viscosity, drag) is exact, order 4; imaginary-axis reach ``2 sqrt 2``:
    ``max_cfl = 1.35``."""

    order: ClassVar = 4
    max_cfl: ClassVar = 1.35
    stages: ClassVar = 4

    def make(self, explicit, linear, dt):
        # exp(z) w as w + expm1(z) w: rounds the small increment, not the factor
        d2 = jnp.expm1(0.5 * dt * linear)
        d = jnp.expm1(dt * linear)
        e2, e = 1 + d2, 1 + d

        def step(w):
            k1 = explicit(w)
            k2 = explicit(e2 * (w + (0.5 * dt) * k1))
            k3 = explicit(w + (d2 * w + (0.5 * dt) * k2))
            k4 = explicit(w + (d * w + dt * (e2 * k3)))
            return w + (d * w + (dt / 6) * (e * k1 + 2 * e2 * (k2 + k3) + k4))

        return step
