"""Conservation laws as linear constraints, and the updates that enforce them.

The integral form of a 1-D conservation law, ``integral u(x, t) dx = b(t)``, discretised with
quadrature weights ``w`` on the grid, is one linear constraint per time step:
``G u = b`` with ``G = blockdiag(w^T, ..., w^T)``. Given a Gaussian prediction
``u ~ N(mu, Sigma)`` and the constraint ``b = G u + sigma_G eps``:

* :func:`probconserv` (Hansen et al., ICML 2023, Step 2) returns the exact Gaussian posterior
  ``mu~ = mu - Sigma G^T S^-1 (G mu - b)``, ``Sigma~ = Sigma - Sigma G^T S^-1 G Sigma``,
  ``S = G Sigma G^T + sigma_G^2 I``. For a diagonal ``Sigma`` (an ANP) this is a rank-one
  down-date per time step, ``O(N)`` time and memory; with ``sigma_G = 0`` the posterior mean
  and every posterior sample satisfy ``G u = b`` to round-off.
* :func:`hard_projection` (HardC; Negiar et al., ICLR 2023): the same update with ``Sigma``
  replaced by the identity (least-squares projection of the mean), variance left unchanged,
  as in the reference code.
"""

from __future__ import annotations

from typing import Callable, Union

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from physcon.constraints._structured import (checked_chol as _checked_chol, dense_update, diagonal_conditioned,
                                             kronecker_update, lowrank_update)
from physcon.distributions import DenseGaussian, DiagonalGaussian, KroneckerGaussian, LowRankGaussian
from physcon.grid import Grid1D
from physcon.models.gp import GPPrediction


class LinearConstraint(eqx.Module):
    """``G u = b`` up to Gaussian noise, one block of ``r`` rows per time step.

    Attributes:
        G: ``(nt, r, nx)`` constraint rows.
        b: ``(nt, r)`` right-hand sides.
        noise: ``(nt, r)`` noise standard deviations ``sigma_G`` (0 = exact).
    """

    G: Float[Array, "nt r nx"]
    b: Float[Array, "nt r"]
    noise: Float[Array, "nt r"]

    def __init__(self, G: ArrayLike, b: ArrayLike, noise: ArrayLike = 0.0, *, check_G: bool = True):
        # check_G=False: G is known finite (e.g. broadcast grid weights). Checking a large
        # constant G under jit makes XLA fold the check at compile time (seconds at 1e7 points).
        G = jnp.asarray(G)
        if G.ndim != 3:
            raise ValueError(f"G must have shape (nt, r, nx), got {G.shape}")
        b = jnp.asarray(b, G.dtype)
        if b.shape != G.shape[:2]:
            raise ValueError(f"b must have shape (nt, r) = {G.shape[:2]}, got {b.shape}")
        noise = jnp.broadcast_to(jnp.asarray(noise, G.dtype), b.shape)
        noise = eqx.error_if(noise, ~jnp.all(jnp.isfinite(noise) & (noise >= 0)),
                             "noise (sigma_G) must be finite and non-negative")
        self.G = eqx.error_if(G, ~jnp.all(jnp.isfinite(G)), "G must be finite") if check_G else G
        self.b = eqx.error_if(b, ~jnp.all(jnp.isfinite(b)), "b (mass) must be finite")
        self.noise = noise

    def residual(self, u: Float[ArrayLike, "nt nx"]) -> Float[Array, "nt r"]:
        """``G u - b`` (the conservation error, signed)."""
        return jnp.einsum("trn,tn->tr", self.G, jnp.asarray(u)) - self.b


def conservation_law(
    grid: Grid1D,
    t: Float[ArrayLike, " nt"],
    mass: Union[Float[ArrayLike, " nt"], Callable[[Array], Array]],
    noise: float | ArrayLike = 0.0,
    rule: str | None = None,
) -> LinearConstraint:
    """``integral u(x, t_j) dx = mass(t_j)`` on ``grid`` at each time ``t_j``.

    Args:
        grid: the spatial grid of the prediction (``nx`` points).
        t: the prediction's times, shape ``(nt,)``.
        mass: ``b(t_j)``, shape ``(nt,)``, or a function of ``t`` (e.g. ``problem.mass``).
        noise: ``sigma_G`` (a standard deviation), scalar or ``(nt,)``; 0 = exact.
        rule: quadrature rule (default: the grid's, which integrates over the whole domain:
            midpoint for cells, trapezoid for nodes; ProbConserv uses trapezoid).
    """
    t = jnp.asarray(t)
    if t.ndim != 1:
        raise ValueError(f"t must have shape (nt,), got {t.shape}")
    b = mass(t) if callable(mass) else jnp.asarray(mass)
    dtype = jnp.result_type(b, t) if jnp.issubdtype(jnp.result_type(b, t), jnp.floating) else jnp.result_type(float)
    b = jnp.asarray(b, dtype)
    if b.shape != t.shape:
        raise ValueError(f"mass must have shape (nt,) = {t.shape}, got {b.shape}")
    w = grid.quadrature(rule, dtype=dtype)
    G = jnp.broadcast_to(w, (t.shape[0], 1, grid.n))
    noise = jnp.asarray(noise, dtype)
    if noise.ndim == 1:
        noise = noise[:, None]
    return LinearConstraint(G, b[:, None], noise, check_G=False)  # grid weights are finite


def _check_fit(prediction, law: LinearConstraint):
    shape = law.G.shape[0], law.G.shape[2]
    if isinstance(prediction, DenseGaussian):
        if prediction.mean.shape != (shape[0] * shape[1],):
            raise ValueError(f"law has {shape[0]} x {shape[1]} unknowns but the prediction has {prediction.mean.shape}")
    elif prediction.mean.shape != shape:
        raise ValueError(f"prediction has shape {prediction.mean.shape}, but law expects (nt, nx) = {shape}")


def probconserv(prediction, law: LinearConstraint):
    """Condition a Gaussian prediction on the conservation law (ProbConserv, Step 2).

    Args:
        prediction: over the ``(nt, nx)`` field: a :class:`DiagonalGaussian` (an ANP's
            output), a :class:`LowRankGaussian` (diagonal + rank ``M``: an ensemble), a
            :class:`KroneckerGaussian` (separable ``A kron B``: a GP with a product kernel;
            exact constraints with the same rows at every time), or a :class:`DenseGaussian`
            over the flattened ``(nt * nx,)`` field.
        law: from :func:`conservation_law` or :func:`mass_and_walls`.

    Returns:
        The exact posterior, in the prediction's structure: a ``ConditionedGaussian``
        (diagonal + rank ``r`` per time step; ``O(N r^2)``), a ``ConditionedLowRankGaussian``
        (``O(N (M + r)^2)``), a conditioned ``KroneckerGaussian`` (``O(N r + nx^2 r)``), or a
        ``DenseGaussian`` (``O(N^3)``). With ``sigma_G = 0`` the mean and every sample
        (Matheron's rule) satisfy ``G u = b`` to round-off. Differentiable in the prediction
        and in the law. See :mod:`physcon.constraints._structured` for the algebra.
    """
    _check_fit(prediction, law)
    if isinstance(prediction, DenseGaussian):
        return dense_update(prediction, law)
    if isinstance(prediction, LowRankGaussian):
        return lowrank_update(prediction, law)
    if isinstance(prediction, KroneckerGaussian):
        return kronecker_update(prediction, law)
    if isinstance(prediction, GPPrediction):
        return prediction.conserve(law)
    if not isinstance(prediction, DiagonalGaussian):
        raise ValueError(
            "prediction must be a DiagonalGaussian, LowRankGaussian, KroneckerGaussian, DenseGaussian or "
            "GPPrediction, "
            f"got {type(prediction).__name__}")
    return diagonal_conditioned(prediction.mean, prediction.variance, law)


def hard_projection(prediction: DiagonalGaussian, law: LinearConstraint) -> DiagonalGaussian:
    """HardC: project the mean onto ``G u = b`` in the Euclidean metric,
    ``mu - G^T (G G^T)^-1 (G mu - b)``; the variance is returned unchanged (as in the
    reference implementation). Ignores ``law.noise``."""
    _check_fit(prediction, law)
    GGt = jnp.einsum("brn,bsn->brs", law.G, law.G)
    L = _checked_chol(GGt)
    y = jax.vmap(lambda L, v: jax.scipy.linalg.cho_solve((L, True), v))(L, law.residual(prediction.mean))
    mean = prediction.mean - jnp.einsum("brn,br->bn", law.G, y)
    return DiagonalGaussian(mean, prediction.variance)
