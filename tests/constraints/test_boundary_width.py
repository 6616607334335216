"""BOON's smooth wall correction (``BOON(width=...)``, ``decouple(width=...)``): the layer equals an
independent dense construction ``A (v + b Delta)`` with ``Delta = -M^{-1} (A v)_B``,
``M = (A b)_B``, its wall outputs vanish to round-off in 1-D and over ``(x, t)``, every condition
holds to round-off at n and 2n, and a bad ``width`` is refused."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import physcon as pc
from physcon.constraints import BOON, decouple
from physcon.models import FNO, SpectralConv
from _boon_walls import CASES, dense, f64, wall_errors, wall_index  # tests/constraints/_boon_walls.py


def test_smooth_correction_equals_dense_construction(x64):
    c, n, w = 2, 16, 0.15
    conv = f64(SpectralConv(c, c, 5, key=jax.random.PRNGKey(3)))
    A = dense(conv, c, n)
    s = np.arange(n) / (n - 1)
    prof = np.stack([np.exp(-0.5 * (s / w) ** 2), np.exp(-0.5 * ((1 - s) / w) ** 2)])   # (2, n)
    basis = np.zeros((c * n, 2 * c))                     # columns (side, channel), as A_BB
    for side in range(2):
        for ch in range(c):
            basis[ch * n:(ch + 1) * n, side * c + ch] = prof[side]
    wall = wall_index(c, n)
    M = (A @ basis)[wall]
    v = np.asarray(jax.random.normal(jax.random.PRNGKey(4), (c * n,), jnp.float64))
    z = v - basis @ np.linalg.solve(M, (A @ v)[wall])
    got = np.asarray(decouple(conv, jnp.asarray(v.reshape(c, n)), width=w)).reshape(-1)
    np.testing.assert_allclose(got, A @ z, atol=1e-11)
    assert np.abs(got[wall]).max() < 1e-12 and np.abs(got).max() > 1e-3


def test_smooth_correction_wall_outputs_vanish_over_x_t(x64):
    conv = f64(SpectralConv(2, 2, (4, 2), key=jax.random.PRNGKey(1)))
    for n in (16, 31):
        v = jax.random.normal(jax.random.PRNGKey(2), (2, n, 6), jnp.float64)
        out = decouple(conv, v, width=0.1)
        assert float(jnp.abs(out[:, [0, -1]]).max()) < 1e-12 < float(jnp.abs(out).max())


def test_smooth_boon_satisfies_conditions_at_two_resolutions(x64):
    fno = f64(FNO(1, 1, 1, 6, 8, grid=True, n_layers=2, key=jax.random.PRNGKey(0)))
    a = jax.random.normal(jax.random.PRNGKey(1), (1, 32), jnp.float64)
    for case in ("dirichlet", "robin"):   # Robin's right wall is Dirichlet: both stencil kinds
        left, right = CASES[case]
        boon = BOON(fno, left=left, right=right, width=0.1)
        for n in (32, 63):
            u = boon(jax.image.resize(a, (1, n), "linear"), 0.5)
            assert max(wall_errors(u, np.linspace(0.0, 1.0, n), left, right, 0.5)) <= 1e-10


def test_bad_width_is_refused():
    fno = FNO(1, 1, 1, 4, 4, key=jax.random.PRNGKey(0))
    for bad in (0.0, -0.1, 0.7, float("nan"), True, "0.1"):
        with pytest.raises(ValueError, match="width"):
            BOON(fno, left=pc.Dirichlet(0.0), right=pc.Dirichlet(0.0), width=bad)
