"""Attentive Neural Process (Kim et al., 2019) as used by ProbConserv (Hansen et al., ICML 2023).

The architecture, initialisation and loss follow the ProbConserv reference code
(``deep_pdes/attentive_neural_process``, itself adapted from ``soobinseo/Attentive-Neural-Process``);
the default configuration (``x_dim=2`` for ``(t, x)``, ``y_dim=1``, ``hidden=latent=128``, 4 heads)
has exactly 989,826 parameters, like the released ``anp.pt``.

Everything is *unbatched*: one function's context/target sets go in, ``jax.vmap`` batches over
functions. Shapes: ``nc`` context points, ``nt`` target points, ``h = hidden``, ``d = latent``.

The layers (attention block, latent and deterministic paths, decoder, initialisation) are
described in :mod:`physcon.models.anp_layers`; the loss and moment matching live in
:mod:`physcon.models.anp_loss` (both re-exported here).

Faithful vs exact prediction (see :meth:`ANP.__call__`):

* ``dropout_at_inference=True`` is the **faithful** mode: the reference code never calls
  ``model.eval()``, so attention and residual dropout stay active in every one of the 100
  prediction passes (MC-dropout noise in mean and std). ``ddof=1`` additionally reproduces its
  ``torch.var`` (unbiased) between-sample variance.
* The default (``dropout_at_inference=False``, ``ddof=0``) is the intended model: dropout off,
  exact moments of the equally weighted mixture of the decoded Gaussians.

The module's attribute names mirror the reference's ``state_dict`` keys, so released PyTorch
weights load with :func:`load_state_dict` (arrays converted to NumPy first).
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from physcon.distributions import DiagonalGaussian
from physcon.models.anp_loss import elbo_loss, moment_match  # noqa: F401  (re-exported)
from physcon.models.anp_layers import (  # noqa: F401  (re-exported building blocks)
    Attention,
    Decoder,
    DeterministicEncoder,
    LatentEncoder,
    _check_points,
    _finite,
    _gaussian_nll,
    _keys,
    _kl_diag,
    _need_key,
    _positive_int,
)


# --- the model --------------------------------------------------------------------------------
class ANPEncoding(eqx.Module):
    """What :meth:`ANP.encode` learns from one context set.

    Attributes:
        z_mean: mean of ``q(z | context)``, shape ``(latent,)``.
        z_log_var: log-variance of ``q(z | context)``, shape ``(latent,)``.
        keys: deterministic-path keys (projected context inputs), shape ``(nc, hidden)``.
        values: deterministic-path values (self-attended context), shape ``(nc, hidden)``.
    """

    z_mean: Float[Array, " latent"]
    z_log_var: Float[Array, " latent"]
    keys: Float[Array, "nc hidden"]
    values: Float[Array, "nc hidden"]

    @property
    def z_var(self) -> Float[Array, " latent"]:
        """Variance of ``q(z | context)``, shape ``(latent,)``."""
        return jnp.exp(self.z_log_var)

    @property
    def latent(self) -> DiagonalGaussian:
        """``q(z | context)`` as a :class:`~physcon.distributions.DiagonalGaussian` ``(latent,)``."""
        return DiagonalGaussian(self.z_mean, self.z_var)

    def sample_z(self, key: PRNGKeyArray, n: int | None = None) -> Array:
        """Reparameterised draws ``mean + exp(log_var / 2) * eps`` with
        ``eps = jax.random.normal(key, shape)``: shape ``(latent,)`` or ``(n, latent)``."""
        shape = self.z_mean.shape if n is None else (int(n), *self.z_mean.shape)
        return self.z_from_noise(jax.random.normal(key, shape, self.z_mean.dtype))

    def z_from_noise(self, eps: Float[Array, "*n latent"]) -> Float[Array, "*n latent"]:
        """``mean + exp(log_var / 2) * eps`` for standard-normal ``eps``."""
        return self.z_mean + jnp.exp(0.5 * self.z_log_var) * eps


class ANP(eqx.Module):
    """Attentive Neural Process with a latent and a deterministic path (ProbConserv's Step-1 model).

    Unbatched: ``context_x`` ``(nc, x_dim)``, ``context_y`` ``(nc, y_dim)`` (or ``(nc,)`` when
    ``y_dim == 1``), ``target_x`` ``(nt, x_dim)``; use ``jax.vmap`` over functions. Predictions
    are :class:`~physcon.distributions.DiagonalGaussian` with mean/variance ``(nt,)`` for
    ``y_dim == 1``, else ``(nt, y_dim)``.

    Args:
        x_dim: input dimension (2 for ``(t, x)``).
        y_dim: output dimension.
        hidden: width of every attention block and projection (128 in the paper).
        latent: dimension of ``z`` (128 in the paper).
        heads: attention heads; must divide ``hidden``.
        dropout: dropout rate on attention weights and after each block's output linear.
        min_sigma: floor added to the decoder's softplus standard deviation.
        key: PRNG key for the initialisation.

    The default configuration has 989,826 parameters (inexact array leaves).
    """

    latent_encoder: LatentEncoder
    deterministic_encoder: DeterministicEncoder
    decoder: Decoder
    x_dim: int = eqx.field(static=True)
    y_dim: int = eqx.field(static=True)
    hidden: int = eqx.field(static=True)
    latent: int = eqx.field(static=True)
    heads: int = eqx.field(static=True)
    dropout: float = eqx.field(static=True)
    min_sigma: float = eqx.field(static=True)

    def __init__(
        self,
        x_dim: int = 2,
        y_dim: int = 1,
        hidden: int = 128,
        latent: int = 128,
        heads: int = 4,
        dropout: float = 0.1,
        min_sigma: float = 1e-3,
        *,
        key: PRNGKeyArray,
    ):
        x_dim, y_dim = _positive_int(x_dim, "x_dim"), _positive_int(y_dim, "y_dim")
        hidden, latent = _positive_int(hidden, "hidden"), _positive_int(latent, "latent")
        heads = _positive_int(heads, "heads")
        if hidden % heads:
            raise ValueError(f"heads={heads} must divide hidden={hidden}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        if not (math.isfinite(float(min_sigma)) and float(min_sigma) >= 0.0):
            raise ValueError(f"min_sigma must be finite and >= 0, got {min_sigma!r}")
        k_lat, k_det, k_dec = jax.random.split(key, 3)
        self.latent_encoder = LatentEncoder(x_dim, y_dim, hidden, latent, heads, float(dropout), key=k_lat)
        self.deterministic_encoder = DeterministicEncoder(x_dim, y_dim, hidden, heads, float(dropout), key=k_det)
        self.decoder = Decoder(x_dim, y_dim, hidden, latent, float(min_sigma), key=k_dec)
        self.x_dim, self.y_dim, self.hidden, self.latent, self.heads = x_dim, y_dim, hidden, latent, heads
        self.dropout, self.min_sigma = float(dropout), float(min_sigma)

    # ---- input checks
    def _xy(self, x, y, x_name, y_name):
        x = _check_points(x, x_name, self.x_dim, "x_dim")
        y = _check_points(y, y_name, self.y_dim, "y_dim", n=x.shape[0], n_name=x_name, allow_vector=True)
        return x, y

    @property
    def _dtype(self):
        return self.decoder.final_projection.weight.dtype

    def _target_x(self, target_x, name="target_x"):
        return _check_points(target_x, name, self.x_dim, "x_dim")

    def _shape_out(self, a: Array) -> Array:
        """``(..., nt, y_dim) -> (..., nt)`` when ``y_dim == 1``."""
        return a[..., 0] if self.y_dim == 1 else a

    # ---- the two halves
    def encode(
        self,
        context_x: Float[ArrayLike, "nc x_dim"],
        context_y: Float[ArrayLike, "nc y_dim"],
        *,
        key: PRNGKeyArray | None = None,
        inference: bool = True,
    ) -> ANPEncoding:
        """Encode one context set.

        Args:
            context_x: ``(nc, x_dim)`` context inputs.
            context_y: ``(nc, y_dim)`` context values (``(nc,)`` allowed when ``y_dim == 1``).
            key: dropout key; needed only when ``inference=False``.
            inference: ``True`` disables dropout.

        Returns:
            :class:`ANPEncoding`: ``q(z | context)`` (``z_mean``, ``z_log_var``, ``z_var``, each
            ``(latent,)``) and the deterministic path's keys/values ``(nc, hidden)``.
        """
        _need_key(key, inference, "ANP.encode")
        x, y = self._xy(context_x, context_y, "context_x", "context_y")
        k_lat, k_det = _keys(key, 2)
        mu, log_var = self.latent_encoder(x, y, key=k_lat, inference=inference)
        keys, values = self.deterministic_encoder.encode_context(x, y, key=k_det, inference=inference)
        return ANPEncoding(mu, log_var, keys, values)

    def _decode_params(self, encoding, target_x, z, key, inference):
        r = self.deterministic_encoder.cross_attend(encoding.keys, encoding.values, target_x,
                                                    key=key, inference=inference)
        return self.decoder(r, z, target_x)

    def decode(
        self,
        encoding: ANPEncoding,
        target_x: Float[ArrayLike, "nt x_dim"],
        z: Float[ArrayLike, " latent"],
        *,
        key: PRNGKeyArray | None = None,
        inference: bool = True,
    ) -> DiagonalGaussian:
        """``p(y | target_x, r, z)`` for one latent draw.

        Args:
            encoding: from :meth:`encode`.
            target_x: ``(nt, x_dim)`` target inputs.
            z: ``(latent,)`` latent sample (e.g. ``encoding.sample_z(key)``).
            key: dropout key for the cross-attention blocks; needed only when ``inference=False``.
            inference: ``True`` disables dropout.

        Returns:
            ``DiagonalGaussian`` with mean/variance ``(nt,)`` (``y_dim == 1``) or ``(nt, y_dim)``.
        """
        _need_key(key, inference, "ANP.decode")
        target_x = self._target_x(target_x)
        z = jnp.asarray(z)
        if z.shape != (self.latent,):
            raise ValueError(f"z must have shape (latent,) = ({self.latent},), got {z.shape}")
        mean, std = self._decode_params(encoding, target_x, _finite(z, "z"), key, inference)
        return DiagonalGaussian(self._shape_out(mean), self._shape_out(std**2))

    # ---- prediction
    def sample_predictions(
        self,
        context_x: Float[ArrayLike, "nc x_dim"],
        context_y: Float[ArrayLike, "nc y_dim"],
        target_x: Float[ArrayLike, "nt x_dim"],
        *,
        key: PRNGKeyArray,
        n_samples: int = 100,
        inference: bool = True,
        dropout_at_inference: bool = False,
        chunk_size: int | None = None,
    ) -> DiagonalGaussian:
        """The ``n_samples`` decoded Gaussians, one per latent draw ``z ~ q(z | context)``.

        ProbConserv applies its constraint to each of these and then moment-matches
        (:func:`moment_match`); :meth:`__call__` moment-matches directly.

        Args:
            context_x, context_y, target_x: as in :meth:`__call__`.
            key: PRNG key for the latent draws (and the dropout masks if dropout is on).
            n_samples: number of latent draws ``S``.
            inference: ``False`` = training mode (dropout on).
            dropout_at_inference: keep dropout on in inference mode (the reference code's
                behaviour, see :meth:`__call__`).
            chunk_size: decode this many samples at a time (``jax.lax.map``) to bound memory;
                ``None`` decodes all at once (``vmap``).

        Returns:
            ``DiagonalGaussian`` with mean/variance ``(S, nt)`` (``y_dim == 1``) or
            ``(S, nt, y_dim)``. Sample ``s`` uses ``z_s = mu + sigma * eps_s`` with
            ``eps = jax.random.normal(key, (S, latent))`` in every mode (so without dropout,
            sample ``s`` is ``decode(encode(...), target_x, encoding.sample_z(key, S)[s])``, and
            switching dropout on changes nothing else); dropout masks use ``fold_in(key, 1)``.
        """
        n_samples = _positive_int(n_samples, "n_samples")
        if chunk_size is not None:
            chunk_size = _positive_int(chunk_size, "chunk_size")
        x, y = self._xy(context_x, context_y, "context_x", "context_y")
        tx = self._target_x(target_x)
        # The latent noise is the same in every mode: z_s = mu + sigma * eps_s with
        # eps = normal(key, (S, latent)); dropout masks come from fold_in(key, 1).
        eps = jax.random.normal(key, (n_samples, self.latent), self._dtype)
        dropout_on = (not inference) or dropout_at_inference
        if dropout_on and self.dropout > 0.0:
            # Every pass is a full forward pass with its own dropout masks (as the reference's
            # 100 forward calls): the encoder output differs between samples too.
            def one(args):
                e, k = args
                k_enc, k_dec = jax.random.split(k)
                enc = self.encode(x, y, key=k_enc, inference=False)
                return self._decode_params(enc, tx, enc.z_from_noise(e), k_dec, False)

            xs = (eps, jax.random.split(jax.random.fold_in(key, 1), n_samples))
        else:
            # Dropout off: encode and cross-attend once; only the decoder MLP sees each z.
            enc = self.encode(x, y)
            r = self.deterministic_encoder.cross_attend(enc.keys, enc.values, tx)

            def one(z):
                return self.decoder(r, z, tx)

            xs = enc.z_from_noise(eps)
        if chunk_size is None:
            mean, std = jax.vmap(one)(xs)
        else:
            mean, std = jax.lax.map(one, xs, batch_size=min(chunk_size, n_samples))
        return DiagonalGaussian(self._shape_out(mean), self._shape_out(std**2))

    def __call__(
        self,
        context_x: Float[ArrayLike, "nc x_dim"],
        context_y: Float[ArrayLike, "nc y_dim"],
        target_x: Float[ArrayLike, "nt x_dim"],
        *,
        key: PRNGKeyArray,
        n_samples: int = 100,
        inference: bool = True,
        dropout_at_inference: bool = False,
        ddof: int = 0,
        chunk_size: int | None = None,
    ) -> DiagonalGaussian:
        """Moment-matched predictive distribution over the targets.

        Draws ``n_samples`` latents ``z ~ q(z | context)``, decodes each to ``N(mu_s, sigma_s^2)``
        and returns ``N(mean_s mu_s, mean_s sigma_s^2 + var_s mu_s)`` (mixture moment matching).

        Args:
            context_x: ``(nc, x_dim)`` context inputs.
            context_y: ``(nc, y_dim)`` context values (``(nc,)`` allowed when ``y_dim == 1``).
            target_x: ``(nt, x_dim)`` target inputs.
            key: PRNG key for the latent draws (and dropout masks when dropout is on).
            n_samples: number of latent draws (100 in the paper).
            inference: ``True`` (default) disables dropout; ``False`` is training mode.
            dropout_at_inference: **faithful mode**. The ProbConserv reference code never
                switches the model to ``eval()``, so dropout (p = ``dropout``) stays active in
                all prediction passes; ``True`` reproduces that (each sample is a full forward
                pass with fresh dropout masks). ``False`` (default) is the intended, dropout-free
                predictor.
            ddof: delta degrees of freedom of the between-sample variance: 0 (default) gives
                the exact mixture moments; 1 matches the reference's ``torch.var``.
            chunk_size: decode this many samples at a time to bound memory (default: all).

        Returns:
            ``DiagonalGaussian`` with mean/variance ``(nt,)`` (``y_dim == 1``) or ``(nt, y_dim)``.
        """
        samples = self.sample_predictions(
            context_x, context_y, target_x, key=key, n_samples=n_samples, inference=inference,
            dropout_at_inference=dropout_at_inference, chunk_size=chunk_size,
        )
        return moment_match(samples, ddof=ddof)

    # ---- training
    def training_prediction(
        self,
        context_x: Float[ArrayLike, "nc x_dim"],
        context_y: Float[ArrayLike, "nc y_dim"],
        target_x: Float[ArrayLike, "nt x_dim"],
        target_y: Float[ArrayLike, "nt y_dim"],
        *,
        key: PRNGKeyArray,
        inference: bool = False,
    ) -> tuple[DiagonalGaussian, Float[Array, ""]]:
        """The reference training pass for one function: ``(p(y | target_x, z), kl)``.

        ``z`` is drawn from the **target-only** posterior ``q(z | target_x, target_y)``, the
        prediction is decoded at ``target_x`` (shapes as :meth:`decode`), and
        ``kl = KL(q(z | targets) || q(z | context))`` is summed over latent dimensions. Dropout
        is on unless ``inference=True`` (the reference's validation pass, in ``eval()`` mode).
        """
        cx, cy = self._xy(context_x, context_y, "context_x", "context_y")
        tx, ty = self._xy(target_x, target_y, "target_x", "target_y")
        k_prior, k_post, k_z, k_det, k_cross = jax.random.split(key, 5)
        if inference:
            k_prior = k_post = k_det = k_cross = None
        mu_p, log_var_p = self.latent_encoder(cx, cy, key=k_prior, inference=inference)
        mu_q, log_var_q = self.latent_encoder(tx, ty, key=k_post, inference=inference)
        z = mu_q + jnp.exp(0.5 * log_var_q) * jax.random.normal(k_z, mu_q.shape, mu_q.dtype)
        keys, values = self.deterministic_encoder.encode_context(cx, cy, key=k_det, inference=inference)
        enc = ANPEncoding(mu_p, log_var_p, keys, values)
        mean, std = self._decode_params(enc, tx, z, k_cross, inference)
        pred = DiagonalGaussian(self._shape_out(mean), self._shape_out(std**2))
        return pred, _kl_diag(mu_q, log_var_q, mu_p, log_var_p)

    def elbo_terms(
        self,
        context_x: Float[ArrayLike, "nc x_dim"],
        context_y: Float[ArrayLike, "nc y_dim"],
        target_x: Float[ArrayLike, "nt x_dim"],
        target_y: Float[ArrayLike, "nt y_dim"],
        *,
        key: PRNGKeyArray,
        inference: bool = False,
    ) -> tuple[Float[Array, ""], Float[Array, ""]]:
        """One function's ``(nll, kl)`` as in the reference training step
        (:meth:`training_prediction`): ``nll = -sum_targets log N(target_y | mu, sigma)``
        (summed over ``y_dim`` too)."""
        pred, kl = self.training_prediction(context_x, context_y, target_x, target_y, key=key,
                                            inference=inference)
        ty = jnp.reshape(jnp.asarray(target_y), pred.mean.shape)
        return jnp.sum(_gaussian_nll(ty, pred.mean, jnp.sqrt(pred.variance))), kl


__all__ = [
    "ANP", "ANPEncoding", "Attention", "Decoder", "DeterministicEncoder", "LatentEncoder",
    "elbo_loss", "moment_match",
]
