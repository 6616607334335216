"""Fourier Neural Operator: parameter counts of the BOON configurations, fft == dft, jit/vmap/grad
(with a finite-difference check), analytic properties of the spectral layer (mode-0 mean map,
band-limited inputs, translation equivariance), zero-shot super-resolution, input errors."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from physcon.models import FNO, SpectralConv


def n_params(model) -> int:
    """Number of scalars in the inexact array leaves (arrays or ``ShapeDtypeStruct``s)."""
    leaves = jax.tree.leaves(model)
    return sum(int(np.prod(a.shape)) for a in leaves
               if hasattr(a, "dtype") and jnp.issubdtype(a.dtype, jnp.inexact))


def rel(a, b) -> float:
    return float(jnp.linalg.norm(a - b) / jnp.linalg.norm(b))


# BOON configurations (research/boon.md §3): (n_dim, modes, width, data channels a + grid coords).
@pytest.mark.parametrize("n_dim, modes, width, expected", [
    (1, 16, 64, 549_569),
    (2, 12, 32, 2_368_001),
    # published 6,558,357 = this + 160: the original FNO3d's 4 unused BatchNorm3d(20) (2 * 20 each)
    (3, 8, 20, 6_558_357 - 4 * 2 * 20),
])
@pytest.mark.parametrize("grid", [False, True])
def test_parameter_counts(n_dim, modes, width, expected, grid):
    in_channels = 1 if grid else 1 + n_dim
    model = eqx.filter_eval_shape(FNO, n_dim, in_channels, 1, modes, width, grid=grid,
                                  key=jax.random.key(0))
    assert n_params(model) == expected
    conv = model.spectral_convs[0]
    assert conv.weight_real.shape == (width, width, *(2 * modes,) * (n_dim - 1), modes)


def test_initialisation_ranges():
    model = FNO(2, 3, 1, 4, 8, key=jax.random.key(0))
    w = model.spectral_convs[0].weight_real
    assert float(w.min()) >= 0.0 and float(w.max()) < 1.0 / 64
    lift = model.lifting[0].weight
    assert lift.shape == (8, 3) and float(jnp.abs(lift).max()) <= 1 / np.sqrt(3)
    assert [p.weight.shape for p in model.projection] == [(128, 8), (1, 128)]


@pytest.mark.parametrize("n_dim, grid_shape", [(1, (33,)), (1, (32,)), (2, (20, 17)), (3, (12, 10, 9))])
def test_fft_equals_dft(x64, n_dim, grid_shape):
    model = FNO(n_dim, 2, 3, 3, 6, n_layers=2, padding=0.25, grid=True, key=jax.random.key(1))
    x = jax.random.normal(jax.random.key(2), (2, *grid_shape))
    a, b = model(x, "fft"), model(x, "dft")
    assert a.dtype == jnp.float64 and a.shape == (3, *grid_shape)
    assert rel(b, a) <= 1e-12
    assert rel(model(x), b) == 0.0  # auto -> dft


def test_dft_with_nyquist_mode(x64):
    """modes = n//2 + 1 on the rfft axis (Nyquist included) and 2m = n on the other axis."""
    conv = SpectralConv(2, 2, (4, 5), key=jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (2, 8, 8))
    assert rel(conv(x, "dft"), conv(x, "fft")) <= 1e-12


def test_jit_vmap_grad_and_finite_difference(x64):
    model = FNO(1, 1, 1, 4, 6, n_layers=2, projection=16, padding=0.1, grid=True, key=jax.random.key(0))
    xs = jax.random.normal(jax.random.key(1), (3, 1, 24))
    ys = jax.random.normal(jax.random.key(2), (3, 1, 24))

    def loss(m, spectral):
        return jnp.mean((jax.vmap(lambda a: m(a, spectral))(xs) - ys) ** 2)

    batched = eqx.filter_jit(lambda m, x: jax.vmap(m)(x))(model, xs)
    assert batched.shape == (3, 1, 24)
    assert rel(batched[1], model(xs[1])) <= 1e-12
    for spectral in ("fft", "dft"):
        grads = eqx.filter_jit(eqx.filter_grad(loss))(model, spectral)
        g = grads.spectral_convs[0].weight_imag[1, 2, 1]
        where = lambda m: m.spectral_convs[0].weight_imag  # noqa: E731
        h = 1e-6
        w = where(model)
        plus = eqx.tree_at(where, model, w.at[1, 2, 1].add(h))
        minus = eqx.tree_at(where, model, w.at[1, 2, 1].add(-h))
        fd = (loss(plus, spectral) - loss(minus, spectral)) / (2 * h)
        assert abs(float(g) - float(fd)) <= 1e-7 * max(1.0, abs(float(fd)))
        assert abs(float(g)) > 0


@pytest.mark.parametrize("spectral", ["fft", "dft"])
def test_mode_zero_is_channel_mean_map(x64, spectral):
    """Only the mode-0 weight (real part W0) non-zero: out[o] = sum_i W0[i, o] * mean(x[i])."""
    conv = SpectralConv(3, 2, (3, 4), key=jax.random.key(0))
    w0 = jax.random.normal(jax.random.key(1), (3, 2))
    wr = jnp.zeros_like(conv.weight_real).at[:, :, 0, 0].set(w0)
    conv = eqx.tree_at(lambda c: (c.weight_real, c.weight_imag), conv, (wr, jnp.zeros_like(wr)))
    x = jax.random.normal(jax.random.key(2), (3, 10, 9))
    out = conv(x, spectral)
    expected = jnp.einsum("i,io->o", x.mean(axis=(1, 2)), w0)
    np.testing.assert_allclose(out, jnp.broadcast_to(expected[:, None, None], out.shape), atol=1e-13)


@pytest.mark.parametrize("spectral", ["fft", "dft"])
def test_band_limited_input_by_hand(x64, spectral):
    """cos(2 pi k x) with k < modes: weight (a + ib) at mode k maps it to a cos - b sin."""
    n, k = 32, 3
    conv = SpectralConv(1, 1, 5, key=jax.random.key(0))
    wr = jnp.zeros_like(conv.weight_real).at[0, 0, k].set(0.7)
    wi = jnp.zeros_like(conv.weight_imag).at[0, 0, k].set(-0.4)
    conv = eqx.tree_at(lambda c: (c.weight_real, c.weight_imag), conv, (wr, wi))
    x = np.arange(n) / n
    u = jnp.asarray(np.cos(2 * np.pi * k * x) + 0.5 * np.sin(2 * np.pi * 1 * x))[None]
    expected = 0.7 * np.cos(2 * np.pi * k * x) + 0.4 * np.sin(2 * np.pi * k * x)
    np.testing.assert_allclose(conv(u, spectral)[0], expected, atol=1e-13)


@pytest.mark.parametrize("spectral", ["fft", "dft"])
def test_super_resolution_spectral_layer_band_limited(x64, spectral):
    """A pure spectral layer on a band-limited field gives the same function sampled finer."""
    conv = SpectralConv(2, 2, (4, 4), key=jax.random.key(0))

    def field(n):
        x, t = np.meshgrid(np.arange(n) / n, np.arange(n) / n, indexing="ij")
        return jnp.asarray(np.stack([np.sin(2 * np.pi * (x + 2 * t)) + np.cos(2 * np.pi * 3 * x),
                                     np.cos(2 * np.pi * (2 * x - 3 * t)) + 0.3]))

    coarse, fine = conv(field(16), spectral), conv(field(32), spectral)
    np.testing.assert_allclose(fine[:, ::2, ::2], coarse, atol=1e-12)


def test_super_resolution_full_model_runs_and_is_smooth():
    model = FNO(1, 1, 1, 6, 12, n_layers=3, projection=32, padding=0.25, grid=True, key=jax.random.key(0))
    f = eqx.filter_jit(lambda m, u: m(u))

    def u0(n):
        x = np.linspace(0, 1, n)
        return jnp.asarray(np.sin(2 * np.pi * x) + 0.5 * np.cos(4 * np.pi * x), jnp.float32)[None]

    coarse, fine = f(model, u0(64)), f(model, u0(128))
    assert fine.shape == (1, 128) and bool(jnp.all(jnp.isfinite(fine)))
    # the fine output interpolates the coarse one: compare on the coarse grid by interpolation
    x_c, x_f = np.linspace(0, 1, 64), np.linspace(0, 1, 128)
    fine_on_coarse = np.interp(x_c, x_f, np.asarray(fine[0]))
    scale = float(jnp.abs(coarse).max())
    assert np.max(np.abs(fine_on_coarse - np.asarray(coarse[0]))) <= 0.05 * scale
    # smooth: second differences are small compared with the values
    assert np.max(np.abs(np.diff(np.asarray(fine[0]), 2))) <= 0.05 * scale
    assert model.pad_sizes((64,)) == (16,) and model.pad_sizes((128,)) == (32,)


@pytest.mark.parametrize("spectral", ["fft", "dft"])
def test_translation_equivariance_without_padding(x64, spectral):
    conv = SpectralConv(2, 3, (3, 4), key=jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (2, 12, 10))
    shift = (5, 3)
    np.testing.assert_allclose(conv(jnp.roll(x, shift, (1, 2)), spectral),
                               jnp.roll(conv(x, spectral), shift, (1, 2)), atol=1e-12)
    model = FNO(2, 2, 1, 3, 6, n_layers=2, projection=8, key=jax.random.key(2))  # no grid, no padding
    np.testing.assert_allclose(model(jnp.roll(x, shift, (1, 2)), spectral),
                               jnp.roll(model(x, spectral), shift, (1, 2)), atol=1e-12)


def test_activation_choice_and_lifting_mlp():
    x = jax.random.normal(jax.random.key(1), (1, 16))
    a = FNO(1, 1, 1, 4, 8, n_layers=2, key=jax.random.key(0))
    b = FNO(1, 1, 1, 4, 8, n_layers=2, activation="gelu_tanh", key=jax.random.key(0))
    assert 0 < float(jnp.abs(a(x) - b(x)).max()) < 1e-2
    c = FNO(1, 1, 2, 4, 8, n_layers=1, lifting=5, projection=None, key=jax.random.key(0))
    assert [p.weight.shape for p in c.lifting] == [(5, 1), (8, 5)]
    assert c(x).shape == (2, 16)


def test_bad_inputs():
    key = jax.random.key(0)
    model = FNO(2, 2, 1, 4, 8, n_layers=1, padding=0.0, key=key)
    with pytest.raises(ValueError, match="x must have shape"):
        model(jnp.zeros((3, 16, 16)))  # channels
    with pytest.raises(ValueError, match="x must have shape"):
        model(jnp.zeros((2, 16)))  # n_dim
    with pytest.raises(ValueError, match="modes"):
        model(jnp.zeros((2, 7, 16)))  # 2 * 4 > 7 on a non-rfft axis
    with pytest.raises(ValueError, match="modes"):
        model(jnp.zeros((2, 16, 5)))  # 4 > 5 // 2 + 1 on the rfft axis
    model(jnp.zeros((2, 8, 6)))  # the limits themselves are fine
    with pytest.raises(ValueError, match="spectral"):
        model(jnp.zeros((2, 16, 16)), "fast")
    for kwargs, name in [
        (dict(n_dim=4), "n_dim"), (dict(n_dim=0), "n_dim"), (dict(in_channels=0), "in_channels"),
        (dict(out_channels=-1), "out_channels"), (dict(modes=0), "modes"), (dict(modes=(4,)), "modes"),
        (dict(width=2.5), "width"), (dict(n_layers=0), "n_layers"), (dict(projection=0), "projection"),
        (dict(lifting=0), "lifting"), (dict(padding=-0.1), "padding"), (dict(padding=float("nan")), "padding"),
        (dict(activation="relu"), "activation"), (dict(spectral="fast"), "spectral"), (dict(grid=1), "grid"),
    ]:
        args = dict(n_dim=2, in_channels=2, out_channels=1, modes=4, width=8) | kwargs
        with pytest.raises(ValueError, match=name):
            FNO(**args, key=key)


def test_fast_path_equals_reference_ops(x64):
    """The speed paths (erf GELU, the formally batched pointwise weight) give the reference
    numbers: ``jax.nn.gelu(approximate=False)``, ``tensordot``; under vmap, grad and jvp, and a
    NaN in one grid point stays in that point."""
    from physcon.models.fno_layers import Pointwise, gelu

    x = jnp.linspace(-9.0, 9.0, 2001)
    np.testing.assert_allclose(gelu(x), jax.nn.gelu(x, approximate=False), rtol=1e-14, atol=1e-15)  # absolute where GELU < 1e-6
    np.testing.assert_allclose(jax.vmap(jax.grad(gelu))(x), jax.vmap(jax.grad(
        lambda v: jax.nn.gelu(v, approximate=False)))(x), rtol=1e-13, atol=1e-15)
    pw = Pointwise(3, 4, key=jax.random.key(0))
    v = jax.random.normal(jax.random.key(1), (5, 3, 7, 6))

    def ref(p, v):
        return jnp.tensordot(p.weight, v, axes=1) + p.bias[:, None, None]

    np.testing.assert_allclose(jax.vmap(pw)(v), jax.vmap(lambda u: ref(pw, u))(v), rtol=0, atol=1e-15)
    loss = lambda f: lambda p, v: jnp.sum(jnp.sin(jax.vmap(lambda u: f(p, u))(v)))  # noqa: E731
    ga, gb = (jax.grad(loss(f), argnums=(0, 1))(pw, v) for f in (lambda p, u: p(u), ref))
    for a, b in zip(jax.tree.leaves(ga), jax.tree.leaves(gb)):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14)
    ta = jax.jvp(lambda u: jax.vmap(pw)(u), (v,), (jnp.ones_like(v),))[1]
    np.testing.assert_allclose(ta, jax.vmap(lambda u: ref(pw, u) - pw.bias[:, None, None])(jnp.ones_like(v)),
                               atol=1e-14)
    bad = v.at[0, 0, 0, 0].set(jnp.nan)
    out = np.asarray(pw(bad[0]))
    assert np.isnan(out[:, 0, 0]).all() and np.isfinite(out[:, 1:]).all() and np.isfinite(out[:, 0, 1:]).all()
