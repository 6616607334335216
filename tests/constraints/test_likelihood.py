"""ProbConserv's constrained likelihood: equal to dense conditioning, usable as the ANP's NLL."""

from functools import partial

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from physcon.constraints import constrained_nll
from physcon.constraints.likelihood import trapezoid_weights
from physcon.distributions import DiagonalGaussian
from physcon.models import ANP, elbo_loss


def _grid(key, n_t=3, n_x=5):
    kt, kx = jax.random.split(key)
    t = jnp.sort(jax.random.uniform(kt, (n_t,)))
    x = jnp.sort(jax.random.uniform(kx, (n_x,)))
    tt, xx = jnp.meshgrid(t, x, indexing="ij")
    return jnp.stack([tt.ravel(), xx.ravel()], -1), x


def _logpdf(y, mean, cov):
    L = np.linalg.cholesky(cov)
    z = np.linalg.solve(L, y - mean)
    return -0.5 * (z @ z + 2 * np.log(np.diag(L)).sum() + len(y) * np.log(2 * np.pi))


def test_trapezoid_weights_integrate_linear_functions_exactly(x64):
    x = jnp.sort(jax.random.uniform(jax.random.PRNGKey(0), (7,)))
    w = trapezoid_weights(x)
    np.testing.assert_allclose(w @ (2 * x + 1), (x[-1] ** 2 + x[-1]) - (x[0] ** 2 + x[0]), rtol=1e-14)


@pytest.mark.parametrize("noise", [0.3, 1e-3])
def test_equals_dense_conditioning_and_bayes_identity(x64, noise):
    n_t, n_x = 3, 5
    pts, x = _grid(jax.random.PRNGKey(1), n_t, n_x)
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(2), 3)
    mean = jax.random.normal(k1, (n_t * n_x,))
    var = jax.random.uniform(k2, (n_t * n_x,), minval=0.05, maxval=0.5)
    y = jax.random.normal(k3, (n_t * n_x,))
    nll = constrained_nll(DiagonalGaussian(mean, var), pts, y, grid_shape=(n_t, n_x), noise=noise)
    # dense: condition N(mean, D) on c = G y observed with noise, evaluate at y
    w = np.asarray(trapezoid_weights(x))
    G = np.kron(np.eye(n_t), w[None, :])
    D = np.diag(np.asarray(var))
    S = G @ D @ G.T + noise**2 * np.eye(n_t)
    K = D @ G.T @ np.linalg.inv(S)
    c = G @ np.asarray(y)
    mu_post = np.asarray(mean) - K @ (G @ np.asarray(mean) - c)
    cov_post = D - K @ G @ D
    np.testing.assert_allclose(-nll, _logpdf(np.asarray(y), mu_post, cov_post), rtol=1e-10)
    # Bayes: log N(y; mu, D) + log N(c; G y, s^2) - log N(c; G mu, G D G^T + s^2)
    bayes = (_logpdf(np.asarray(y), np.asarray(mean), D) + _logpdf(c, c, noise**2 * np.eye(n_t))
             - _logpdf(c, G @ np.asarray(mean), S))
    np.testing.assert_allclose(-nll, bayes, rtol=1e-10)


def test_as_anp_training_loss():
    n_t, n_x, b = 2, 4, 3
    model = ANP(hidden=8, latent=4, heads=2, key=jax.random.PRNGKey(0))
    pts, _ = _grid(jax.random.PRNGKey(1), n_t, n_x)
    batch = {"context_x": jnp.stack([pts] * b), "context_y": jnp.ones((b, n_t * n_x)),
             "target_x": jnp.stack([pts] * b), "target_y": jnp.stack([pts[:, 1] * (i + 1) for i in range(b)])}
    nll = partial(constrained_nll, grid_shape=(n_t, n_x), noise=0.1)
    (loss, aux), grads = eqx.filter_value_and_grad(
        lambda m: elbo_loss(m, batch, jax.random.PRNGKey(3), nll=nll), has_aux=True)(model)
    assert np.isfinite(loss) and np.isclose(loss, aux["nll"] + aux["kl"])
    assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(eqx.filter(grads, eqx.is_array)))
    # differs from the plain ELBO: the law adds information
    plain, _ = elbo_loss(model, batch, jax.random.PRNGKey(3))
    assert not np.isclose(loss, plain)


def test_bad_input():
    pts, _ = _grid(jax.random.PRNGKey(1), 2, 3)
    pred = DiagonalGaussian(jnp.zeros(6), jnp.ones(6))
    with pytest.raises(ValueError, match="grid_shape"):
        constrained_nll(pred, pts, jnp.zeros(6), grid_shape=(2, 4), noise=0.1)
    with pytest.raises(ValueError, match="target_x"):
        constrained_nll(pred, pts[:, :1], jnp.zeros(6), grid_shape=(2, 3), noise=0.1)
    with pytest.raises(eqx.EquinoxRuntimeError, match="noise > 0"):
        eqx.filter_jit(constrained_nll)(pred, pts, jnp.zeros(6), grid_shape=(2, 3), noise=0.0)
