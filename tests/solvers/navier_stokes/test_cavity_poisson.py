"""The cavity's Poisson solve and fast DST-I (physcon.solvers.navier_stokes.cavity_poisson,
physcon.solvers._spectral.dst1): round-off inversion of the discrete Laplacian, cyclic reduction."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from physcon.solvers import _spectral
from physcon.solvers.navier_stokes import cavity_poisson as cp


# --- Poisson solve and transforms -------------------------------------------------------------------
@pytest.mark.parametrize("method", ["matmul", "split", "fft"])
@pytest.mark.parametrize("n", [5, 6, 17])  # m = 3, 4, 15: odd and even split halves
def test_poisson_inverts_the_discrete_laplacian_to_round_off(x64, method, n):
    rng = np.random.default_rng(n)
    psi = np.zeros((3, n, n))
    psi[:, 1:-1, 1:-1] = rng.standard_normal((3, n - 2, n - 2))
    f = cp.dirichlet_laplacian(psi)
    back = cp.poisson_dirichlet(f, method)
    assert back.dtype == jnp.float64 and back.shape == psi.shape
    assert float(jnp.max(jnp.abs(back - psi))) < 1e-13
    # and the other way round: the Laplacian of the solve is the right side (inside)
    g = rng.standard_normal((3, n, n))  # the same shape: no new compile
    lap = cp.dirichlet_laplacian(cp.poisson_dirichlet(g, method))
    assert float(jnp.max(jnp.abs(lap[..., 1:-1, 1:-1] - g[..., 1:-1, 1:-1]))) < 1e-12 * (n - 1) ** 2


@pytest.mark.parametrize("n", [5, 9, 17, 129])  # m = 3, 7, 15 (dense DST), 127 (split DST)
def test_cyclic_reduction_poisson_matches_the_two_axis_transform(x64, n):
    g = np.random.default_rng(n).standard_normal((2, n, n))
    cr = cp.poisson_dirichlet(g, "cr")
    assert float(jnp.max(jnp.abs(cr - cp.poisson_dirichlet(g, "matmul")))) < 1e-14 * (n - 1) ** 2
    assert float(jnp.max(jnp.abs(cp.poisson_dirichlet(g) - cr))) == 0.0  # "auto" picks it
    lap = cp.dirichlet_laplacian(cr)
    assert float(jnp.max(jnp.abs(lap[..., 1:-1, 1:-1] - g[..., 1:-1, 1:-1]))) < 1e-12 * (n - 1) ** 2
    with pytest.raises(ValueError, match="2\\^L"):
        cp.poisson_dirichlet(np.zeros((n + 1, n + 1)), "cr")




@pytest.mark.parametrize("m", [4, 15])
def test_dst1_matches_its_definition_along_either_axis(x64, m):
    x = np.random.default_rng(m).standard_normal((2, m, m))
    k = np.arange(1, m + 1)
    S = np.sin(np.pi * np.outer(k, k) / (m + 1))
    for method in ("matmul", "split", "fft"):
        assert np.allclose(_spectral.dst1(x, -1, method), x @ S, atol=1e-13)
        assert np.allclose(_spectral.dst1(x, -2, method), S @ x, atol=1e-13)
        # its own inverse up to 2 / (m + 1)
        assert np.allclose(_spectral.dst1(_spectral.dst1(x, -1, method), -1, method) * 2 / (m + 1), x, atol=1e-13)
