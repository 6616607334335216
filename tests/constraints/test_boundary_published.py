"""BOON ``mode="faithful"`` equals the published forward pass (amazon-science/boon,
``BOON_FNO1d``, ``BOON_FNO2d``, ``BOON_FNO3d``) end to end, in float64, to <= 1e-10.

The reference below is written independently of physcon's layers: plain ``jnp`` FFTs and
einsums transcribing the published modules step by step (``rfftn`` with the corner blocks
``weights1..4``; the 1x1 convolution with bias; the four probe passes and three layer passes of
``gaussian_elim_layer{1,2,3}d``; the per-branch overwrites of ``{dir,neu,per}kernelcorrection``;
GELU on the published ``non_bdy`` index sets; ``strict_enforce_bdy``). Only the random weights
are shared: they are read out of a physcon FNO and rearranged into the published layout.
Cases: every condition type the published code has in each dimension (1-D and ``(x, t)``:
Dirichlet, Neumann, periodic; ``(x, y, t)``: Dirichlet on four walls, the only 3-D correction
it has), with wall data that disagree at the corners, so that the corner rule is tested.
"""

from __future__ import annotations

import itertools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import physcon as pc
from physcon.constraints import BOON
from physcon.models import FNO

gelu = lambda v: jax.nn.gelu(v, approximate=False)  # noqa: E731  (PyTorch's F.gelu is exact)


def heater(t):
    return 5.0 * jnp.sin(jnp.pi * t)


# --- the published layers, channel-first and unbatched -------------------------------------
def spectral(w, modes, x):
    """``SpectralConv{1,2,3}d.forward``: rfftn, one weight block per corner of the kept modes
    (positive/negative halves of every axis but the last), irfftn. ``w``: complex
    ``(in, out, 2 m_1, ..., m_d)`` holding ``weights1..`` side by side."""
    d = len(modes)
    axes = tuple(range(1, d + 1))
    xf = jnp.fft.rfftn(x, axes=axes)
    out = jnp.zeros((w.shape[1],) + xf.shape[1:], xf.dtype)
    for signs in itertools.product((0, 1), repeat=d - 1):
        src = tuple(slice(0, m) if s == 0 else slice(-m, None) for s, m in zip(signs, modes[:-1]))
        blk = tuple(slice(0, m) if s == 0 else slice(m, 2 * m) for s, m in zip(signs, modes[:-1]))
        src, blk = src + (slice(0, modes[-1]),), blk + (slice(None),)
        out = out.at[(slice(None),) + src].set(
            jnp.einsum("i...,io...->o...", xf[(slice(None),) + src], w[(slice(None), slice(None)) + blk]))
    return jnp.fft.irfftn(out, s=x.shape[1:], axes=axes)


def conv1x1(weight, bias, x):
    """``nn.Conv{1,2,3}d(width, width, 1)``."""
    return jnp.einsum("oi,i...->o...", weight, x) + bias.reshape((-1,) + (1,) * (x.ndim - 1))


def linear(weight, bias, x):
    """``nn.Linear`` on a channel-last field."""
    return x @ weight.T + bias


def published_layers(fno):
    """The FNO's weights in the published layout: per Fourier layer (spectral, pointwise)
    callables, plus fc0, fc1, fc2 as (weight, bias)."""
    layers = []
    for conv, w in zip(fno.spectral_convs, fno.pointwise):
        wc = np.asarray(conv.weight_real) + 1j * np.asarray(conv.weight_imag)
        layers.append((lambda x, wc=wc, m=conv.modes: spectral(jnp.asarray(wc), m, x),
                       lambda x, a=w.weight, b=w.bias: conv1x1(a, b, x)))
    lin = lambda p: (p.weight, p.bias)  # noqa: E731
    return layers, lin(fno.lifting[0]), lin(fno.projection[0]), lin(fno.projection[1])


# --- gaussian_elim_layer{1,2,3}d -------------------------------------------------------------
def probes(layer, x, read, tol, clamp):
    """K00, KN0, K0N, KNN from all-channel impulses at the first and last x row, read at
    (batch 0,) output channel 0 (and y = 0 in 3-D); the diagonal two clamped."""
    e1 = jnp.zeros_like(x).at[:, 0].set(1.0)
    en = jnp.zeros_like(x).at[:, -1].set(1.0)
    k00, kn0 = read(layer(e1), 0), read(layer(e1), -1)
    knn, k0n = read(layer(en), -1), read(layer(en), 0)
    return clamp(k00, tol), kn0, k0n, clamp(knn, tol)


def clamp_abs(k, tol):
    return jnp.where(jnp.abs(k) < tol, tol, k)


def clamp_signed(k, tol):
    return jnp.where(k < tol, tol, k)


def elim(layer, x, left, right, dim):
    """``gauss_elimination``: 1-D (tol 1e-7, |K|, optional sides), 2-D (tol 1e-4, signed test,
    optional sides, right step reads row 0), 3-D (tol 1e-4, |K|, both sides, row-0 read)."""
    tol, clamp = {1: (1e-7, clamp_abs), 2: (1e-4, clamp_signed), 3: (1e-4, clamp_abs)}[dim]
    read = {1: lambda o, i: o[0, i], 2: lambda o, i: o[0, i, :], 3: lambda o, i: o[0, i, 0, :]}[dim]
    k00, kn0, k0n, knn = probes(layer, x, read, tol, clamp)
    if dim == 3:
        left = right = True
    if left is not None:
        kx = layer(x)
        tk = clamp(k00 - kn0 * k0n / knn, tol)
        y = x.at[:, 0].set(2 * x[:, 0] - (1 / tk) * (kx[:, 0] - kx[:, -1] * k0n / knn + k0n * x[:, -1]))
    else:
        y = x
    ky = layer(y)
    if right is not None:
        src = y[:, -1] if dim == 1 else y[:, 0]
        z = y.at[:, -1].set(2 * src - ky[:, -1] / knn)
    else:
        z = y
    return layer(z)


def neumann_rows(t, gl, gr, h):
    """The notebooks' stencils on x (axis 1 of ``t``): left ``u_0 = g + u_1`` (``[1, -1]``; the
    test uses g = 0 there, where it equals the first-order difference), right the 4-point
    third-order backward difference solved for ``u_L``."""
    u0 = gl + t[:, 1]
    ul = (6 * h / 11) * gr + (18 * t[:, -2] - 9 * t[:, -3] + 2 * t[:, -4]) / 11
    return t.at[:, 0].set(u0).at[:, -1].set(ul)


def mollify(t, ns=5):
    t = t.at[:, 1:ns].set((t[:, 0:ns - 1] + t[:, 1:ns] + t[:, 2:ns + 1]) / 3)
    return t.at[:, -ns:-1].set((t[:, -ns - 1:-2] + t[:, -ns:-1] + t[:, -ns + 1:]) / 3)


def correction(layer, x, kind, dim, vals, h):
    """``{dir,neu,per}kernelcorrection{1,2,3}d.forward`` of one branch."""
    if kind == "periodic":
        t = layer(x)
        avg = 0.5 * t[:, 0] + 0.5 * t[:, -1]
        return t.at[:, 0].set(avg).at[:, -1].set(avg)
    if kind == "dirichlet":
        t = elim(layer, x, vals["left"], vals["right"], dim)
        t = t.at[:, 0].set(vals["left"]).at[:, -1].set(vals["right"])
        if dim == 2:
            t = mollify(t)
        if dim == 3:  # y walls after the x walls: they win at the corners
            t = t.at[:, :, 0].set(vals["top"]).at[:, :, -1].set(vals["down"])
        return t
    t = elim(layer, x, None if dim == 1 else vals["left"], vals["right"], dim)
    return neumann_rows(t, vals["left"], vals["right"], h) / 2


def published_forward(fno, a, kind, vals, pad):
    """``BOON_FNO{1,2,3}d.forward`` for one sample ``a: (1, *grid)``; ``vals``: wall values
    (``left``/``right`` of shape ``grid[1:]``, ``top``/``down`` of ``(nx, nt)``); ``pad``: the
    time padding (9 in the published 2-D, 6 in 3-D; 0 for periodic)."""
    dim = a.ndim - 1
    grid = a.shape[1:]
    layers, fc0, fc1, fc2 = published_layers(fno)
    h = 1.0 / (grid[0] - 1)
    coords = jnp.meshgrid(*(jnp.linspace(0.0, 1.0, n) for n in grid), indexing="ij")
    x = jnp.moveaxis(jnp.concatenate([a, jnp.stack(coords)]), 0, -1)   # channel-last (*grid, 2 + ...)
    x = jnp.moveaxis(linear(*fc0, x), -1, 0)                           # (width, *grid)
    hidden = dict(vals)
    if pad:
        x = jnp.pad(x, [(0, 0)] * dim + [(0, pad)])
        hidden = {k: jnp.pad(v, [(0, 0)] * (v.ndim - 1) + [(0, pad)]) for k, v in vals.items()}
    # non_bdy: every index in 1-D (the published index bug); x rows 1..N-2 (2-D); x and y (3-D)
    inner = {1: (slice(None),), 2: (slice(1, -1),), 3: (slice(1, -1), slice(1, -1))}[dim]
    if kind == "periodic":
        inner = (slice(None),)
    for i, (conv, w) in enumerate(layers):
        x = correction(conv, x, kind, dim, hidden, h) + correction(w, x, kind, dim, hidden, h)
        if i < len(layers) - 1:
            x = x.at[(slice(None),) + inner].set(gelu(x[(slice(None),) + inner]))
    if pad:
        x = x[..., :-pad]
    x = linear(*fc1, jnp.moveaxis(x, 0, -1))
    x = x.at[inner].set(gelu(x[inner]))
    u = linear(*fc2, x)[..., 0]                                        # (*grid)
    # strict_enforce_bdy
    if kind == "periodic":
        avg = 0.5 * u[0] + 0.5 * u[-1]
        return u.at[0].set(avg).at[-1].set(avg)
    if kind == "neumann":
        return neumann_rows(u[None], vals["left"], vals["right"], h)[0]
    u = u.at[0].set(vals["left"]).at[-1].set(vals["right"])
    if dim == 2:
        u = mollify(u[None])[0]
    if dim == 3:
        u = u.at[:, 0].set(vals["top"]).at[:, -1].set(vals["down"])
    return u


# --- the comparison ----------------------------------------------------------------------------
def _randomised(fno, key):
    """Every weight redrawn N(0, s^2) with s = its init scale, so that no entry is special
    (the published init makes all spectral weights positive)."""
    leaves, tree = jax.tree.flatten(eqx.filter(fno, eqx.is_inexact_array))
    keys = jax.random.split(key, len(leaves))
    new = [jnp.std(v) * 2 * jax.random.normal(k, v.shape, jnp.float64) + 0.0 * v for v, k in zip(leaves, keys)]
    return eqx.combine(jax.tree.unflatten(tree, new), fno)


CASES = [(1, "dirichlet"), (1, "neumann"), (1, "periodic"), (2, "dirichlet"), (2, "neumann"), (2, "periodic"),
         (3, "dirichlet")]
GRIDS = {1: (24,), 2: (16, 10), 3: (12, 10, 6)}
MODES = {1: 5, 2: (4, 3), 3: (3, 3, 2)}


@pytest.mark.parametrize("dim, kind", CASES)
def test_faithful_equals_the_published_forward_pass(x64, dim, kind):
    grid = GRIDS[dim]
    pad = 0 if (dim == 1 or kind == "periodic") else grid[-1] // 2
    padding = (0.0,) * (dim - 1) + (pad / grid[-1],)
    fno = FNO(dim, 1, 1, MODES[dim], 6, projection=8, grid=True, padding=padding, key=jax.random.PRNGKey(dim))
    fno = _randomised(jax.tree.map(lambda v: jnp.asarray(v, jnp.float64) if eqx.is_inexact_array(v) else v, fno),
                      jax.random.PRNGKey(10 + dim))
    assert fno.pad_sizes(grid)[-1] == pad
    a = jax.random.normal(jax.random.PRNGKey(20 + dim), (1,) + grid, jnp.float64)
    rest = grid[1:]
    kv = jax.random.split(jax.random.PRNGKey(30 + dim), 4)
    if kind == "dirichlet":
        # independent random data on every wall: they disagree at the corners
        vals = {"left": jax.random.normal(kv[0], rest, jnp.float64), "right": jax.random.normal(kv[1], rest, jnp.float64)}
        bcs = dict(left=pc.Dirichlet(0.0), right=pc.Dirichlet(0.0))
        call = dict(left=vals["left"], right=vals["right"])
        if dim == 3:
            yrest = (grid[0], grid[2])
            vals |= {"top": jax.random.normal(kv[2], yrest, jnp.float64), "down": jax.random.normal(kv[3], yrest, jnp.float64)}
            bcs |= dict(bottom=pc.Dirichlet(0.0), top=pc.Dirichlet(0.0))
            call |= dict(bottom=vals["top"], top=vals["down"])   # published "top" is y = 0
        t = None
    elif kind == "neumann":
        t = jnp.linspace(0.05, 0.5, grid[1]) if dim == 2 else jnp.asarray(0.3)
        vals = {"left": jnp.zeros(rest), "right": jnp.broadcast_to(heater(t), rest)}
        bcs = dict(left=pc.Neumann(0.0, order=1), right=pc.Neumann(heater, order=3))
        call = {}
    else:
        vals, bcs, call, t = {}, dict(left=pc.Periodic(), right=pc.Periodic()), {}, None
    ref = published_forward(fno, a, kind, vals, pad)
    boon = BOON(fno, **bcs, mode="faithful", corners="y")  # disagreeing corners: the published rule, explicitly
    for spectral_path in ("dft", "fft"):
        ours = boon(a, t, spectral=spectral_path, **call)[0]
        scale = max(1.0, float(jnp.abs(ref).max()))
        err = float(jnp.abs(ours - ref).max())
        assert err <= 1e-10 * scale, (spectral_path, err, scale)
    # the walls hold on the output, the y walls at the corners (the published corner rule)
    if kind == "dirichlet":
        np.testing.assert_array_equal(ours[0, 1:-1] if dim == 3 else ours[0], vals["left"][1:-1] if dim == 3 else vals["left"])
        if dim == 3:
            np.testing.assert_array_equal(ours[:, 0], vals["top"])
            np.testing.assert_array_equal(ours[:, -1], vals["down"])
    # and the reference is not trivially matched: the plain FNO differs off the walls
    assert float(jnp.abs(jax.vmap(fno)(a[None])[0, 0] - ref)[(slice(2, -2),) * dim].max()) > 1e-3
