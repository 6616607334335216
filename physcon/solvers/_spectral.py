"""Shared spectral numerics of the node-grid solvers (heat, Burgers, wave, cavity).

* **Bases** that diagonalise the second-order 3-point Laplacian exactly on a node grid with the
  walls included: the DCT-I basis ``cos(j pi i / m)`` (Neumann walls, half cells; eigenvalues
  ``-(4/h^2) sin^2(j pi / 2m)``, ``m = n - 1``) and the DST-I basis ``sin(j pi i / m)`` on the
  interior (Dirichlet walls), so linear diffusion and waves are integrated exactly in time.
* **Exponential integrators** for ``a' = lam a + N(a)`` with a diagonal ``lam``: the ETD2
  ``phi`` functions and integrating-factor RK4, with the RK4 stability bound used to count
  substeps for explicit advection.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

# RK4's stability region reaches 2.83 on the imaginary axis; keep a margin.
_RK4_IMAG_LIMIT = 2.0


# --- bases -------------------------------------------------------------------------------------
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


def _dst1_basis(n: int):
    """Interior sine basis ``S[i, j] = sin(j pi i / m)``, ``i, j = 1..m-1``, ``m = n - 1``."""
    m = n - 1
    i = np.arange(1, m)
    S = np.sin(np.pi * np.outer(i, i) / m)
    return S, (2.0 / m) * S, np.sin(np.pi * i / (2 * m)) ** 2


# --- exponential integrators -------------------------------------------------------------------
def _phi12(z):
    """``phi1 = (e^z - 1)/z`` and ``phi2 = (e^z - 1 - z)/z^2`` (z <= 0), stable near 0."""
    small = jnp.abs(z) < 1e-2
    zs = jnp.where(small, -1.0, z)
    phi1 = jnp.where(small, 1 + z / 2 + z**2 / 6 + z**3 / 24 + z**4 / 120, jnp.expm1(zs) / zs)
    phi2 = jnp.where(
        small, 0.5 + z / 6 + z**2 / 24 + z**3 / 120 + z**4 / 720, (jnp.expm1(zs) - zs) / zs**2
    )
    return phi1, phi2


def _ifrk4(a0, lam, nonlin, t, t0, substeps, dtype):
    """Integrating-factor RK4 (Lawson) for ``a' = lam a + nonlin(a)`` from ``a(t0) = a0``: the
    linear part exact, ``substeps`` (static) equal steps per output interval; returns ``a`` at
    the times ``t``, shape ``(nt, *a0.shape)``."""
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
    """The longest substep over the output intervals ``[t0, t_0], [t_0, t_1], ...``."""
    return jnp.max(jnp.diff(t, prepend=jnp.asarray(t0, t.dtype))) / substeps


def _auto_substeps(t, t0, umax: float, kmax: float) -> int:
    """The fewest IF-RK4 substeps per output interval that keep explicit advection at speed
    ``<= umax`` and wavenumber ``<= kmax`` inside :data:`_RK4_IMAG_LIMIT` (10% margin)."""
    dt_stable = _RK4_IMAG_LIMIT / max(umax * kmax, 1e-300)
    longest = float(np.max(np.diff(np.asarray(t, float), prepend=t0)))
    return max(1, math.ceil(longest / (0.9 * dt_stable)))
