"""Stokes' second problem (physcon.solvers.stokes): closed form and generated data."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from physcon.solvers import stokes



def test_stokes_closed_form_solves_pde_and_wall(x64):
    U, w, nu = 1.3, 3.7, 0.1
    f = lambda x, t: stokes.stokes_second(x, t, U, w, nu)  # noqa: E731
    u_t = jax.vmap(jax.grad(f, 1))
    u_xx = jax.vmap(jax.grad(jax.grad(f, 0), 0))
    x = jnp.linspace(0.01, 1.0, 37)
    t = jnp.linspace(0.0, 1.2, 37)
    res = u_t(x, t) - nu * u_xx(x, t)
    assert float(jnp.max(jnp.abs(res))) < 1e-13
    tt = jnp.linspace(0, 5, 50)
    np.testing.assert_array_equal(np.asarray(f(0.0, tt)), np.asarray(U * jnp.cos(w * tt)))


def test_generate_stokes_shapes_and_boundaries(x64):
    d = stokes.generate_stokes(3, seed=1, nx=50)
    assert d.a.shape == (3, 50) and d.u.shape == (3, 25, 50) and d.t.shape == (25,)
    np.testing.assert_allclose(d.t[-1], 1.2)
    wall = d.params["U"][:, None] * jnp.cos(d.params["omega"][:, None] * d.t[None, :])
    np.testing.assert_allclose(d.u[:, :, 0], wall, rtol=0, atol=1e-15)
    s = stokes.generate_stokes(3, seed=1, nx=50, multi_step=False)
    assert s.u.shape == (3, 1, 50)
    np.testing.assert_allclose(s.u[:, 0], d.u[:, -1], atol=1e-15)
    assert not np.allclose(stokes.generate_stokes(3, seed=2, nx=50).a, d.a)
    with pytest.raises(ValueError, match="omega_range"):
        stokes.generate_stokes(2, omega_range=(-1.0, 1.0))
    with pytest.raises(ValueError, match="n must"):
        stokes.generate_stokes(0)
