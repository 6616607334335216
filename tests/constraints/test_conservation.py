"""ProbConserv and HardC: exactness, agreement with dense conditioning, gradients, errors."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import physcon as pc
from physcon.constraints import conservation_law, hard_projection, probconserv
from physcon.distributions import DenseGaussian, DiagonalGaussian


def _prediction(key, nt=5, nx=33, dtype=None):
    k1, k2 = jax.random.split(key)
    mean = jax.random.normal(k1, (nt, nx), dtype or jnp.result_type(float))
    var = jax.random.uniform(k2, (nt, nx), mean.dtype, minval=0.01, maxval=0.2)
    return DiagonalGaussian(mean, var)


def _law(nt=5, nx=33, noise=0.0):
    grid = pc.Grid1D.nodes(0.0, 1.0, nx)
    t = jnp.linspace(0.0, 1.0, nt)
    return grid, conservation_law(grid, t, mass=pc.gpme.PorousMedium(m=3.0).mass, noise=noise)


def test_exact_constraint_mean_and_samples(x64):
    grid, law = _law()
    pred = _prediction(jax.random.PRNGKey(0))
    post = probconserv(pred, law)
    b = np.asarray(law.b)
    assert np.abs(np.asarray(law.residual(post.mean))).max() <= 1e-10 * np.abs(b).max()
    samples = post.sample(jax.random.PRNGKey(1), 64)
    res = jax.vmap(law.residual)(samples)
    assert np.abs(np.asarray(res)).max() <= 1e-10 * np.abs(b).max()
    # variance never increases; it drops most where the prior variance (times weight) is largest
    assert np.all(np.asarray(post.variance) <= np.asarray(pred.variance) + 1e-15)
    drop = pred.variance - post.variance
    w = np.asarray(grid.weights)
    expected = (w * pred.variance) ** 2
    np.testing.assert_allclose(drop, expected / np.asarray((w**2 * pred.variance).sum(-1, keepdims=True)), rtol=1e-12)
    assert np.all(np.argmax(drop, -1) == np.argmax(expected, -1))


def test_matches_dense_conditioning(x64):
    nt, nx = 3, 9
    grid, law = _law(nt, nx, noise=0.05)
    pred = _prediction(jax.random.PRNGKey(2), nt, nx)
    post = probconserv(pred, law)
    G = jax.scipy.linalg.block_diag(*law.G)
    Sig = jnp.diag(pred.variance.ravel())
    S = G @ Sig @ G.T + 0.05**2 * jnp.eye(nt)
    mean = pred.mean.ravel() - Sig @ G.T @ jnp.linalg.solve(S, G @ pred.mean.ravel() - law.b.ravel())
    cov = Sig - Sig @ G.T @ jnp.linalg.solve(S, G @ Sig)
    np.testing.assert_allclose(post.mean.ravel(), mean, atol=1e-14)
    blocks = jnp.stack([cov[i * nx:(i + 1) * nx, i * nx:(i + 1) * nx] for i in range(nt)])
    np.testing.assert_allclose(post.covariance(), blocks, atol=1e-15)
    dense = probconserv(DenseGaussian(pred.mean.ravel(), Sig), law)
    np.testing.assert_allclose(dense.mean, mean, atol=1e-14)
    np.testing.assert_allclose(dense.covariance(), cov, atol=1e-15)


def test_hard_projection(x64):
    grid, law = _law()
    pred = _prediction(jax.random.PRNGKey(3))
    hc = hard_projection(pred, law)
    assert np.abs(np.asarray(law.residual(hc.mean))).max() < 1e-13
    np.testing.assert_array_equal(hc.variance, pred.variance)
    # Euclidean projection: the correction is parallel to the weights
    corr = np.asarray(pred.mean - hc.mean)
    w = np.asarray(grid.weights)
    np.testing.assert_allclose(corr / w, (corr / w)[:, :1] * np.ones_like(w), rtol=1e-10)


def test_gradients_match_finite_differences(x64):
    grid, law = _law(3, 11)
    pred = _prediction(jax.random.PRNGKey(4), 3, 11)
    target = jnp.sin(jnp.arange(33.0)).reshape(3, 11)

    def loss(scale):
        p = DiagonalGaussian(pred.mean * scale, pred.variance * scale**2)
        post = probconserv(p, law)
        return jnp.sum((post.mean - target) ** 2) + jnp.sum(post.variance)

    g = jax.grad(loss)(1.3)
    h = 1e-6
    fd = (loss(1.3 + h) - loss(1.3 - h)) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-7)


def test_float32_and_jit_vmap():
    grid, law = _law(4, 17)
    pred = _prediction(jax.random.PRNGKey(5), 4, 17, jnp.float32)
    post = eqx.filter_jit(probconserv)(pred, law)
    assert post.mean.dtype == jnp.float32
    assert np.abs(np.asarray(law.residual(post.mean))).max() < 1e-5
    batch = jax.vmap(lambda m: probconserv(DiagonalGaussian(m, pred.variance), law).mean)(jnp.stack([pred.mean] * 3))
    assert batch.shape == (3, 4, 17)


def test_bad_input():
    grid, law = _law(4, 17)
    with pytest.raises(ValueError, match="law expects"):
        probconserv(_prediction(jax.random.PRNGKey(6), 4, 16), law)
    with pytest.raises(ValueError, match="mass must have shape"):
        conservation_law(grid, jnp.linspace(0, 1, 4), mass=jnp.zeros(3))
    zero_var = DiagonalGaussian(jnp.zeros((4, 17)), jnp.zeros((4, 17)))
    with pytest.raises(eqx.EquinoxRuntimeError, match="singular constraint"):
        eqx.filter_jit(probconserv)(zero_var, law)
    with pytest.raises(eqx.EquinoxRuntimeError, match="noise"):
        conservation_law(grid, jnp.linspace(0, 1, 4), mass=jnp.zeros(4), noise=-1.0)
