"""Neural surrogates (Equinox modules, unbatched call + ``jax.vmap``).

* :class:`ANP` the Attentive Neural Process of ProbConserv (Hansen et al., ICML 2023), with
  :func:`elbo_loss` (its training loss, for :func:`physcon.train.fit`) and
  :func:`moment_match` (mixture moment matching of per-sample predictions).
"""

from physcon.models import anp
from physcon.models.anp import ANP, ANPEncoding, elbo_loss, moment_match
from physcon.models.anp_torch import load_state_dict, state_dict

__all__ = ["ANP", "ANPEncoding", "anp", "elbo_loss", "load_state_dict", "moment_match", "state_dict"]
