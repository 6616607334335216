"""Fourier Neural Operator (Li et al., ICLR 2021) in 1, 2 and 3 dimensions, as in the BOON code.

The architecture, initialisation and mode convention follow the original FNO code
(``zongyi-li/fourier_neural_operator``), which the BOON code (``amazon-science/boon``,
``src/models/base/FNO{1,2,3}d.py``) copies:

* **Lifting** ``P``: pointwise ``Linear(in_channels [+ n_dim grid channels] -> width)``.
* **Padding**: zero padding at the *right* end of each axis (a fraction of the resolution, so
  the same model works at any resolution), cropped again after the Fourier layers.
* ``n_layers`` **Fourier layers** ``v <- act(K v + W v)``: ``K`` a :class:`SpectralConv`, ``W``
  a pointwise linear (the 1x1 convolution, with bias); no activation after the last layer.
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

import functools
import math
from collections.abc import Sequence
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

__all__ = ["FNO", "SpectralConv", "Pointwise"]

_SPECTRAL = ("fft", "dft", "auto")
_ACTIVATIONS = ("gelu", "gelu_tanh")


# --- checks -----------------------------------------------------------------------------------
def _positive_int(v, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ValueError(f"{name} must be a positive integer, got {v!r}")
    return int(v)


def _per_axis_int(v, name: str, n_dim: int) -> tuple[int, ...]:
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        v = (v,) * n_dim
    if not isinstance(v, Sequence) or len(v) != n_dim:
        raise ValueError(f"{name} must be a positive integer or a sequence of {n_dim}, got {v!r}")
    return tuple(_positive_int(m, name) for m in v)


def _per_axis_fraction(v, name: str, n_dim: int) -> tuple[float, ...]:
    if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
        v = (v,) * n_dim
    if not isinstance(v, Sequence) or len(v) != n_dim:
        raise ValueError(f"{name} must be a number >= 0 or a sequence of {n_dim}, got {v!r}")
    out = []
    for p in v:
        if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)):
            raise ValueError(f"{name} must be finite and >= 0, got {v!r}")
        if not (math.isfinite(float(p)) and float(p) >= 0.0):
            raise ValueError(f"{name} must be finite and >= 0, got {v!r}")
        out.append(float(p))
    return tuple(out)


def _choice(v, name: str, allowed: tuple[str, ...]) -> str:
    if v not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {v!r}")
    return v


def _kept_freqs(n: int, m: int, last: bool) -> np.ndarray:
    """Integer frequencies kept along one axis of size ``n`` (see the module docstring)."""
    return np.arange(m) if last else np.concatenate([np.arange(m), np.arange(-m, 0)])


def _check_modes(grid: tuple[int, ...], modes: tuple[int, ...]) -> None:
    for a, (n, m) in enumerate(zip(grid, modes)):
        last = a == len(grid) - 1
        limit = n // 2 + 1 if last else n // 2
        if m > limit:
            what = "n // 2 + 1 (rfft axis)" if last else "n // 2 (m positive and m negative)"
            raise ValueError(
                f"modes={m} on axis {a} exceeds {what} = {limit} for the (padded) grid size n={n}"
            )


# --- DFT matrices (cached, float64 NumPy) -----------------------------------------------------
@functools.lru_cache(maxsize=128)
def _dft_forward(n: int, m: int, last: bool) -> tuple[np.ndarray, np.ndarray]:
    """``F[j, k] = exp(-2 pi i f_k j / n)`` as (cos, -sin) parts, shape ``(n, k)``."""
    f = _kept_freqs(n, m, last)
    ang = 2.0 * np.pi * (np.outer(np.arange(n), f) % n) / n
    return np.cos(ang), -np.sin(ang)


@functools.lru_cache(maxsize=128)
def _dft_inverse(n: int, m: int, last: bool) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of the kept modes, shape ``(k, n)``: ``exp(2 pi i f_k j / n) / n`` (complex axes);
    on the rfft axis the real-output weights ``c_k / n`` with ``c_0 = 1``, ``c_{n/2} = 1``
    (even ``n``), ``c_k = 2`` otherwise, so that ``Re(sum_k ...)`` equals ``irfft``."""
    f = _kept_freqs(n, m, last)
    ang = 2.0 * np.pi * (np.outer(f, np.arange(n)) % n) / n
    c = np.ones(len(f)) / n
    if last:
        c = np.where((f == 0) | (2 * f == n), 1.0, 2.0) / n
    return c[:, None] * np.cos(ang), c[:, None] * np.sin(ang)


_LETTERS = "abcdefgh"


def _apply_axis(x, mat, axis):
    """Contract array axis ``axis`` of ``x`` with the first axis of the 2-D ``mat``."""
    idx = _LETTERS[: x.ndim]
    out = idx[:axis] + "z" + idx[axis + 1:]
    return jnp.einsum(f"{idx},{idx[axis]}z->{out}", x, mat)


def _fwd_axis(xr, xi, mats, axis, dtype):
    """Apply the complex matrix ``mats = (real, imag)`` along ``axis`` of (real, imag) parts
    (``xi`` may be None) with one real product: ``[xr, xi] @ [[cr, ci], [-ci, cr]]``."""
    cr, ci = mats
    k = cr.shape[1]
    if xi is None:
        y = _apply_axis(xr, jnp.asarray(np.concatenate([cr, ci], 1), dtype), axis)
    else:
        big = np.block([[cr, ci], [-ci, cr]])
        y = _apply_axis(jnp.concatenate([xr, xi], axis), jnp.asarray(big, dtype), axis)
    return jax.lax.slice_in_dim(y, 0, k, axis=axis), jax.lax.slice_in_dim(y, k, 2 * k, axis=axis)


def _synthesize_axes(yr, yi, inv, dtype):
    """Apply the inverse matrices ``inv`` (one ``(real, imag)`` pair per trailing axis of
    ``yr``/``yi``, axes ``1..``): complex axes first, then the real-output rfft axis (last)."""
    d = len(inv)
    for a in range(d - 1):
        yr, yi = _fwd_axis(yr, yi, inv[a], a + 1, dtype)
    cr, ci = inv[-1]
    return _apply_axis(jnp.concatenate([yr, yi], d), jnp.asarray(np.concatenate([cr, -ci], 0), dtype), d)


# --- layers -----------------------------------------------------------------------------------
class Pointwise(eqx.Module):
    """Pointwise (1x1) linear map on channel-first fields: ``(in, *grid) -> (out, *grid)``.

    PyTorch-default initialisation: weight and bias ``U(-1/sqrt(in), 1/sqrt(in))``.
    """

    weight: Float[Array, "out in"]
    bias: Float[Array, " out"]

    def __init__(self, in_channels: int, out_channels: int, *, key: PRNGKeyArray):
        in_channels = _positive_int(in_channels, "in_channels")
        out_channels = _positive_int(out_channels, "out_channels")
        kw, kb = jax.random.split(key)
        bound = 1.0 / math.sqrt(in_channels)
        self.weight = jax.random.uniform(kw, (out_channels, in_channels), minval=-bound, maxval=bound)
        self.bias = jax.random.uniform(kb, (out_channels,), minval=-bound, maxval=bound)

    def __call__(self, x: Float[Array, "in *grid"]) -> Float[Array, "out *grid"]:
        y = jnp.tensordot(self.weight, x, axes=1)
        return y + self.bias.reshape((-1,) + (1,) * (x.ndim - 1))


class SpectralConv(eqx.Module):
    """Spectral convolution ``irfftn(R * truncate(rfftn(v)))`` of the original FNO.

    ``(in_channels, *grid) -> (out_channels, *grid)``; ``R`` keeps the modes described in the
    module docstring, stored as ``weight_real``/``weight_imag`` of shape
    ``(in, out, 2 m_1, ..., 2 m_{d-1}, m_d)``, initialised ``(1/(in*out)) * U[0, 1)``.
    """

    weight_real: Float[Array, "in out *modes"]
    weight_imag: Float[Array, "in out *modes"]
    modes: tuple[int, ...] = eqx.field(static=True)

    def __init__(self, in_channels: int, out_channels: int, modes: int | Sequence[int], *,
                 n_dim: int | None = None, key: PRNGKeyArray):
        in_channels = _positive_int(in_channels, "in_channels")
        out_channels = _positive_int(out_channels, "out_channels")
        if n_dim is None:
            n_dim = 1 if isinstance(modes, (int, np.integer)) else len(modes)
        modes = _per_axis_int(modes, "modes", n_dim)
        shape = (in_channels, out_channels, *(2 * m for m in modes[:-1]), modes[-1])
        scale = 1.0 / (in_channels * out_channels)
        kr, ki = jax.random.split(key)
        self.weight_real = scale * jax.random.uniform(kr, shape)
        self.weight_imag = scale * jax.random.uniform(ki, shape)
        self.modes = modes

    @property
    def n_dim(self) -> int:
        return len(self.modes)

    def __call__(self, x: Float[Array, "in *grid"], spectral: Literal["fft", "dft", "auto"] = "auto"
                 ) -> Float[Array, "out *grid"]:
        spectral = _choice(spectral, "spectral", _SPECTRAL)
        d = self.n_dim
        if x.ndim != d + 1 or x.shape[0] != self.weight_real.shape[0]:
            raise ValueError(
                f"x must have shape (in_channels={self.weight_real.shape[0]}, *grid) with "
                f"{d} grid axes, got {x.shape}")
        grid = x.shape[1:]
        _check_modes(grid, self.modes)
        return self.synthesize(*self.mix(*self.spectrum(x, spectral=spectral)), grid, spectral=spectral)

    # The three stages of the layer, exposed so that a boundary correction (BOON) can work in
    # the spectrum and evaluate single rows cheaply. Kept coefficients have the layout
    # ``(channels, K_1, ..., K_d)`` with ``K_a = 2 m_a`` (frequencies ``0..m-1, -m..-1``) on
    # all axes but the last and ``K_d = m_d`` (``0..m-1``) on the last, in both paths.
    def mix(self, xr, xi):
        """Complex channel mixing ``out[o, k] = sum_i x[i, k] R[i, o, k]`` on (real, imag) parts."""
        wr, wi = self.weight_real.astype(xr.dtype), self.weight_imag.astype(xr.dtype)
        ein = functools.partial(jnp.einsum, "i...,io...->o...")
        return ein(xr, wr) - ein(xi, wi), ein(xr, wi) + ein(xi, wr)

    def spectrum(self, x: Float[Array, "c *grid"], *, grid: Sequence[int] | None = None,
                 rows: Sequence[int] | None = None, spectral: str = "auto"):
        """Kept Fourier coefficients ``(real, imag)`` of ``x``, each ``(c, K_1, ..., K_d)``.

        With ``rows``, ``x`` holds only those positions of grid axis 0 (shape
        ``(c, len(rows), *grid[1:])``) of a field of size ``grid`` that is zero elsewhere; the
        transform then costs ``len(rows) / grid[0]`` of the full one (truncated DFT).
        """
        grid = tuple(x.shape[1:]) if grid is None else tuple(grid)
        if spectral == "fft" and rows is None:
            return self._fft_spectrum(x, grid)
        d, dtype = self.n_dim, x.dtype
        fwd = [_dft_forward(n, m, a == d - 1) for a, (n, m) in enumerate(zip(grid, self.modes))]
        if rows is not None:
            rows = np.asarray(rows)
            fwd[0] = (fwd[0][0][rows], fwd[0][1][rows])
        # rfft axis first (real input), then the complex axes
        xr, xi = _fwd_axis(x, None, fwd[-1], d, dtype)
        for a in range(d - 1):
            xr, xi = _fwd_axis(xr, xi, fwd[a], a + 1, dtype)
        return xr, xi

    def synthesize(self, yr, yi, grid: Sequence[int], *, rows: Sequence[int] | None = None,
                   spectral: str = "auto") -> Float[Array, "c *grid"]:
        """The real field with kept coefficients ``(yr, yi)`` on ``grid`` (all others zero);
        with ``rows``, only those positions of grid axis 0 (truncated DFT)."""
        grid = tuple(grid)
        if spectral == "fft" and rows is None:
            return self._fft_synthesize(yr, yi, grid)
        d, dtype = self.n_dim, yr.dtype
        inv = [_dft_inverse(n, m, a == d - 1) for a, (n, m) in enumerate(zip(grid, self.modes))]
        if rows is not None:
            rows = np.asarray(rows)
            inv[0] = (inv[0][0][:, rows], inv[0][1][:, rows])
        return _synthesize_axes(yr, yi, inv, dtype)

    def _fft_spectrum(self, x, grid):
        d = self.n_dim
        xf = jnp.fft.rfftn(x, axes=tuple(range(1, d + 1)))
        for a, m in enumerate(self.modes):
            ax = a + 1
            if a == d - 1:
                xf = jax.lax.slice_in_dim(xf, 0, m, axis=ax)
            else:
                n = grid[a]
                xf = jnp.concatenate([jax.lax.slice_in_dim(xf, 0, m, axis=ax),
                                      jax.lax.slice_in_dim(xf, n - m, n, axis=ax)], axis=ax)
        return jnp.real(xf), jnp.imag(xf)

    def _fft_synthesize(self, yr, yi, grid):
        d = self.n_dim
        yf = jax.lax.complex(yr, yi)
        for a, m in enumerate(self.modes):
            ax = a + 1
            if a == d - 1:
                pad = [(0, 0)] * yf.ndim
                pad[ax] = (0, grid[a] // 2 + 1 - m)
                yf = jnp.pad(yf, pad)
            else:
                zshape = list(yf.shape)
                zshape[ax] = grid[a] - 2 * m
                yf = jnp.concatenate([jax.lax.slice_in_dim(yf, 0, m, axis=ax),
                                      jnp.zeros(zshape, yf.dtype),
                                      jax.lax.slice_in_dim(yf, m, 2 * m, axis=ax)], axis=ax)
        return jnp.fft.irfftn(yf, s=grid, axes=tuple(range(1, d + 1))).astype(yr.dtype)


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
        return jax.nn.gelu(x, approximate=self.activation == "gelu_tanh")

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
