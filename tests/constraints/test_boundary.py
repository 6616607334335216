"""BOON: exact decoupling of the wall rows (1-, 2-, 3-D, both spectral paths), boundary
conditions satisfied to round-off for every type and mode at the training and at twice the
resolution, the faithful mode equal to a literal multi-pass transcription of the published
algorithm, gradients against finite differences, jit/vmap, and input errors."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import physcon as pc
from physcon.constraints import BOON, decouple, enforce
from physcon.constraints import boundary as B
from physcon.models import FNO, Pointwise, SpectralConv


def f64(tree):
    return jax.tree.map(lambda a: jnp.asarray(a, jnp.float64) if eqx.is_inexact_array(a) else a, tree)


def heater(t):
    return 5.0 * jnp.sin(jnp.pi * t)


CASES = {
    "dirichlet": (pc.Dirichlet(0.3), pc.Dirichlet(-1.0)),
    "neumann": (pc.Neumann(0.0, order=1), pc.Neumann(heater, order=3)),
    "periodic": (pc.Periodic(), pc.Periodic()),
    "robin": (pc.Robin(1.0, a=1.0, b=0.2, order=2), pc.Dirichlet(0.0)),
}


def wall_errors(u, x, left, right, t, scaled=False):
    """Max |residual| of each wall condition over the leading axes of ``u: (..., nx)``;
    ``scaled`` divides by the rounding scale ``sum_j |w_j u_j|`` of the stencil."""
    out = []
    if isinstance(left, pc.Periodic):
        return [float(jnp.abs(u[..., 0] - u[..., -1]).max())] * 2
    for side, bc in (("left", left), ("right", right)):
        idx, w = pc.boundary_stencil(bc, x, side)
        g = bc.at(t, jnp.float64)
        uu = np.asarray(u[..., idx], np.float64)
        res = np.abs(uu @ w - np.asarray(g))
        if scaled:
            res = res / (np.abs(uu) @ np.abs(w) + np.abs(np.asarray(g)) + 1e-30)
        out.append(float(res.max()))
    return out


# --- the exact elimination ---------------------------------------------------------------------
@pytest.mark.parametrize("grid, modes", [((32,), 6), ((33,), 17), ((20, 16), (5, 4)), ((21, 15), (6, 8)),
                                         ((16, 12, 10), 4), ((15, 12, 9), (3, 6, 5))])
@pytest.mark.parametrize("spectral", ["fft", "dft"])
def test_decouple_makes_wall_rows_independent_of_the_interior(x64, grid, modes, spectral):
    d = len(grid)
    conv = f64(SpectralConv(5, 5, modes, n_dim=d, key=jax.random.PRNGKey(0)))
    v = jax.random.normal(jax.random.PRNGKey(1), (5,) + grid, jnp.float64)
    bump = jax.random.normal(jax.random.PRNGKey(2), v.shape, jnp.float64).at[:, 0].set(0).at[:, -1].set(0)
    a, b = decouple(conv, v, spectral=spectral), decouple(conv, v + bump, spectral=spectral)
    plain = conv(v + bump, spectral) - conv(v, spectral)
    assert float(jnp.abs(plain[:, [0, -1]]).max()) > 1e-3  # the layer itself couples them
    assert float(jnp.abs(a[:, [0, -1]] - b[:, [0, -1]]).max()) < 1e-12
    # the wall rows keep their own response A_BB x_B: changing a wall input changes them
    c = decouple(conv, v.at[:, 0].add(1.0), spectral=spectral)
    assert float(jnp.abs(c[:, [0, -1]] - a[:, [0, -1]]).max()) > 1e-3


def test_decouple_interior_is_the_schur_complement(x64):
    """1-D, scalar channels: the corrected kernel's interior block equals
    ``A_II - A_IB A_BB^-1 A_BI`` of the dense layer matrix."""
    n = 12
    conv = f64(SpectralConv(2, 2, 4, key=jax.random.PRNGKey(3)))
    cols = jax.vmap(lambda e: conv(e.reshape(2, n)).reshape(-1))(jnp.eye(2 * n)).T   # A[(o,j),(i,k)]
    corr = jax.vmap(lambda e: decouple(conv, e.reshape(2, n)).reshape(-1))(jnp.eye(2 * n)).T
    wall = np.array([0, n - 1, n, 2 * n - 1])          # (channel, row) pairs at the walls
    inner = np.setdiff1d(np.arange(2 * n), wall)
    A = np.asarray(cols)
    schur = A[np.ix_(inner, inner)] - A[np.ix_(inner, wall)] @ np.linalg.solve(A[np.ix_(wall, wall)], A[np.ix_(wall, inner)])
    np.testing.assert_allclose(np.asarray(corr)[np.ix_(inner, inner)], schur, atol=1e-12)
    np.testing.assert_allclose(np.asarray(corr)[np.ix_(wall, inner)], 0.0, atol=1e-12)
    np.testing.assert_allclose(np.asarray(corr)[np.ix_(wall, wall)], A[np.ix_(wall, wall)], atol=1e-12)


# --- boundary conditions hold -----------------------------------------------------------------
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("mode", ["exact", "faithful"])
def test_boon_1d_boundary_error_round_off_at_two_resolutions(x64, case, mode):
    left, right = CASES[case]
    if mode == "faithful" and case == "robin":
        # the published code has no Robin condition: faithful mode refuses it
        with pytest.raises(ValueError, match="no Robin condition"):
            BOON(FNO(1, 1, 1, 2, 4, key=jax.random.PRNGKey(0)), left=left, right=right, mode="faithful")
        return
    fno = f64(FNO(1, 1, 1, 8, 16, grid=True, key=jax.random.PRNGKey(0)))
    boon = BOON(fno, left=left, right=right, mode=mode)
    a = jax.random.normal(jax.random.PRNGKey(1), (3, 1, 64), jnp.float64)
    plain_err = None
    for n in (64, 128):
        an = jax.image.resize(a, (3, 1, n), "linear")
        u = jax.jit(jax.vmap(lambda z: boon(z, 0.5)))(an)[:, 0]
        x = np.linspace(0.0, 1.0, n)
        assert max(wall_errors(u, x, left, right, 0.5)) <= 1e-10
        assert float(jnp.abs(u).max()) > 1e-3
        plain_err = wall_errors(jax.vmap(fno)(an)[:, 0], x, left, right, 0.5)
    assert max(plain_err) > 1e-5  # the bare FNO does not satisfy them


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("mode", ["exact", "faithful"])
def test_boon_2d_time_dependent_boundary_round_off(x64, case, mode):
    left, right = CASES[case]
    if mode == "faithful" and case == "robin":
        # the published code has no Robin condition: faithful mode refuses it
        with pytest.raises(ValueError, match="no Robin condition"):
            BOON(FNO(2, 1, 1, 2, 4, key=jax.random.PRNGKey(0)), left=left, right=right, mode="faithful")
        return
    fno = f64(FNO(2, 1, 1, (5, 4), 8, grid=True, padding=(0.0, 9 / 25), key=jax.random.PRNGKey(0)))
    boon = BOON(fno, left=left, right=right, mode=mode)
    a = jax.random.normal(jax.random.PRNGKey(1), (2, 1, 30, 25), jnp.float64)
    for n in (30, 60):
        t = jnp.linspace(0.02, 0.5, 25)
        an = jax.image.resize(a, (2, 1, n, 25), "linear")
        u = jax.vmap(lambda z: boon(z, t))(an)[:, 0]               # (batch, x, t)
        uu = jnp.moveaxis(u, 1, -1)                                # (batch, t, x)
        assert max(wall_errors(uu, np.linspace(0, 1, n), left, right, t)) <= 1e-10


def test_per_sample_values_override(x64):
    fno = f64(FNO(2, 1, 1, 4, 8, grid=True, key=jax.random.PRNGKey(0)))
    boon = BOON(fno, left=pc.Dirichlet(0.0), right=pc.Dirichlet(0.0))
    a = jax.random.normal(jax.random.PRNGKey(1), (3, 1, 20, 10), jnp.float64)
    gl = jax.random.normal(jax.random.PRNGKey(2), (3, 10), jnp.float64)
    gr = jax.random.normal(jax.random.PRNGKey(3), (3, 10), jnp.float64)
    u = jax.vmap(lambda z, l, r: boon(z, left=l, right=r))(a, gl, gr)
    assert float(jnp.abs(u[:, 0, 0] - gl).max()) == 0.0
    assert float(jnp.abs(u[:, 0, -1] - gr).max()) == 0.0


def test_float32_boundary_error():
    """float32: Dirichlet and periodic exact; Neumann residual at the rounding level of its stencil."""
    fno = FNO(1, 1, 1, 16, 32, grid=True, key=jax.random.PRNGKey(0))
    a = jax.random.normal(jax.random.PRNGKey(1), (4, 1, 500), jnp.float32)
    for case in ("dirichlet", "neumann", "periodic"):
        left, right = CASES[case]
        boon = BOON(fno, left=left, right=right)
        u = jax.jit(jax.vmap(lambda z: boon(z, 0.5)))(a)[:, 0]
        assert u.dtype == jnp.float32
        x = np.linspace(0.0, 1.0, 500)
        if case == "neumann":
            assert max(wall_errors(u, x, left, right, 0.5, scaled=True)) <= 1e-5
        else:
            assert max(wall_errors(u, x, left, right, 0.5)) <= 1e-5


def test_overwrite_only_ablation_equals_enforced_fno(x64):
    fno = f64(FNO(1, 1, 1, 8, 16, grid=True, key=jax.random.PRNGKey(0)))
    left, right = CASES["neumann"]
    boon = BOON(fno, left=left, right=right, per_layer=False)
    a = jax.random.normal(jax.random.PRNGKey(1), (1, 40), jnp.float64)
    walls = B._walls(left, right, 40, (0.0, 1.0), (None, None), 0.5, (), jnp.float64)
    np.testing.assert_allclose(boon(a, 0.5), enforce(fno(a), walls), atol=1e-14)
    assert float(jnp.abs(BOON(fno, left=left, right=right)(a, 0.5) - boon(a, 0.5)).max()) > 1e-4


# --- faithful mode equals the published algorithm ----------------------------------------------
def _reference_branch(layer, x, kind, gl, gr, tol, signed, bug, stencils=None):
    """The published per-branch algorithm, transcribed literally: four probe passes and three
    layer passes (``x``: (C, N, *rest); probes are all-channel impulses read at channel 0)."""
    e1 = jnp.zeros_like(x).at[:, 0].set(1.0)
    en = jnp.zeros_like(x).at[:, -1].set(1.0)
    clamp = (lambda k: jnp.where(k < tol, tol, k)) if signed else (lambda k: jnp.where(jnp.abs(k) < tol, tol, k))
    k00, kn0 = clamp(layer(e1)[0, 0]), layer(e1)[0, -1]
    knn, k0n = clamp(layer(en)[0, -1]), layer(en)[0, 0]
    if kind == "periodic":
        t = layer(x)
        avg = 0.5 * t[:, 0] + 0.5 * t[:, -1]
        return t.at[:, 0].set(avg).at[:, -1].set(avg)
    y = x
    if kind == "dirichlet" or x.ndim > 2:
        kx = layer(x)
        tk = clamp(k00 - kn0 * k0n / knn)
        y = x.at[:, 0].set(2 * x[:, 0] - (kx[:, 0] - kx[:, -1] * k0n / knn + k0n * x[:, -1]) / tk)
    ky = layer(y)
    z = y.at[:, -1].set(2 * (y[:, 0] if bug else y[:, -1]) - ky[:, -1] / knn)
    t = layer(z)
    if kind == "dirichlet":
        t = t.at[:, 0].set(gl).at[:, -1].set(gr)
        if x.ndim > 2:
            t = B._mollify(t, x.shape[1])
        return t
    (il, wl), (ir, wr) = stencils
    t = t.at[:, 0].set((gl - sum(c * t[:, i] for i, c in zip(il[1:], wl[1:]))) / wl[0])
    t = t.at[:, -1].set((gr - sum(c * t[:, i] for i, c in zip(ir[1:], wr[1:]))) / wr[0])
    return t / 2


@pytest.mark.parametrize("kind", ["dirichlet", "neumann", "periodic"])
@pytest.mark.parametrize("grid", [(24,), (24, 10)])
def test_faithful_branch_equals_literal_published_algorithm(x64, kind, grid):
    d = len(grid)
    key = jax.random.PRNGKey(4)
    conv = f64(SpectralConv(6, 6, (4,) * d, n_dim=d, key=key))
    w = f64(Pointwise(6, 6, key=jax.random.PRNGKey(5)))
    x = jax.random.normal(jax.random.PRNGKey(6), (6,) + grid, jnp.float64)
    n = grid[0]
    xs = np.linspace(0.0, 1.0, n)
    bcs = {"dirichlet": (pc.Dirichlet(0.7), pc.Dirichlet(-0.2)),
           "neumann": (pc.Neumann(0.0, order=1), pc.Neumann(2.0, order=3)),
           "periodic": (pc.Periodic(), pc.Periodic())}[kind]
    walls = B._walls(*bcs, n, (0.0, 1.0), (None, None), None, grid[1:], jnp.float64)
    gl = None if kind == "periodic" else walls[0].g
    gr = None if kind == "periodic" else walls[1].g
    stencils = None
    if kind == "neumann":
        stencils = [pc.boundary_stencil(bc, xs, s) for bc, s in zip(bcs, ("left", "right"))]
    tol, signed = (1e-7, False) if d == 1 else (1e-4, True)
    for layer in (conv, w):
        ours = B._faithful_branch(layer, x, kind, walls, grid, n, "dft", d)
        ref = _reference_branch(layer if isinstance(layer, Pointwise) else (lambda z: conv(z)), x, kind, gl, gr,
                                tol, signed, bug=d > 1, stencils=stencils)
        np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-10)


# --- gradients, transforms --------------------------------------------------------------------
@pytest.mark.parametrize("mode, rcond", [("exact", 0.0), ("exact", 0.1), ("faithful", None)])
@pytest.mark.parametrize("case", ["dirichlet", "neumann"])
def test_gradient_matches_finite_differences(x64, mode, rcond, case):
    """Also through the damped elimination (``rcond > 0``: QR + triangular solve)."""
    left, right = CASES[case]
    fno = f64(FNO(1, 1, 1, 6, 8, grid=True, key=jax.random.PRNGKey(0)))
    boon = BOON(fno, left=left, right=right, mode=mode, rcond=rcond)
    a = jax.random.normal(jax.random.PRNGKey(1), (2, 1, 32), jnp.float64)
    target = jax.random.normal(jax.random.PRNGKey(2), (2, 1, 32), jnp.float64)
    params, static = eqx.partition(boon, eqx.is_inexact_array)

    def loss(p):
        m = eqx.combine(p, static)
        return jnp.sum((jax.vmap(lambda z: m(z, 0.5))(a) - target) ** 2)

    g = jax.grad(loss)(params)
    # a direction relative to each parameter's size, so that h is a relative step
    direction = jax.tree.map(lambda q: q * jax.random.normal(jax.random.PRNGKey(7), q.shape, q.dtype), params)
    analytic = sum(jnp.vdot(x, y) for x, y in zip(jax.tree.leaves(g), jax.tree.leaves(direction)))

    def central(h):
        shift = lambda s: jax.tree.map(lambda p, dd: p + s * h * dd, params, direction)
        return (loss(shift(1.0)) - loss(shift(-1.0))) / (2 * h)

    numeric = (4 * central(5e-6) - central(1e-5)) / 3  # Richardson: O(h^4)
    assert abs(float(analytic - numeric)) <= 1e-7 * max(1.0, abs(float(numeric)))


def test_jit_vmap_and_spectral_paths_agree(x64):
    fno = f64(FNO(2, 1, 1, 4, 8, grid=True, padding=(0.0, 0.25), key=jax.random.PRNGKey(0)))
    boon = BOON(fno, left=pc.Dirichlet(1.0), right=pc.Neumann(0.5, order=2))
    a = jax.random.normal(jax.random.PRNGKey(1), (3, 1, 20, 12), jnp.float64)
    batched = jax.jit(jax.vmap(boon))(a)
    single = jnp.stack([boon(z) for z in a])
    np.testing.assert_allclose(batched, single, atol=1e-12)
    np.testing.assert_allclose(jax.vmap(lambda z: boon(z, spectral="fft"))(a), single, atol=1e-12)


def test_no_parameters_added():
    fno = FNO(1, 1, 1, 4, 8, key=jax.random.PRNGKey(0))
    boon = BOON(fno, left=pc.Dirichlet(0.0), right=pc.Dirichlet(0.0))
    count = lambda m: sum(x.size for x in jax.tree.leaves(eqx.filter(m, eqx.is_inexact_array)))
    assert count(boon) == count(fno)


# --- bad input --------------------------------------------------------------------------------
def test_bad_input_errors():
    fno = FNO(1, 1, 1, 4, 8, grid=True, key=jax.random.PRNGKey(0))
    a = jnp.ones((1, 16))
    with pytest.raises(ValueError, match="fno"):
        BOON(object(), left=pc.Dirichlet(0.0), right=pc.Dirichlet(0.0))
    with pytest.raises(ValueError, match="Periodic"):
        BOON(fno, left=pc.Periodic(), right=pc.Dirichlet(0.0))
    with pytest.raises(ValueError, match="mode"):
        BOON(fno, left=pc.Dirichlet(0.0), right=pc.Dirichlet(0.0), mode="approx")
    with pytest.raises(ValueError, match="Robin"):
        BOON(fno, left=pc.Robin(0.0), right=pc.Robin(0.0), mode="faithful")
    with pytest.raises(ValueError, match="finite"):
        pc.Dirichlet(float("nan"))
    boon = BOON(fno, left=pc.Dirichlet(0.0), right=pc.Neumann(0.0, order=3))
    with pytest.raises(ValueError, match="broadcast"):
        boon(a, left=jnp.zeros(3))
    with pytest.raises(ValueError, match="a must have shape"):
        boon(jnp.ones((2, 16)))
    with pytest.raises(ValueError, match="order 3 needs 4 nodes|reaches the other wall"):
        boon(jnp.ones((1, 3)))
    with pytest.raises(ValueError, match="pass t"):
        BOON(fno, left=pc.Dirichlet(0.0), right=pc.Neumann(heater))(a)
    with pytest.raises(Exception, match="finite"):
        boon(a, left=jnp.nan)
    with pytest.raises(Exception, match="finite"):
        boon(a.at[0, 3].set(jnp.inf))


def test_bad_input_errors_under_jit():
    """The same checks traced: shapes at trace time (ValueError), values through eqx.error_if."""
    fno = FNO(1, 1, 1, 4, 8, grid=True, key=jax.random.PRNGKey(0))
    a = jnp.ones((1, 16))
    boon = BOON(fno, left=pc.Dirichlet(0.0), right=pc.Neumann(0.0, order=3))
    with pytest.raises(ValueError, match="left: boundary value of shape"):
        eqx.filter_jit(lambda m, v, g: m(v, left=g))(boon, a, jnp.zeros(3))
    with pytest.raises(Exception, match="left: boundary value must be finite"):
        eqx.filter_jit(lambda m, v, g: m(v, left=g))(boon, a, jnp.nan)
    with pytest.raises(Exception, match="a must be finite"):
        eqx.filter_jit(lambda m, v: m(v))(boon, a.at[0, 3].set(jnp.inf))


@pytest.mark.parametrize("rcond", [None, 0.1])
def test_singular_or_non_finite_wall_block_is_an_error(rcond):
    """A_BB of a layer whose spectral weights vanish is singular, of NaN weights non-finite:
    both are named errors, eagerly and under jit (the exact mode inverts A_BB)."""
    fno = FNO(1, 1, 1, 4, 8, grid=True, key=jax.random.PRNGKey(0))
    a = jnp.ones((1, 16))
    zero = eqx.tree_at(lambda f: (f.spectral_convs[1].weight_real, f.spectral_convs[1].weight_imag), fno,
                       replace_fn=jnp.zeros_like)
    nan = eqx.tree_at(lambda f: f.spectral_convs[0].weight_real, fno, replace_fn=lambda w: w.at[0, 0, 0].set(jnp.nan))
    for bad, what in ((zero, "singular"), (nan, "not finite")):
        boon = BOON(bad, left=pc.Dirichlet(0.0), right=pc.Dirichlet(0.0), rcond=rcond)
        for call in (lambda m, v: m(v), eqx.filter_jit(lambda m, v: m(v))):
            with pytest.raises(Exception, match=f"wall block A_BB is {what}"):
                call(boon, a)
    # the healthy layer passes (the checks do not fire on a well-posed block)
    assert bool(jnp.all(jnp.isfinite(BOON(fno, left=pc.Dirichlet(0.0), right=pc.Dirichlet(0.0), rcond=rcond)(a))))


def test_lift_is_exact_and_smooth_at_two_resolutions(x64):
    """``lift=ell`` (the output's T1, so tested on the output-only BOON): the own stencils hold to round-off at n and 2n - 1 (the two walls'
    corrections solved jointly, also beside a Dirichlet or Robin wall), and an independent
    stencil sees the same derivative up to the profile's truncation error (it does not with the
    stencil solve, which bends the wall node)."""
    fno = f64(FNO(1, 1, 1, 4, 8, grid=True, key=jax.random.PRNGKey(0)))
    neu = (pc.Neumann(0.0, order=5), pc.Neumann(heater, order=5))
    cases = [(neu, "exact", False),
             ((pc.Dirichlet(0.2), pc.Neumann(1.0, order=4)), "exact", False),
             ((pc.Robin(0.3, a=1.0, b=0.5, order=3), pc.Neumann(0.0)), "exact", False)]
    for (left, right), mode, per_layer in cases:
        for n in (33, 65):
            x = jnp.linspace(0.0, 1.0, n)
            a = jnp.cos(2.7 * jnp.pi * x)[None]
            u = BOON(fno, left=left, right=right, mode=mode, per_layer=per_layer, lift=0.15)(a, 0.5)[0]
            own = pc.metrics.boundary_error(u, np.asarray(x), left, right, t=0.5)
            assert max(float(v) for v in own.values()) < 1e-12, (left, right, n, own)
            if isinstance(left, pc.Neumann):
                other = pc.metrics.boundary_error(u, np.asarray(x), left, right, t=0.5, order=4)
                bent = BOON(fno, left=left, right=right, mode=mode, per_layer=per_layer)(a, 0.5)[0]
                other_bent = pc.metrics.boundary_error(bent, np.asarray(x), left, right, t=0.5, order=4)
                assert float(other["right"]) < 0.1 * float(other_bent["right"]) and float(other["right"]) < 0.05
    with pytest.raises(ValueError, match="lift must be"):
        BOON(fno, left=pc.Neumann(0.0), right=pc.Neumann(0.0), lift=-1.0)
