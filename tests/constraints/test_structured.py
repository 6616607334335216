"""ProbConserv on structured covariances (diagonal + low rank, Kronecker, dense): exact
conservation of the mean and of every sample, agreement with dense conditioning of the same
covariance, variance that never grows, gradients against finite differences, bad input."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import physcon as pc
from physcon.constraints import conservation_law, probconserv
from physcon.distributions import DenseGaussian, KroneckerGaussian, LowRankGaussian

NT, NX, M = 4, 9, 3


def _law(noise=0.0, nt=NT, nx=NX):
    grid = pc.Grid1D.nodes(0.0, 1.0, nx)
    return conservation_law(grid, jnp.linspace(0.0, 1.0, nt), mass=pc.gpme.PorousMedium(m=3.0).mass, noise=noise)


def _rbf(x, ell, jitter=1e-6):
    return jnp.exp(-((x[:, None] - x[None]) ** 2) / (2 * ell**2)) + jitter * jnp.eye(x.size)


def _lowrank(key, scale=1.0):
    k1, k2, k3 = jax.random.split(key, 3)
    mean = jax.random.normal(k1, (NT, NX))
    d = jax.random.uniform(k2, (NT, NX), minval=0.05, maxval=0.3)
    return LowRankGaussian(mean * scale, d * scale**2, 0.5 * scale * jax.random.normal(k3, (M, NT, NX)))


def _kron(key, scale=1.0):
    mean = jax.random.normal(key, (NT, NX))
    A = _rbf(jnp.linspace(0, 1, NT), 0.5)
    B = 0.3 * _rbf(jnp.linspace(0, 1, NX), 0.2)
    return KroneckerGaussian(mean * scale, A * scale, B * scale)


def _dense(key, scale=1.0):
    g = _lowrank(key)
    return DenseGaussian(g.mean.ravel() * scale, g.covariance() * scale**2)


KINDS = {"lowrank": _lowrank, "kronecker": _kron, "dense": _dense}


def _field(g):
    return g.mean.reshape(NT, NX)


@eqx.filter_jit
def _condition_both_ways(kind, law, key):
    """The structured posterior, its samples, and dense conditioning of the same covariance."""
    prior = KINDS[kind](jax.random.PRNGKey(0))
    post = probconserv(prior, law)
    cov = prior.covariance_matrix if isinstance(prior, DenseGaussian) else prior.covariance()
    ref = probconserv(DenseGaussian(prior.mean.ravel(), cov), law)
    k1, k2 = jax.random.split(key)
    few = post.sample(k1, 32).reshape(32, NT, NX)
    many = post.sample(k2, 20000).reshape(20000, -1)
    return dict(mean=_field(post), cov=cov, post_cov=post.covariance(), var=post.variance.ravel(),
                ref_mean=ref.mean, ref_cov=ref.covariance(), res_mean=law.residual(_field(post)),
                res_samples=jax.vmap(law.residual)(few), emp_cov=jnp.cov(many.T))


@pytest.mark.parametrize("kind", list(KINDS))
def test_exact_mean_samples_and_dense_agreement(x64, kind):
    law = _law()
    r = jax.tree.map(np.asarray, _condition_both_ways(kind, law, jax.random.PRNGKey(1)))
    b = float(jnp.abs(law.b).max())
    assert np.abs(r["res_mean"]).max() <= 1e-10 * b
    assert np.abs(r["res_samples"]).max() <= 1e-10 * b
    scale = np.abs(r["cov"]).max()
    np.testing.assert_allclose(r["mean"].ravel(), r["ref_mean"], rtol=0, atol=1e-10 * np.abs(r["ref_mean"]).max())
    np.testing.assert_allclose(r["post_cov"], r["ref_cov"], rtol=0, atol=1e-10 * scale)
    np.testing.assert_allclose(r["var"], np.diagonal(r["ref_cov"]), rtol=0, atol=1e-12 * scale)
    assert np.all(r["var"] <= np.diagonal(r["cov"]) + 1e-14)  # variance never grows
    # Matheron samples have the posterior covariance (statistically; an independent check)
    np.testing.assert_allclose(r["emp_cov"], r["post_cov"], atol=0.06 * scale)


def test_lowrank_with_noise_matches_dense_and_log_prob(x64):
    law = _law(noise=0.05)

    @jax.jit
    def run(law):
        prior, kr = _lowrank(jax.random.PRNGKey(3)), _kron(jax.random.PRNGKey(4))
        post = probconserv(prior, law)
        ref = probconserv(DenseGaussian(prior.mean.ravel(), prior.covariance()), law)
        u = prior.mean + 0.1
        logpdf = jax.scipy.stats.multivariate_normal.logpdf
        return dict(mean=(post.mean.ravel(), ref.mean), cov=(post.covariance(), ref.covariance()),
                    post_lp=(post.log_prob(u), logpdf(u.ravel(), ref.mean, ref.covariance())),
                    prior_lp=(prior.log_prob(u), logpdf(u.ravel(), prior.mean.ravel(), prior.covariance())),
                    kron_lp=(kr.log_prob(u), logpdf(u.ravel(), kr.mean.ravel(), kr.covariance())))

    r = run(law)
    np.testing.assert_allclose(*r["mean"], atol=1e-12)
    np.testing.assert_allclose(*r["cov"], atol=1e-12)
    np.testing.assert_allclose(*r["post_lp"], rtol=1e-11)
    np.testing.assert_allclose(*r["prior_lp"], rtol=1e-12)
    np.testing.assert_allclose(*r["kron_lp"], rtol=1e-9)


def test_from_members_is_the_mixture(x64):
    members = jax.random.normal(jax.random.PRNGKey(5), (M, NT, NX))
    g = LowRankGaussian.from_members(members, 0.01)
    centred = (members - members.mean(0)).reshape(M, -1)
    np.testing.assert_allclose(g.covariance(), 0.01 * jnp.eye(NT * NX) + centred.T @ centred / M, atol=1e-15)
    np.testing.assert_allclose(g.variance, members.var(0) + 0.01, atol=1e-15)


@pytest.mark.parametrize("kind", list(KINDS))
def test_gradients_match_finite_differences(x64, kind):
    law = _law()
    target = jnp.sin(jnp.arange(NT * NX, dtype=float)).reshape(NT, NX)

    def loss(scale):
        post = probconserv(KINDS[kind](jax.random.PRNGKey(6), scale), law)
        return jnp.sum((_field(post) - target) ** 2) + jnp.sum(post.variance)

    h = 1e-6
    vals, grads = jax.jit(jax.vmap(jax.value_and_grad(loss)))(jnp.array([1.3 - h, 1.3, 1.3 + h]))
    np.testing.assert_allclose(grads[1], (vals[2] - vals[0]) / (2 * h), rtol=1e-7)


def test_bad_input():
    mean = jnp.zeros((NT, NX))
    with pytest.raises(ValueError, match=r"factor must have shape \(M, \*mean.shape\)"):
        LowRankGaussian(mean, jnp.ones((NT, NX)), jnp.ones((M, NT, NX + 1)))
    with pytest.raises(eqx.EquinoxRuntimeError, match="factor must be finite"):
        eqx.filter_jit(LowRankGaussian)(mean, jnp.ones((NT, NX)), jnp.full((M, NT, NX), jnp.nan))
    with pytest.raises(ValueError, match=r"space_cov must have shape \(nx, nx\)"):
        KroneckerGaussian(mean, jnp.eye(NT), jnp.eye(NX + 1))
    not_psd = jnp.eye(NX).at[0, 0].set(-1.0)
    with pytest.raises(eqx.EquinoxRuntimeError, match="space_cov must be positive semi-definite"):
        KroneckerGaussian(mean, jnp.eye(NT), not_psd)
    with pytest.raises(eqx.EquinoxRuntimeError, match="time_cov must be finite"):
        KroneckerGaussian(mean, jnp.eye(NT).at[1, 1].set(jnp.inf), jnp.eye(NX))
    with pytest.raises(eqx.EquinoxRuntimeError, match="time_cov must be symmetric"):
        KroneckerGaussian(mean, jnp.eye(NT).at[0, 1].set(0.5), jnp.eye(NX))
    dense_not_psd = jnp.eye(NT * NX).at[3, 3].set(-0.1)
    for make in (DenseGaussian, eqx.filter_jit(DenseGaussian)):
        with pytest.raises(eqx.EquinoxRuntimeError, match="covariance must be positive semi-definite"):
            make(mean.ravel(), dense_not_psd)
        with pytest.raises(eqx.EquinoxRuntimeError, match="covariance must be finite"):
            make(mean.ravel(), jnp.eye(NT * NX).at[0, 0].set(jnp.nan))
    # Kronecker conditioning is exact-only with the same rows every step
    kr = KroneckerGaussian(mean, jnp.eye(NT), jnp.eye(NX))
    with pytest.raises(eqx.EquinoxRuntimeError, match="sigma_G = 0"):
        eqx.filter_jit(probconserv)(kr, _law(noise=0.1))
    with pytest.raises(ValueError, match="singular"):
        probconserv(kr, _law()).log_prob(mean)
    # a low-rank prediction with no diagonal where the law acts cannot be conditioned
    zero = LowRankGaussian(mean, jnp.zeros((NT, NX)), jnp.ones((1, NT, NX)))
    with pytest.raises(eqx.EquinoxRuntimeError, match="singular constraint"):
        eqx.filter_jit(probconserv)(zero, _law())
