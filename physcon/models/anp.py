"""Attentive Neural Process (Kim et al., 2019) as used by ProbConserv (Hansen et al., ICML 2023).

The architecture, initialisation and loss follow the ProbConserv reference code
(``deep_pdes/attentive_neural_process``, itself adapted from ``soobinseo/Attentive-Neural-Process``);
the default configuration (``x_dim=2`` for ``(t, x)``, ``y_dim=1``, ``hidden=latent=128``, 4 heads)
has exactly 989,826 parameters, like the released ``anp.pt``.

Everything is *unbatched*: one function's context/target sets go in, ``jax.vmap`` batches over
functions. Shapes: ``nc`` context points, ``nt`` target points, ``h = hidden``, ``d = latent``.

* **Attention block** (:class:`Attention`): bias-free Q/K/V maps ``h -> h``, ``heads`` heads of
  ``h / heads`` dims, scaled dot-product attention, dropout on the attention weights;
  ``[query, attention output]`` (``2h``) ``-> Linear -> dropout -> + query -> LayerNorm``.
* **Latent path** (:class:`LatentEncoder`): ``Linear(x_dim + y_dim -> h)``, 2 self-attention
  blocks, mean over points, ``Linear(h -> h) + ReLU``, heads ``mu`` and ``log_sigma``
  (``h -> d``). ``log_sigma`` is a **log-variance**: ``q(z | .) = N(mu, exp(log_sigma))``.
* **Deterministic path** (:class:`DeterministicEncoder`): ``Linear(x_dim + y_dim -> h)`` and 2
  self-attention blocks give the values; keys ``Linear(x_dim -> h)(context_x)``, queries
  ``Linear(x_dim -> h)(target_x)``; 2 cross-attention blocks (each updates the query) give
  ``r`` of shape ``(nt, h)``.
* **Decoder** (:class:`Decoder`): ``Linear(x_dim -> h)(target_x)``, concatenation
  ``[r, z, x_proj]`` (``2h + d``), 3 x ``(Linear + ReLU)``, ``Linear(-> 2 y_dim)``: mean and
  ``std = softplus(.) + min_sigma``.
* **Initialisation**: weights Xavier-uniform with gain 1 (gain ``sqrt(2)`` for the decoder's
  hidden layers and the latent path's penultimate layer), biases ``U(-1/sqrt(fan_in),
  1/sqrt(fan_in))`` (PyTorch's default); LayerNorm weight 1, bias 0.

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
from collections.abc import Mapping
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from physcon.distributions import DiagonalGaussian

_LOG_2PI = math.log(2.0 * math.pi)


# --- helpers ----------------------------------------------------------------------------------
def _linear(in_dim: int, out_dim: int, *, key: PRNGKeyArray, gain: float = 1.0, bias: bool = True) -> eqx.nn.Linear:
    """``eqx.nn.Linear`` with a Xavier-uniform weight (``gain``) and PyTorch's default bias."""
    wkey, lkey = jax.random.split(key)
    layer = eqx.nn.Linear(in_dim, out_dim, use_bias=bias, key=lkey)  # bias ~ U(+-1/sqrt(in_dim))
    limit = gain * math.sqrt(6.0 / (in_dim + out_dim))
    weight = jax.random.uniform(wkey, (out_dim, in_dim), layer.weight.dtype, -limit, limit)
    return eqx.tree_at(lambda lin: lin.weight, layer, weight)


def _dense(layer: eqx.nn.Linear, x: Float[Array, "n in"]) -> Float[Array, "n out"]:
    """Apply an (unbatched) linear layer to every row of ``x``."""
    return jax.vmap(layer)(x)


def _keys(key: PRNGKeyArray | None, n: int) -> list:
    return [None] * n if key is None else list(jax.random.split(key, n))


def _need_key(key, inference: bool, where: str):
    if key is None and not inference:
        raise ValueError(f"{where}: key is required when dropout is active (inference=False)")


def _finite(x: Array, name: str) -> Array:
    return eqx.error_if(x, ~jnp.all(jnp.isfinite(x)), f"{name} must be finite (no NaN/inf)")


def _check_points(x, name: str, dim: int, dim_name: str, n: int | None = None, n_name: str = "",
                  allow_vector: bool = False) -> Array:
    """``x`` as an ``(n, dim)`` float array; ``allow_vector`` accepts ``(n,)`` when ``dim == 1``."""
    x = jnp.asarray(x)
    if allow_vector and dim == 1 and x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[1] != dim:
        hint = " (the model is unbatched: use jax.vmap over functions)" if x.ndim == 3 else ""
        raise ValueError(f"{name} must have shape (n, {dim_name}) = (n, {dim}), got {x.shape}{hint}")
    if n is not None and x.shape[0] != n:
        raise ValueError(f"{name} has {x.shape[0]} points but {n_name} has {n}: shapes {x.shape} vs ({n}, ...)")
    if x.shape[0] < 1:
        raise ValueError(f"{name} needs at least one point, got shape {x.shape}")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.result_type(float))
    return _finite(x, name)


def _positive_int(v, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ValueError(f"{name} must be a positive integer, got {v!r}")
    return int(v)


def _gaussian_nll(y, mean, std):
    """``-log N(y; mean, std^2)`` elementwise."""
    return 0.5 * ((y - mean) / std) ** 2 + jnp.log(std) + 0.5 * _LOG_2PI


def _kl_diag(mu_q, log_var_q, mu_p, log_var_p):
    """``KL(N(mu_q, e^log_var_q) || N(mu_p, e^log_var_p))`` summed over dimensions."""
    return 0.5 * jnp.sum(jnp.exp(log_var_q - log_var_p) + (mu_q - mu_p) ** 2 * jnp.exp(-log_var_p)
                         - 1.0 + log_var_p - log_var_q)


# --- building blocks --------------------------------------------------------------------------
class Attention(eqx.Module):
    """Multi-head attention block with residual connection and LayerNorm (unbatched).

    ``out = LayerNorm(query + Dropout(Linear([query, MHA(query, key, value)])))`` with
    bias-free Q/K/V maps ``hidden -> hidden``, ``heads`` heads of ``hidden // heads`` dims and
    dropout on the attention weights.
    """

    encoder_key: eqx.nn.Linear
    encoder_value: eqx.nn.Linear
    encoder_query: eqx.nn.Linear
    final_linear: eqx.nn.Linear
    layer_norm: eqx.nn.LayerNorm
    attn_dropout: eqx.nn.Dropout
    residual_dropout: eqx.nn.Dropout
    heads: int = eqx.field(static=True)

    def __init__(self, hidden: int, heads: int, dropout: float, *, key: PRNGKeyArray):
        kk, kv, kq, kf = jax.random.split(key, 4)
        self.encoder_key = _linear(hidden, hidden, bias=False, key=kk)
        self.encoder_value = _linear(hidden, hidden, bias=False, key=kv)
        self.encoder_query = _linear(hidden, hidden, bias=False, key=kq)
        self.final_linear = _linear(2 * hidden, hidden, key=kf)
        self.layer_norm = eqx.nn.LayerNorm(hidden)  # eps 1e-5, weight 1, bias 0 (as torch)
        self.attn_dropout = eqx.nn.Dropout(dropout)
        self.residual_dropout = eqx.nn.Dropout(dropout)
        self.heads = heads

    def __call__(
        self,
        keys: Float[Array, "nk h"],
        values: Float[Array, "nk h"],
        query: Float[Array, "nq h"],
        *,
        key: PRNGKeyArray | None = None,
        inference: bool = True,
    ) -> Float[Array, "nq h"]:
        """Attend from ``query`` ``(nq, h)`` to ``keys``/``values`` ``(nk, h)``; returns ``(nq, h)``."""
        k_attn, k_res = _keys(key, 2)
        nk, h = keys.shape
        nq = query.shape[0]
        dh = h // self.heads
        k = _dense(self.encoder_key, keys).reshape(nk, self.heads, dh)
        v = _dense(self.encoder_value, values).reshape(nk, self.heads, dh)
        q = _dense(self.encoder_query, query).reshape(nq, self.heads, dh)
        weights = jax.nn.softmax(jnp.einsum("qhd,khd->hqk", q, k) / math.sqrt(dh), axis=-1)
        weights = self.attn_dropout(weights, key=k_attn, inference=inference)
        out = jnp.einsum("hqk,khd->qhd", weights, v).reshape(nq, h)
        out = _dense(self.final_linear, jnp.concatenate([query, out], axis=-1))
        out = self.residual_dropout(out, key=k_res, inference=inference)
        return jax.vmap(self.layer_norm)(out + query)


class LatentEncoder(eqx.Module):
    """``q(z | x, y)``: projection, 2 self-attention blocks, mean pool, ReLU layer, two heads.

    Returns ``(mu, log_var)``, each ``(latent,)``. (The reference calls the second head
    ``log_sigma`` but uses it as a log-variance.)"""

    input_projection: eqx.nn.Linear
    self_attentions: tuple[Attention, ...]
    penultimate_layer: eqx.nn.Linear
    mu: eqx.nn.Linear
    log_sigma: eqx.nn.Linear

    def __init__(self, x_dim, y_dim, hidden, latent, heads, dropout, *, key):
        k_in, k_a1, k_a2, k_pen, k_mu, k_ls = jax.random.split(key, 6)
        self.input_projection = _linear(x_dim + y_dim, hidden, key=k_in)
        self.self_attentions = tuple(Attention(hidden, heads, dropout, key=k) for k in (k_a1, k_a2))
        self.penultimate_layer = _linear(hidden, hidden, gain=math.sqrt(2.0), key=k_pen)
        self.mu = _linear(hidden, latent, key=k_mu)
        self.log_sigma = _linear(hidden, latent, key=k_ls)

    def __call__(self, x: Float[Array, "n x_dim"], y: Float[Array, "n y_dim"], *, key=None, inference=True):
        s = _dense(self.input_projection, jnp.concatenate([x, y], axis=-1))
        for attention, k in zip(self.self_attentions, _keys(key, len(self.self_attentions))):
            s = attention(s, s, s, key=k, inference=inference)
        hidden = jax.nn.relu(self.penultimate_layer(jnp.mean(s, axis=0)))
        return self.mu(hidden), self.log_sigma(hidden)


class DeterministicEncoder(eqx.Module):
    """Deterministic path: self-attention over the context, cross-attention from the targets.

    :meth:`encode_context` gives the keys and values ``(nc, h)`` (independent of the targets);
    :meth:`cross_attend` gives ``r`` ``(nt, h)`` for target inputs ``(nt, x_dim)``."""

    input_projection: eqx.nn.Linear
    self_attentions: tuple[Attention, ...]
    context_projection: eqx.nn.Linear
    target_projection: eqx.nn.Linear
    cross_attentions: tuple[Attention, ...]

    def __init__(self, x_dim, y_dim, hidden, heads, dropout, *, key):
        ks = jax.random.split(key, 7)
        self.input_projection = _linear(x_dim + y_dim, hidden, key=ks[0])
        self.self_attentions = tuple(Attention(hidden, heads, dropout, key=k) for k in ks[1:3])
        self.context_projection = _linear(x_dim, hidden, key=ks[3])
        self.target_projection = _linear(x_dim, hidden, key=ks[4])
        self.cross_attentions = tuple(Attention(hidden, heads, dropout, key=k) for k in ks[5:7])

    def encode_context(self, x, y, *, key=None, inference=True):
        values = _dense(self.input_projection, jnp.concatenate([x, y], axis=-1))
        for attention, k in zip(self.self_attentions, _keys(key, len(self.self_attentions))):
            values = attention(values, values, values, key=k, inference=inference)
        return _dense(self.context_projection, x), values

    def cross_attend(self, keys, values, target_x, *, key=None, inference=True):
        query = _dense(self.target_projection, target_x)
        for attention, k in zip(self.cross_attentions, _keys(key, len(self.cross_attentions))):
            query = attention(keys, values, query, key=k, inference=inference)
        return query


class Decoder(eqx.Module):
    """``(r (nt, h), z (d,), target_x (nt, x_dim)) -> (mean, std)``, each ``(nt, y_dim)``."""

    target_projection: eqx.nn.Linear
    linears: tuple[eqx.nn.Linear, ...]
    final_projection: eqx.nn.Linear
    min_sigma: float = eqx.field(static=True)

    def __init__(self, x_dim, y_dim, hidden, latent, min_sigma, *, key):
        ks = jax.random.split(key, 5)
        width = 2 * hidden + latent
        self.target_projection = _linear(x_dim, hidden, key=ks[0])
        self.linears = tuple(_linear(width, width, gain=math.sqrt(2.0), key=k) for k in ks[1:4])
        self.final_projection = _linear(width, 2 * y_dim, key=ks[4])
        self.min_sigma = min_sigma

    def __call__(self, r, z, target_x):
        x_proj = _dense(self.target_projection, target_x)
        hidden = jnp.concatenate([r, jnp.broadcast_to(z, (r.shape[0], z.shape[-1])), x_proj], axis=-1)
        for layer in self.linears:
            hidden = jax.nn.relu(_dense(layer, hidden))
        out = _dense(self.final_projection, hidden)
        mean, raw = jnp.split(out, 2, axis=-1)
        return mean, jax.nn.softplus(raw) + self.min_sigma


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


def moment_match(samples: DiagonalGaussian, *, ddof: int = 0) -> DiagonalGaussian:
    """Moment-match an equally weighted mixture of Gaussians stacked on the leading axis.

    Args:
        samples: per-sample Gaussians with ``mean``/``variance`` of shape ``(S, *shape)`` (e.g.
            from :meth:`ANP.sample_predictions`, possibly after a per-sample constraint).
        ddof: 0 for the exact mixture moments; 1 reproduces the reference code's unbiased
            ``torch.var`` of the means. With ``S == 1`` the between-sample term is 0.

    Returns:
        ``DiagonalGaussian`` of shape ``shape``: mean = average of the means, variance =
        average of the variances + variance of the means.
    """
    means, variances = samples.mean, samples.variance
    s = means.shape[0]
    between = jnp.zeros_like(means[0]) if s == 1 else jnp.var(means, axis=0, ddof=ddof)
    return DiagonalGaussian(jnp.mean(means, axis=0), jnp.mean(variances, axis=0) + between)


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
        """One function's ``(nll, kl)`` as in the reference training step.

        ``z`` is drawn from the **target-only** posterior ``q(z | target_x, target_y)``;
        ``nll = -sum_targets log N(target_y | mu, sigma)`` (summed over ``y_dim`` too) and
        ``kl = KL(q(z | targets) || q(z | context))`` summed over latent dimensions. Dropout is
        on unless ``inference=True`` (the reference's validation loss, computed in ``eval()``
        mode).
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
        nll = jnp.sum(_gaussian_nll(ty, mean, std))
        kl = _kl_diag(mu_q, log_var_q, mu_p, log_var_p)
        return nll, kl


_BATCH_KEYS = ("context_x", "context_y", "target_x", "target_y")


def elbo_loss(
    model: ANP,
    batch: Mapping[str, ArrayLike],
    key: PRNGKeyArray,
    *,
    reduction: Literal["sum", "mean"] = "sum",
    inference: bool = False,
) -> tuple[Float[Array, ""], dict[str, Float[Array, ""]]]:
    """The ANP training loss of the ProbConserv reference code, for :func:`physcon.train.fit`.

    ``loss = -sum_{b, targets} log N(target_y | mu, sigma) + sum_b KL(q(z | targets_b) || q(z | context_b))``
    with ``z`` drawn from the target-only posterior and dropout on (training mode).

    Args:
        model: an :class:`ANP`.
        batch: dict with ``context_x`` ``(B, nc, x_dim)``, ``context_y`` ``(B, nc, y_dim)``,
            ``target_x`` ``(B, nt, x_dim)``, ``target_y`` ``(B, nt, y_dim)`` (``y_dim == 1``
            may drop the last axis).
        key: PRNG key (split over the batch: latent draws and dropout masks).
        reduction: ``"sum"`` (the reference; its scale grows with ``B * nt``) or ``"mean"``:
            the same loss divided by ``B * nt`` (per target point; same minimiser, step sizes
            independent of batch and target counts).
        inference: ``True`` turns dropout off (the reference's validation loss).

    Returns:
        ``(loss, {"nll": nll, "kl": kl})`` (use ``has_aux=True`` with ``fit``); ``nll`` and
        ``kl`` are the two terms under the same reduction, ``loss = nll + kl``.
    """
    if reduction not in ("sum", "mean"):
        raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")
    missing = [k for k in _BATCH_KEYS if k not in batch]
    if missing:
        raise ValueError(f"batch is missing {missing}; it needs the keys {list(_BATCH_KEYS)}")
    arrays = [jnp.asarray(batch[k]) for k in _BATCH_KEYS]
    for name, a in zip(_BATCH_KEYS, arrays):
        if a.ndim not in (2, 3):
            raise ValueError(f"batch[{name!r}] must have shape (B, n, dim), got {a.shape}")
    b = arrays[0].shape[0]
    for name, a in zip(_BATCH_KEYS, arrays):
        if a.shape[0] != b:
            raise ValueError(f"batch[{name!r}] has batch size {a.shape[0]}, batch['context_x'] has {b}")
    keys = jax.random.split(key, b)
    nll, kl = jax.vmap(lambda cx, cy, tx, ty, k: model.elbo_terms(cx, cy, tx, ty, key=k, inference=inference))(
        *arrays, keys
    )
    nll, kl = jnp.sum(nll), jnp.sum(kl)
    if reduction == "mean":
        scale = 1.0 / (b * arrays[2].shape[1])
        nll, kl = nll * scale, kl * scale
    return nll + kl, {"nll": nll, "kl": kl}


# --- PyTorch state dicts ----------------------------------------------------------------------
def _torch_names(model: ANP):
    """``(names, leaves, treedef)`` of the model's arrays, named like the reference state dict."""
    params, _ = eqx.partition(model, eqx.is_array)
    leaves_with_path, treedef = jax.tree_util.tree_flatten_with_path(params)
    names = []
    for path, _leaf in leaves_with_path:
        parts = []
        for p in path:
            parts.append(str(p.name) if hasattr(p, "name") else str(p.idx))
        if parts[-2] != "layer_norm":  # the reference's Linear wraps nn.Linear as .linear_layer
            parts.insert(-1, "linear_layer")
        names.append(".".join(parts))
    return names, [leaf for _, leaf in leaves_with_path], treedef


def state_dict(model: ANP) -> dict[str, np.ndarray]:
    """The model's arrays as NumPy, keyed like the reference's PyTorch ``state_dict``."""
    names, leaves, _ = _torch_names(model)
    return {n: np.asarray(leaf) for n, leaf in zip(names, leaves)}


def load_state_dict(model: ANP, state: Mapping[str, ArrayLike], *, prefix: str = "") -> ANP:
    """A copy of ``model`` with the arrays of a reference-code ``state_dict``.

    Args:
        model: an :class:`ANP` of the matching configuration (the skeleton).
        state: ``{name: array}`` with the reference's keys (e.g.
            ``"latent_encoder.input_projection.linear_layer.weight"``); convert torch tensors
            with ``.numpy()`` first. Keys not starting with ``prefix`` are ignored.
        prefix: prefix of the model's keys in ``state`` (e.g. ``"model."``).

    Raises:
        ValueError: missing keys or mismatched shapes (all listed).
    """
    names, leaves, treedef = _torch_names(model)
    problems, new = [], []
    for name, leaf in zip(names, leaves):
        full = prefix + name
        if full not in state:
            problems.append(f"missing {full!r}")
            new.append(leaf)
            continue
        value = np.asarray(state[full])
        if value.shape != leaf.shape:
            problems.append(f"{full!r}: shape {value.shape}, model has {leaf.shape}")
        new.append(jnp.asarray(value, leaf.dtype))
    if problems:
        raise ValueError("state does not match the model: " + "; ".join(problems))
    params = jax.tree_util.tree_unflatten(treedef, new)
    _, static = eqx.partition(model, eqx.is_array)
    return eqx.combine(params, static)


__all__ = [
    "ANP", "ANPEncoding", "Attention", "Decoder", "DeterministicEncoder", "LatentEncoder",
    "elbo_loss", "load_state_dict", "moment_match", "state_dict",
]
