"""Gaussian predictions over a discretised field, with covariance kept in structured form.

* :class:`DiagonalGaussian` independent entries (an ANP's output): any shape.
* :class:`ConditionedGaussian` a diagonal Gaussian conditioned on a few linear
  observations per block (e.g. one conservation law per time step): the posterior covariance
  ``D - D G^T S^-1 G D`` is held as ``(D, G, S)``, so mean, variance, samples and densities
  cost ``O(N r^2)``.
* :class:`LowRankGaussian` diagonal + rank ``M`` (``M`` ensemble members or features), and its
  conditioned form :class:`ConditionedLowRankGaussian`: ``O(N M^2)``.
* :class:`KroneckerGaussian` separable covariance ``A kron B`` on a ``(t, x)`` grid (a GP
  with a product kernel): ``O(nt^2 + nx^2)`` memory.
* :class:`DenseGaussian` a full covariance, via a sampling root.

None builds an ``N x N`` matrix unless ``covariance()`` is asked for. All are ``eqx.Module``
pytrees: they pass through ``jit``/``vmap``/``grad``. Values are validated with
``eqx.error_if`` (so the checks also run under ``jit``): non-finite means, negative or
non-finite variances, non-finite factors, non-PSD covariances raise an error naming the argument.
"""

from physcon.distributions.dense import DenseGaussian
from physcon.distributions.diagonal import ConditionedGaussian, DiagonalGaussian
from physcon.distributions.kronecker import KroneckerGaussian
from physcon.distributions.lowrank import ConditionedLowRankGaussian, LowRankGaussian

__all__ = [
    "DiagonalGaussian", "ConditionedGaussian", "DenseGaussian", "KroneckerGaussian",
    "LowRankGaussian", "ConditionedLowRankGaussian",
]
