"""Fourier Neural Operator (Li et al., ICLR 2021) in 1, 2 and 3 dimensions, as in the BOON code.

The architecture, initialisation and mode convention follow the original FNO code
(``zongyi-li/fourier_neural_operator``), which the BOON code (``amazon-science/boon``,
``src/models/base/FNO{1,2,3}d.py``) copies:

* **Lifting** ``P``: pointwise ``Linear(in_channels [+ n_dim grid channels] -> width)``.
* **Padding**: zero padding at the *right* end of each axis (a fraction of the resolution, so
  the same model works at any resolution), cropped again after the Fourier layers.
* ``n_layers`` **Fourier layers** ``v <- act(K v + W v)``: ``K`` a :class:`SpectralConv`, ``W``
  a pointwise linear (both in :mod:`physcon.models.fno_layers`) (the 1x1 convolution, with bias); no activation after the last layer.
* **Projection** ``Q``: pointwise ``Linear(width -> 128)``, activation, ``Linear(128 -> out)``.

Everything is unbatched and channel-first: ``(in_channels, *grid) -> (out_channels, *grid)``
with ``len(grid) == n_dim``; ``jax.vmap`` batches.

**Mode convention.** ``modes = m`` keeps, per axis, what the original FNO keeps: along the last
axis (the ``rfft`` axis) the frequencies ``0 .. m-1``; along every other axis the ``m`` lowest
non-negative *and* the ``m`` most negative frequencies ``0 .. m-1, -m .. -1``. A layer therefore
holds ``2**(n_dim-1)`` blocks of ``in x out x m**n_dim`` complex weights. neuraloperator 2.x
counts ``n_modes`` over the full FFT axis instead: its ``n_modes=(a, b)`` keeps ``a`` frequencies
``-a//2 .. a//2 - 1`` on the first axis and ``b//2 + 1`` on the last, so the original
``modes=m`` corresponds to ``n_modes = (2m, ..., 2m, 2m - 1 or 2m - 2)``, roughly ``2m`` per
axis (``n_modes=16`` in 1-D keeps only 9 modes).

**Weights** are real pairs (``weight_real``, ``weight_imag``) of shape
``(in, out, 2 m_1, ..., 2 m_{d-1}, m_d)``: the original's blocks concatenated (``weights1`` is
``[..., :m_1, ..., :m_{d-1}, :]``, ``weights2`` the block with the first axis in the negative
half ``[..., m_1:, :m_2, ...]``, and so on). Initialisation as the original: ``(1 / (in * out))
* U[0, 1)`` for both parts; linear layers use PyTorch's default ``U(+-1/sqrt(fan_in))`` for
weight and bias.

**Parameter counts** of the BOON configurations (the model's inexact leaves):

====== ===================================================== =========== ============
n_dim  configuration                                         this model  published
====== ===================================================== =========== ============
1      ``modes=16, width=64``, in ``(a, x)`` = 2, out 1      549,569     549,569
2      ``modes=12, width=32``, in ``(a, x, t)`` = 3, out 1   2,368,001   2,368,001
3      ``modes=8, width=20``, in ``(a, x, y, t)`` = 4, out 1 6,558,197   6,558,357
====== ===================================================== =========== ============

The 3-D difference (160) is the four ``BatchNorm3d(20)`` layers (``2 * 20`` parameters each)
that the original FNO3d defines but never uses; they are not part of this model.
``grid=True`` appends the ``linspace(0, 1)`` coordinates of each axis (both ends included, as
the original ``get_grid``) so that the data need only carry ``a`` (``in_channels=1``).

**Spectral paths.** ``spectral="fft"`` uses ``jnp.fft.rfftn``/``irfftn`` and truncates;
``spectral="dft"`` evaluates only the kept modes as matrix products with DFT matrices built (in
float64 NumPy, cached per grid size) for the grid size seen at call time, and the inverse as
the matching truncated real inverse DFT. Both are the same linear map; they agree to round-off.
``spectral="auto"`` (default) picks ``"dft"`` for every ``n_dim``. Measured on this shared
2-core CPU (float32, batch 20 under ``jax.vmap`` + ``eqx.filter_jit``, median ms, two runs):

=========================================== ============= ============= =============
configuration                               path          forward       grad of MSE
=========================================== ============= ============= =============
1-D ``n=1024, width=64, modes=16``          fft           28.5 / 38.2   133 / 160
                                            dft           34.4 / 42.4   127 / 130
1-D, one :class:`SpectralConv` alone        fft / dft     3.8 / 1.25
2-D ``64x64, width=32, modes=12``           fft           117 / 123     379 / 392
                                            dft           88 / 88       345 / 329
=========================================== ============= ============= =============

The spectral convolution itself is about 3x faster as a truncated DFT in 1-D; the whole 1-D
forward pass is dominated by the pointwise layers and GELU, where the two paths are within the
machine's noise (training steps favour the DFT). 3-D was not measured; ``auto`` uses the DFT
there too (its cost grows with ``modes / n`` per axis, so prefer ``"fft"`` when the kept modes
are a large fraction of the grid).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

# the layers live in fno_layers; their private DFT helpers stay importable from here
# (physcon.constraints uses them to eliminate a layer's spectral response)
from physcon.models.fno_layers import (  # noqa: F401
    _ACTIVATIONS,
    _SPECTRAL,
    Pointwise,
    SpectralConv,
    _check_modes,
    _choice,
    _dft_forward,
    _dft_inverse,
    _per_axis_fraction,
    _per_axis_int,
    _positive_int,
    _synthesize_axes,
    gelu,
)

__all__ = ["FNO", "SpectralConv", "Pointwise"]


# --- the model --------------------------------------------------------------------------------
class FNO(eqx.Module):
    """Fourier Neural Operator as in the original FNO / BOON code (see the module docstring).

    Unbatched, channel-first: ``x`` of shape ``(in_channels, *grid)`` with ``n_dim`` grid axes
    ``-> (out_channels, *grid)``. Any grid size works at call time (zero-shot super-resolution)
    as long as the (padded) size keeps the modes: ``modes <= n // 2 + 1`` on the last axis and
    ``2 * modes <= n`` on the others.

    Args:
        n_dim: number of grid axes, 1 (x), 2 (x, t) or 3 (x, y, t).
        in_channels: input channels of the data (without the grid channels of ``grid=True``).
        out_channels: output channels.
        modes: Fourier modes kept per axis (an int or one per axis), original FNO convention.
        width: channels of the Fourier layers.
        n_layers: number of Fourier layers (4 in the paper).
        lifting: ``None`` for the original single pointwise linear ``in -> width``; an int ``h``
            for a two-layer lifting ``in -> h -> width`` with the activation in between.
        projection: hidden size of the projection ``width -> projection -> out`` (128 in the
            paper); ``None`` for a single linear ``width -> out``.
        padding: zero padding appended at the right end of each axis before the Fourier layers,
            as a fraction of that axis' size (``ceil(padding * n)`` points; a number or one per
            axis; 0 for periodic problems), cropped afterwards.
        activation: ``"gelu"`` (exact, as PyTorch's default) or ``"gelu_tanh"``.
        spectral: default spectral path, ``"fft"``, ``"dft"`` or ``"auto"`` (``"dft"``; see the
            module docstring for the timings); can be overridden per call.
        grid: if True, append the ``linspace(0, 1, n)`` coordinates of every axis as extra input
            channels (the lifting then takes ``in_channels + n_dim``).
        key: PRNG key for the initialisation.
    """

    lifting: tuple[Pointwise, ...]
    spectral_convs: tuple[SpectralConv, ...]
    pointwise: tuple[Pointwise, ...]
    projection: tuple[Pointwise, ...]
    n_dim: int = eqx.field(static=True)
    in_channels: int = eqx.field(static=True)
    out_channels: int = eqx.field(static=True)
    modes: tuple[int, ...] = eqx.field(static=True)
    width: int = eqx.field(static=True)
    padding: tuple[float, ...] = eqx.field(static=True)
    activation: str = eqx.field(static=True)
    spectral: str = eqx.field(static=True)
    grid: bool = eqx.field(static=True)

    def __init__(
        self,
        n_dim: int,
        in_channels: int,
        out_channels: int,
        modes: int | Sequence[int],
        width: int,
        *,
        n_layers: int = 4,
        lifting: int | None = None,
        projection: int | None = 128,
        padding: float | Sequence[float] = 0.0,
        activation: Literal["gelu", "gelu_tanh"] = "gelu",
        spectral: Literal["fft", "dft", "auto"] = "auto",
        grid: bool = False,
        key: PRNGKeyArray,
    ):
        n_dim = _positive_int(n_dim, "n_dim")
        if n_dim not in (1, 2, 3):
            raise ValueError(f"n_dim must be 1, 2 or 3, got {n_dim!r}")
        in_channels = _positive_int(in_channels, "in_channels")
        out_channels = _positive_int(out_channels, "out_channels")
        modes = _per_axis_int(modes, "modes", n_dim)
        width = _positive_int(width, "width")
        n_layers = _positive_int(n_layers, "n_layers")
        if lifting is not None:
            lifting = _positive_int(lifting, "lifting")
        if projection is not None:
            projection = _positive_int(projection, "projection")
        padding = _per_axis_fraction(padding, "padding", n_dim)
        activation = _choice(activation, "activation", _ACTIVATIONS)
        spectral = _choice(spectral, "spectral", _SPECTRAL)
        if not isinstance(grid, bool):
            raise ValueError(f"grid must be a bool, got {grid!r}")

        k_lift, k_spec, k_w, k_proj = jax.random.split(key, 4)
        c_in = in_channels + (n_dim if grid else 0)
        lift_sizes = [c_in, width] if lifting is None else [c_in, lifting, width]
        proj_sizes = [width, out_channels] if projection is None else [width, projection, out_channels]
        self.lifting = tuple(Pointwise(a, b, key=k) for a, b, k in
                             zip(lift_sizes[:-1], lift_sizes[1:], jax.random.split(k_lift, len(lift_sizes) - 1)))
        self.spectral_convs = tuple(SpectralConv(width, width, modes, n_dim=n_dim, key=k)
                                    for k in jax.random.split(k_spec, n_layers))
        self.pointwise = tuple(Pointwise(width, width, key=k) for k in jax.random.split(k_w, n_layers))
        self.projection = tuple(Pointwise(a, b, key=k) for a, b, k in
                                zip(proj_sizes[:-1], proj_sizes[1:], jax.random.split(k_proj, len(proj_sizes) - 1)))
        self.n_dim, self.in_channels, self.out_channels = n_dim, in_channels, out_channels
        self.modes, self.width, self.padding = modes, width, padding
        self.activation, self.spectral, self.grid = activation, spectral, grid

    @property
    def n_layers(self) -> int:
        return len(self.spectral_convs)

    def _act(self, x):
        return jax.nn.gelu(x, approximate=True) if self.activation == "gelu_tanh" else gelu(x)

    def _mlp(self, layers, x):
        for i, layer in enumerate(layers):
            x = layer(x)
            if i < len(layers) - 1:
                x = self._act(x)
        return x

    def pad_sizes(self, grid: Sequence[int]) -> tuple[int, ...]:
        """Zero points appended per axis for a grid of the given size: ``ceil(padding * n)``."""
        return tuple(int(math.ceil(p * n - 1e-9)) if p > 0 else 0 for p, n in zip(self.padding, grid))

    def __call__(self, x: Float[Array, "in_channels *grid"],
                 spectral: Literal["fft", "dft", "auto"] | None = None
                 ) -> Float[Array, "out_channels *grid"]:
        """Apply the operator to one sample ``(in_channels, *grid)``; returns ``(out_channels, *grid)``.

        ``spectral`` overrides the model's default spectral path for this call.
        """
        spectral = self.spectral if spectral is None else _choice(spectral, "spectral", _SPECTRAL)
        x = jnp.asarray(x)
        if x.ndim != self.n_dim + 1 or x.shape[0] != self.in_channels:
            raise ValueError(
                f"x must have shape (in_channels={self.in_channels}, *grid) with n_dim={self.n_dim} "
                f"grid axes, got {x.shape}")
        if not jnp.issubdtype(x.dtype, jnp.floating):
            x = x.astype(self.lifting[0].weight.dtype)
        grid = x.shape[1:]
        pads = self.pad_sizes(grid)
        _check_modes(tuple(n + p for n, p in zip(grid, pads)), self.modes)
        if self.grid:
            coords = jnp.meshgrid(*(jnp.linspace(0.0, 1.0, n, dtype=x.dtype) for n in grid), indexing="ij")
            x = jnp.concatenate([x, jnp.stack(coords)], axis=0)
        v = self._mlp(self.lifting, x)
        if any(pads):
            v = jnp.pad(v, [(0, 0)] + [(0, p) for p in pads])
        for i, (conv, w) in enumerate(zip(self.spectral_convs, self.pointwise)):
            v = conv(v, spectral) + w(v)
            if i < self.n_layers - 1:
                v = self._act(v)
        if any(pads):
            v = v[(slice(None), *(slice(0, n) for n in grid))]
        return self._mlp(self.projection, v)
