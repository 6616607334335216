"""Stokes' second problem (Dirichlet, closed form), BOON's 1-D Dirichlet benchmark.

``u_t = nu u_xx`` with an oscillating wall ``u(0, t) = U cos(omega t)``:
``u = U exp(-kappa x) cos(kappa x - omega t)``, ``kappa = sqrt(omega / (2 nu))``
(:func:`stokes_second`); :func:`generate_stokes` draws ``U`` and ``omega`` from a seed.

Not known from the paper's public material (``research/boon.md``) and chosen here: the parameter
ranges, the domain and the multi-step time grid; they are arguments with documented defaults.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from physcon.grid import Grid1D
from physcon.solvers._checks import _check_n, _dtype
from physcon.solvers._dataset import BoonDataset

__all__ = ["BoonDataset", "stokes_second", "generate_stokes"]


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
