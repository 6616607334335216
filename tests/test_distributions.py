"""Structured Gaussians against dense references, and their input checks."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from physcon.distributions import ConditionedGaussian, DenseGaussian, DiagonalGaussian


def _random(key, nb=3, n=7, r=2):
    k1, k2, k3, k4 = jax.random.split(key, 4)
    mean = jax.random.normal(k1, (nb, n))
    d = jax.random.uniform(k2, (nb, n), minval=0.05, maxval=0.5)
    G = jax.random.normal(k3, (nb, r, n))
    noise = jax.random.uniform(k4, (nb, r), minval=0.1, maxval=0.3)
    return mean, d, G, noise


def test_diagonal_log_prob_and_samples(x64):
    mean, d, _, _ = _random(jax.random.PRNGKey(0))
    g = DiagonalGaussian(mean, d)
    u = mean + 0.3
    ref = jax.scipy.stats.norm.logpdf(u, mean, jnp.sqrt(d))
    np.testing.assert_allclose(g.marginal_log_prob(u), ref, rtol=1e-14)
    np.testing.assert_allclose(g.log_prob(u), ref.sum(), rtol=1e-14)
    s = g.sample(jax.random.PRNGKey(1), 40000)
    assert s.shape == (40000,) + mean.shape
    np.testing.assert_allclose(s.mean(0), mean, atol=5 * float(jnp.sqrt(d.max() / 40000)) * 4)
    np.testing.assert_allclose(s.var(0), d, rtol=0.05)


def test_conditioned_matches_dense_formulas(x64):
    mean, d, G, noise = _random(jax.random.PRNGKey(2))
    c = ConditionedGaussian(mean, d, G, noise)
    for b in range(mean.shape[0]):
        D = jnp.diag(d[b])
        S = G[b] @ D @ G[b].T + jnp.diag(noise[b])
        C = D - D @ G[b].T @ jnp.linalg.solve(S, G[b] @ D)
        np.testing.assert_allclose(c.covariance()[b], C, atol=1e-15)
        np.testing.assert_allclose(c.variance[b], jnp.diag(C), atol=1e-15)
    u = mean + jax.random.normal(jax.random.PRNGKey(3), mean.shape)
    dense = [jax.scipy.stats.multivariate_normal.logpdf(u[b], mean[b], c.covariance()[b]) for b in range(3)]
    np.testing.assert_allclose(c.log_prob(u), sum(dense), rtol=1e-12)
    s = c.sample(jax.random.PRNGKey(4), 100000)
    emp = jax.vmap(lambda x: jnp.cov(x.T), in_axes=1)(s)
    np.testing.assert_allclose(emp, c.covariance(), atol=0.01)


def test_conditioned_log_prob_needs_noise(x64):
    mean, d, G, noise = _random(jax.random.PRNGKey(5), r=1)
    c = ConditionedGaussian(mean, d, G, jnp.zeros_like(noise))
    with pytest.raises(Exception, match="log_prob needs noise > 0"):
        eqx.filter_jit(lambda c, u: c.log_prob(u))(c, mean)
    assert np.all(np.isfinite(c.marginal_log_prob(mean)))


def test_dense_gaussian(x64):
    key = jax.random.PRNGKey(6)
    A = jax.random.normal(key, (5, 5))
    cov = A @ A.T + 0.1 * jnp.eye(5)
    mean = jnp.arange(5.0)
    g = DenseGaussian(mean, cov)
    u = mean + 1.0
    np.testing.assert_allclose(g.log_prob(u), jax.scipy.stats.multivariate_normal.logpdf(u, mean, cov), rtol=1e-13)
    s = g.sample(jax.random.PRNGKey(7), 100000)
    np.testing.assert_allclose(jnp.cov(s.T), cov, atol=0.05 * float(jnp.abs(cov).max()))


def test_bad_input_raises():
    with pytest.raises(ValueError, match="same shape"):
        DiagonalGaussian(jnp.zeros(3), jnp.ones(4))
    with pytest.raises(eqx.EquinoxRuntimeError, match="variance must be finite and non-negative"):
        DiagonalGaussian(jnp.zeros(3), jnp.array([1.0, -1.0, 1.0]))
    with pytest.raises(eqx.EquinoxRuntimeError, match="variance must be finite and non-negative"):
        eqx.filter_jit(DiagonalGaussian)(jnp.zeros(3), jnp.array([1.0, jnp.nan, 1.0]))
    with pytest.raises(eqx.EquinoxRuntimeError, match="mean must be finite"):
        DiagonalGaussian(jnp.array([0.0, jnp.inf]), jnp.ones(2))
    with pytest.raises(ValueError, match="covariance"):
        DenseGaussian(jnp.zeros(3), jnp.eye(2))
