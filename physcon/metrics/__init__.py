"""Error measures with documented reductions, including the ProbConserv evaluation metrics.

Conventions: space is the last axis (length ``nx``); spatial integrals use the grid's
quadrature weights ``w`` (shape ``(nx,)``, e.g. :meth:`physcon.Grid1D.quadrature`), so the
numbers are resolution independent. Unless stated, a function reduces over the last (space)
axis only and returns one value per leading index (time, function, batch); averaging those
over test functions, with a standard error, is :func:`mean_and_se`.

ProbConserv metrics (Hansen et al., ICML 2023; reference ``deep_pdes/experiments/analyze.py``):

* :func:`mse` with ``axis=-1``: squared error averaged over space per function and time;
* :func:`conservation_error` (CE): signed ``integral u dx - mass``;
* :func:`log_likelihood` (LL): pointwise (marginal) Gaussian log density, averaged over space;
* :func:`crps`: closed-form CRPS of the pointwise Gaussian, averaged over space;
* :func:`shock_position`: the Stefan/PME downstream task (where a profile first drops to a
  threshold);
* :func:`mean_and_se`: mean and standard error (``ddof=1``) over test functions.

BOON metrics (Saad et al., ICLR 2023): :func:`relative_l2` with ``axis=`` the sample's axes
(per-sample relative L2 over the flattened sample; the loss sums it over the batch, the test
metric averages it) and :func:`boundary_error` (Dirichlet value, Neumann/Robin derivative with
the condition's own or an independent stencil, periodic mismatch).

All array functions are pure ``jax.numpy``: shape checks are static (``ValueError`` naming
the argument), value checks use ``eqx.error_if`` (so they also fire under ``jax.jit``), and
they work under ``jit``/``vmap``. Results keep the callers' floating dtype (JAX promotion of
the inputs; integer inputs become JAX's default float).

Inside: :mod:`~physcon.metrics.errors` (field errors, CE, LL, CRPS, shock position, statistics) and
:mod:`~physcon.metrics.boundary` (:func:`boundary_error`); every name is re-exported here.
"""

from physcon.metrics.boundary import boundary_error
from physcon.metrics.errors import (
    conservation_error,
    convergence_order,
    crps,
    l1_error,
    log_likelihood,
    mean_and_se,
    mse,
    relative_l2,
    shock_position,
)

__all__ = [
    "boundary_error", "conservation_error", "convergence_order", "crps", "l1_error", "log_likelihood",
    "mean_and_se", "mse", "relative_l2", "shock_position",
]
