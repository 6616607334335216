"""Load and export the ANP's weights in the ProbConserv reference code's PyTorch ``state_dict``
naming (arrays as NumPy: convert torch tensors with ``.numpy()`` first)."""

from __future__ import annotations

from collections.abc import Mapping

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import ArrayLike

from physcon.models.anp import ANP


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


__all__ = ["load_state_dict", "state_dict"]
