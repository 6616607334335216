"""Building blocks of the Attentive Neural Process (:mod:`physcon.models.anp`): multi-head
attention with residual and LayerNorm, the latent and deterministic encoders and the decoder,
with the reference code's initialisation (Xavier-uniform weights, PyTorch's default biases).
Unbatched; attribute names mirror the reference's ``state_dict`` keys. Shapes: ``nc`` context
points, ``nt`` target points, ``h = hidden``, ``d = latent``.

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
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

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
