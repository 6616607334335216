"""ProbConserv's exact update for the structured covariances (low rank, Kronecker, dense).

Each is the Gaussian posterior ``mu - Sigma G^T S^-1 (G mu - b)``,
``Sigma - Sigma G^T S^-1 G Sigma`` with ``S = G Sigma G^T + N``, computed in the structure:

* diagonal + rank ``M`` (``Sigma = D + W^T W``): write ``u = x + W^T z`` with ``x ~ N(mu, D)``
  and ``z ~ N(0, I_M)``. Given ``z``, ``x`` is conditioned per block as for a diagonal
  prediction (``H = D - D G^T P^-1 G D``, ``P = G D G^T + N``); ``z`` given ``b`` is
  ``N(C^-1 U^T P^-1 (b - G mu), C^-1)`` with ``U = G W^T`` and ``C = I + U^T P^-1 U``. So the
  posterior is ``H + W'^T C^-1 W'`` with ``W' = W - (D G^T P^-1 G W^T)^T``: ``O(N M^2)``.
  With ``N = 0``, ``G W'^T = 0`` and the mean satisfies ``G mu~ = b`` (to round-off).
* Kronecker (``Sigma = A kron B``, the same rows ``g`` at every time, ``N = 0``):
  ``S = A kron (g B g^T)`` and ``Sigma G^T S^-1 = I kron B g^T (g B g^T)^-1``; ``A`` cancels, so
  the update costs ``O(nt nx r + nx^2 r)`` and the posterior is ``A kron (B - B g^T P^-1 g B)``.
* dense: the textbook formulas, with the posterior's sampling root in Joseph form,
  ``[(I - K G) R, K N^1/2]`` (``K = Sigma G^T S^-1``, ``R R^T = Sigma``): its columns satisfy
  ``G (I - K G) R = N S^-1 G R``, zero for an exact constraint, so samples conserve to round-off.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from physcon.distributions import (ConditionedGaussian, ConditionedLowRankGaussian, DenseGaussian,
                                   KroneckerGaussian, LowRankGaussian)


def checked_chol(S):
    L = jnp.linalg.cholesky(S)
    ok = jnp.all(jnp.isfinite(L)) & jnp.all(jnp.diagonal(L, axis1=-2, axis2=-1) > 0)
    return eqx.error_if(
        L, ~ok,
        "singular constraint: G Sigma G^T + sigma_G^2 I is not positive definite (a zero row of "
        "G, zero predictive variance where G acts, or dependent rows with sigma_G = 0)",
    )


def diagonal_conditioned(mean, d, law) -> ConditionedGaussian:
    """The diagonal ``N(mean, diag(d))`` conditioned on ``law`` per block."""
    nv = law.noise**2
    S = jnp.einsum("brn,bn,bsn->brs", law.G, d, law.G) + jax.vmap(jnp.diag)(nv)
    L = checked_chol(S)
    prior = ConditionedGaussian(mean, d, law.G, nv, L)
    return ConditionedGaussian(mean - prior._correct(law.residual(mean)), d, law.G, nv, L)


def lowrank_update(prediction: LowRankGaussian, law) -> ConditionedLowRankGaussian:
    W = prediction.factor                                     # (M, nt, nx)
    H = diagonal_conditioned(prediction.mean, prediction.base.variance, law)
    U = jnp.einsum("trn,mtn->mtr", law.G, W)                  # G W^T, (M, nt, r)
    Uw = H._whiten(U)                                         # P^-1/2 U
    Wp = W - H._correct(U)                                    # W' = W - D G^T P^-1 U
    M = W.shape[0]
    C = jnp.eye(M, dtype=W.dtype) + jnp.einsum("mtr,ktr->mk", Uw, Uw)
    Lc = jnp.linalg.cholesky(C)
    rw = H._whiten(law.b - jnp.einsum("trn,tn->tr", law.G, prediction.mean))
    z = jax.scipy.linalg.cho_solve((Lc, True), jnp.einsum("mtr,tr->m", Uw, rw))
    mean = H.mean + jnp.tensordot(z, Wp, axes=1)
    factor = jax.scipy.linalg.solve_triangular(Lc, Wp.reshape(M, -1), lower=True).reshape(W.shape)
    base = ConditionedGaussian(mean, H.prior_variance, H.G, H.noise, H.chol)
    return ConditionedLowRankGaussian(base, factor)


def kronecker_update(prediction: KroneckerGaussian, law) -> KroneckerGaussian:
    if prediction.rows is not None:
        raise ValueError("prediction is already conditioned; condition the prior once on all rows")
    g = law.G[0]
    same = jnp.all(law.G == g) & jnp.all(law.noise == 0)
    g = eqx.error_if(
        g, ~same,
        "a KroneckerGaussian is conditioned exactly only on the same rows at every time step "
        "with sigma_G = 0 (law.G[t] == law.G[0], law.noise == 0); use a LowRankGaussian or "
        "DenseGaussian for sigma_G > 0")
    P = g @ prediction.space_cov @ g.T
    L = checked_chol(P)
    post = KroneckerGaussian(prediction.mean, prediction.time_cov, prediction.space_cov, rows=g, chol=L,
                             _roots=(prediction.time_root, prediction.space_root))
    mean = prediction.mean - post._correct(prediction.mean @ g.T - law.b)
    return KroneckerGaussian(mean, prediction.time_cov, prediction.space_cov, rows=g, chol=L,
                             _roots=(prediction.time_root, prediction.space_root))


def dense_update(prediction: DenseGaussian, law) -> DenseGaussian:
    nt, r, nx = law.G.shape
    G = jax.scipy.linalg.block_diag(*[law.G[j] for j in range(nt)])  # (nt r, nt nx)
    Sigma = prediction.covariance_matrix
    SGt = Sigma @ G.T
    nv = (law.noise**2).ravel()
    S = G @ SGt + jnp.diag(nv)
    L = checked_chol(S)
    K = jax.scipy.linalg.cho_solve((L, True), SGt.T).T  # Sigma G^T S^-1
    mean = prediction.mean - K @ (G @ prediction.mean - law.b.ravel())
    cov = Sigma - K @ SGt.T
    R = prediction.root
    root = jnp.concatenate([R - K @ (G @ R), K * jnp.sqrt(nv)], axis=1)
    return DenseGaussian(mean, 0.5 * (cov + cov.T), root=root)
