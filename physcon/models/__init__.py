"""Neural surrogates (Equinox modules, unbatched call + ``jax.vmap``).

* :class:`ANP` the Attentive Neural Process of ProbConserv (Hansen et al., ICML 2023), with
  :func:`elbo_loss` (its training loss, for :func:`physcon.train.fit`) and
  :func:`moment_match` (mixture moment matching of per-sample predictions).
* :class:`FNO` the Fourier Neural Operator (1-3 grid axes) of the original FNO / BOON code,
  with its building blocks :class:`SpectralConv` and :class:`Pointwise`.
* :class:`Ensemble` ``M`` members of any of them (stacked, vmapped, one training loop with
  :func:`ensemble_loss`), predicting a diagonal + rank-``M`` Gaussian (:func:`members_gaussian`).

Modules: ``anp`` (the model), ``anp_layers`` (attention, encoders, decoder), ``anp_loss`` (ELBO,
moment matching), ``anp_torch`` (loading the reference's PyTorch weights; torch imported lazily),
``fno`` (the model), ``fno_layers`` (spectral convolution, pointwise layer), ``ensemble``
(deep ensembles), ``gp`` (the GP).
* :class:`GP` a separable Gaussian process on ``(t, x)`` (kernels from tinygp), fitted by
  marginal likelihood with :func:`fit_gp`; its posterior on a grid, :class:`GPPrediction`, is
  Kronecker minus low rank and goes through :func:`physcon.constraints.probconserv`.
"""

from physcon.models import anp, fno, gp
from physcon.models.anp import ANP, ANPEncoding, elbo_loss, moment_match
from physcon.models.ensemble import Ensemble, ensemble_loss, members_gaussian
from physcon.models.anp_torch import load_state_dict, state_dict
from physcon.models.fno import FNO, Pointwise, SpectralConv
from physcon.models.gp import GP, GPPrediction, fit_gp

__all__ = [
    "ANP", "ANPEncoding", "Ensemble", "FNO", "GP", "GPPrediction", "Pointwise", "SpectralConv", "anp",
    "elbo_loss", "ensemble_loss", "fit_gp", "fno", "gp", "load_state_dict", "members_gaussian", "moment_match",
    "state_dict",
]
