"""Mass and walls together: ProbConserv on the stacked conservation + boundary rows keeps both
exact (mean and every sample) at n and 2n, where a mass-only update breaks the walls."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import physcon as pc
from physcon.constraints import conservation_law, mass_and_walls, probconserv
from physcon.distributions import DiagonalGaussian, KroneckerGaussian, LowRankGaussian

NT = 5
LEFT, RIGHT = pc.Neumann(0.0, order=2), pc.Neumann(lambda t: 0.5 * jnp.sin(jnp.pi * t), order=3)


def _mass(t):
    return 0.4 + 0.1 * t


def _predictions(nx, key):
    k1, k2, k3 = jax.random.split(key, 3)
    x = jnp.linspace(0.0, 1.0, nx)
    mean = jnp.cos(jnp.pi * x)[None] * jnp.linspace(1.0, 0.5, NT)[:, None] + 0.4
    var = jax.random.uniform(k1, (NT, nx), minval=0.01, maxval=0.05)
    rbf = lambda z, ell: jnp.exp(-((z[:, None] - z[None]) ** 2) / (2 * ell**2)) + 1e-6 * jnp.eye(z.size)
    return {
        "diagonal": DiagonalGaussian(mean, var),
        "lowrank": LowRankGaussian(mean, var, 0.1 * jax.random.normal(k2, (4, NT, nx))),
        "kronecker": KroneckerGaussian(mean, rbf(jnp.linspace(0, 1, NT), 0.5), 0.05 * rbf(x, 0.2)),
    }


@eqx.filter_jit
def _residuals(nx, kind, key):
    grid = pc.Grid1D.nodes(0.0, 1.0, nx)
    t = jnp.linspace(0.0, 1.0, NT)
    law = mass_and_walls(grid, t, _mass, left=LEFT, right=RIGHT)
    prior = _predictions(nx, jax.random.PRNGKey(0))[kind]
    post = probconserv(prior, law)
    samples = post.sample(key, 16)
    mass_only = probconserv(prior, conservation_law(grid, t, _mass))
    return dict(b=law.b, mean=law.residual(post.mean), samples=jax.vmap(law.residual)(samples),
                mass_only=law.residual(mass_only.mean), var=(post.variance, prior.variance))


@pytest.mark.parametrize("kind", ["diagonal", "lowrank", "kronecker"])
def test_mass_and_walls_exact_at_n_and_2n(x64, kind):
    for nx in (33, 65):
        r = jax.tree.map(np.asarray, _residuals(nx, kind, jax.random.PRNGKey(nx)))
        scale = np.abs(r["b"]).max()
        assert r["b"].shape == (NT, 3)
        assert np.abs(r["mean"]).max() <= 1e-10 * scale, (nx, np.abs(r["mean"]).max(0))
        assert np.abs(r["samples"]).max() <= 1e-10 * scale, (nx, np.abs(r["samples"]).max((0, 1)))
        assert np.all(r["var"][0] <= r["var"][1] + 1e-14)
        # a mass-only update keeps the mass but breaks the walls it was not told about
        assert np.abs(r["mass_only"][:, 0]).max() <= 1e-10 * scale
        assert np.abs(r["mass_only"][:, 1:]).max() > 1e-3


def test_dirichlet_rows_and_values(x64):
    grid = pc.Grid1D.nodes(0.0, 2.0, 17)
    t = jnp.linspace(0.0, 1.0, 3)
    law = mass_and_walls(grid, t, jnp.ones(3), left=pc.Dirichlet(lambda t: 1.0 + t), right=pc.Dirichlet(0.25))
    post = probconserv(DiagonalGaussian(jnp.zeros((3, 17)), jnp.ones((3, 17))), law)
    np.testing.assert_allclose(post.mean[:, 0], 1.0 + t, atol=1e-14)   # independent of the stencil code
    np.testing.assert_allclose(post.mean[:, -1], 0.25, atol=1e-14)
    np.testing.assert_allclose(grid.integrate(post.mean), 1.0, atol=1e-14)


def test_inconsistent_or_bad_rows():
    t = jnp.linspace(0.0, 1.0, 3)
    two = pc.Grid1D.nodes(0.0, 1.0, 2)
    both = dict(left=pc.Dirichlet(0.0), right=pc.Dirichlet(1.0))
    with pytest.raises(ValueError, match="inconsistent constraint rows.*linearly dependent"):
        mass_and_walls(two, t, jnp.zeros(3), **both)
    with pytest.raises(ValueError, match="inconsistent constraint rows"):
        jax.jit(lambda m: mass_and_walls(two, t, m, **both).b)(jnp.zeros(3))
    with pytest.raises(ValueError, match="node grid"):
        mass_and_walls(pc.Grid1D.cells(0.0, 1.0, 8), t, jnp.zeros(3), **both)
    with pytest.raises(ValueError, match="left must be Dirichlet, Neumann or Robin"):
        mass_and_walls(pc.Grid1D.nodes(0.0, 1.0, 8), t, jnp.zeros(3), left=pc.Periodic(), right=pc.Periodic())
    with pytest.raises(ValueError, match="needs 4 nodes"):
        mass_and_walls(pc.Grid1D.nodes(0.0, 1.0, 3), t, jnp.zeros(3), left=pc.Neumann(0.0, order=3))
