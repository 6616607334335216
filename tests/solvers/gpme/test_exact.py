"""Closed forms (physcon.solvers.gpme.exact) and the problems' exact solutions, masses and data.

Oracle values are the independently derived ones in ``shared/research/probconserv.md`` (Sec.
1.2), checked to the digits quoted there (half a unit in the last quoted digit).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import jax.scipy.special as jsp
import numpy as np
import pytest

import physcon
from physcon.solvers.gpme import exact as cf

G = physcon.gpme


def _close_to_quoted(value, quoted: str) -> bool:
    """``value`` rounds to the quoted decimal (within half a unit of its last digit)."""
    digits = len(quoted.split(".")[1])
    return abs(float(value) - float(quoted)) <= 0.5 * 10.0**-digits * (1 + 1e-9)


# --- oracle values --------------------------------------------------------------------------------
def test_stefan_constants_u06(x64):
    z1, alpha, c1 = cf.stefan_constants(0.6)
    assert _close_to_quoted(z1, "0.5257")
    assert _close_to_quoted(alpha, "1.0513")
    assert _close_to_quoted(c1, "0.7370")
    assert _close_to_quoted(cf.stefan_front(0.05, 0.6), "0.2351")
    assert _close_to_quoted(cf.stefan_mass(0.05, 0.6), "0.18595")
    p = G.Stefan(0.6)
    assert _close_to_quoted(p.front(0.05), "0.2351")
    assert _close_to_quoted(p.mass(0.05), "0.18595")


def test_stefan_constants_u05(x64):
    z1, alpha, _ = cf.stefan_constants(0.5)
    assert _close_to_quoted(z1, "0.6201")
    assert _close_to_quoted(alpha, "1.2401")
    # the released test set stores _z1 = 0.62006, _alpha = 1.24013
    assert _close_to_quoted(z1, "0.62006")
    assert _close_to_quoted(alpha, "1.24013")
    assert _close_to_quoted(cf.stefan_front(0.05, 0.5), "0.2773")


@pytest.mark.parametrize("m, quoted", [(1.0, "0.125"), (3.0, "0.42927"), (6.0, "0.51469")])
def test_pme_mass_oracle(x64, m, quoted):
    assert _close_to_quoted(cf.pme_mass(0.5, m), quoted)
    assert _close_to_quoted(G.PorousMedium(m).mass(0.5), quoted)


@pytest.mark.parametrize("u_star", [0.5, 0.55, 0.6, 0.7, 0.05, 0.95])
def test_stefan_z1_solves_its_equation(x64, u_star):
    z = float(cf.stefan_z1(u_star))
    lhs = u_star * math.erf(z) * z * math.exp(z * z)
    assert lhs == pytest.approx((1 - u_star) / math.sqrt(math.pi), rel=1e-13)


def test_stefan_z1_float32_and_batched():
    z32 = cf.stefan_z1(jnp.float32(0.6))
    assert z32.dtype == jnp.float32
    assert float(z32) == pytest.approx(0.5256697996397328, rel=1e-6)
    zb = cf.stefan_z1(jnp.asarray([[0.5, 0.6], [0.55, 0.7]], jnp.float32))
    assert zb.shape == (2, 2)
    assert float(zb[0, 1]) == pytest.approx(float(z32), rel=1e-6)


def test_grad_stefan_z1_matches_finite_differences(x64):
    for u in (0.5, 0.6, 0.7):
        g = float(jax.grad(cf.stefan_z1)(u))
        h = 1e-6
        fd = (float(cf.stefan_z1(u + h)) - float(cf.stefan_z1(u - h))) / (2 * h)
        assert g == pytest.approx(fd, rel=1e-7)
        assert g < 0  # a higher melting value slows the front
    # and through the whole closed form (front position and mass)
    f = lambda u: cf.stefan_mass(0.05, u) + cf.stefan_front(0.05, u)
    h = 1e-6
    fd = (float(f(0.6 + h)) - float(f(0.6 - h))) / (2 * h)
    assert float(jax.grad(f)(0.6)) == pytest.approx(fd, rel=1e-7)


def test_grad_closed_forms_are_finite_at_kinks(x64):
    """The guarded ``where``s keep gradients finite where the solution vanishes."""
    gm = jax.grad(lambda m: jnp.sum(cf.pme_front(jnp.linspace(0.0, 1.0, 11), 0.5, m)))(3.0)
    gt = jax.grad(lambda t: cf.pme_mass(t, 3.0))(0.0)
    gs = jax.grad(lambda t: jnp.sum(cf.stefan(jnp.linspace(0.0, 1.0, 11), t, 0.6)))(0.0)
    for g in (gm, gt, gs):
        assert np.isfinite(float(g))


# --- mass(t) is the integral of exact(x, t) --------------------------------------------------------
# kind: "smooth" (or only kinks) -> trapezoid error O(h^2); "jump" (a discontinuity or a
# root singularity u ~ s^(1/m)) -> trapezoid error at most h * max|u| (one bad panel).
MASS_CASES = [
    (G.Diffusion(1.0), "smooth"),
    (G.Diffusion(4.0, walls="dirichlet"), "smooth"),
    (G.PorousMedium(1.0), "smooth"),
    (G.PorousMedium(3.0), "jump"),
    (G.PorousMedium(6.0), "jump"),
    (G.Stefan(0.5), "jump"),
    (G.Stefan(0.6), "jump"),
    (G.Advection(1.0), "jump"),
    (G.Advection(3.0), "jump"),
    (G.Burgers(1.0), "smooth"),  # ramp with kinks until it breaks at t = 1/a = 1
    (G.Burgers(3.0), "jump"),
]


@pytest.mark.parametrize("problem, kind", MASS_CASES, ids=lambda p: repr(p) if not isinstance(p, str) else p)
def test_mass_equals_fine_quadrature_of_exact(x64, problem, kind):
    x = jnp.linspace(*problem.domain, 20001)
    h = float(x[1] - x[0])
    t = jnp.asarray([f * problem.t_span[1] for f in (0.1, 0.37, 0.8, 1.0)])
    if isinstance(problem, G.Burgers) and kind == "smooth":
        t = t[:-1] * 0.97  # strictly before breaking
    u = problem.exact(x, t)
    assert u.shape == (t.size, x.size)
    quad = jnp.trapezoid(u, x, axis=-1)
    mass = problem.mass(t)
    assert mass.shape == t.shape
    tol = 1e-9 if kind == "smooth" else h * float(jnp.abs(u).max())
    np.testing.assert_allclose(quad, mass, rtol=0, atol=tol)


def test_mass_formulas_closed_values(x64):
    """Masses by hand: heat 0 on a period; advection min(1/2 + a t, 1); Burgers a/2 (1 + a t)
    until the shock exits at t = 3/a, then 2a (all of [-1, 1] at the inflow value)."""
    assert abs(float(G.Diffusion(2.0).mass(0.3))) < 1e-15
    np.testing.assert_allclose(cf.advection_mass(jnp.asarray([0.0, 0.1, 0.5]), 3.0), [0.5, 0.8, 1.0])
    np.testing.assert_allclose(cf.burgers_mass(jnp.asarray([0.0, 0.5, 1.0, 2.0]), 3.0),
                               [1.5, 3.75, 6.0, 6.0])
    # after the shock exits, the exact field is the inflow value everywhere
    x = jnp.linspace(-1, 1, 101)
    np.testing.assert_allclose(cf.burgers_ramp(x, 2.0, 3.0), 3.0)


# --- exact() satisfies its initial and boundary data ----------------------------------------------
ALL_PROBLEMS = [
    G.Diffusion(2.0), G.Diffusion(2.0, walls="dirichlet"), G.Diffusion(2.0, walls="neumann"),
    G.PorousMedium(1.0), G.PorousMedium(3.0), G.PorousMedium(6.0),
    G.Stefan(0.5), G.Stefan(0.6), G.Advection(1.0), G.Advection(3.0), G.Burgers(1.0), G.Burgers(3.0),
]


@pytest.mark.parametrize("problem", ALL_PROBLEMS, ids=repr)
def test_exact_matches_initial_data(x64, problem):
    x = jnp.linspace(*problem.domain, 101)[1:]  # x > a: the wall value may differ at t = 0
    np.testing.assert_allclose(problem.exact(x, jnp.zeros(1))[0], problem.initial(x), atol=1e-15)
    assert problem.exact(x, jnp.linspace(0, 0.1, 3)).shape == (3, 100)


@pytest.mark.parametrize("problem", ALL_PROBLEMS, ids=repr)
def test_exact_matches_boundary_data(x64, problem):
    a, b = problem.domain
    t = jnp.linspace(0.0, problem.t_span[1], 7)[1:-1]  # PME: the front reaches x = 1 at t = 1
    if isinstance(problem, G.Burgers):
        t = t[t < 3.0 / float(problem.a)]  # before the shock leaves
    ux = jax.vmap(jax.grad(problem.exact, argnums=0), in_axes=(None, 0))
    for wall, bc, x in (("left", problem.left, a), ("right", problem.right, b)):
        g = jax.vmap(bc.at)(t) if not isinstance(bc, physcon.Periodic) else None
        if isinstance(bc, physcon.Dirichlet):
            np.testing.assert_allclose(problem.exact(jnp.asarray(x), t), g, atol=1e-14, err_msg=wall)
        elif isinstance(bc, physcon.Neumann):
            # one-sided: evaluate the derivative just inside the wall for piecewise solutions
            inside = x - 1e-9 if wall == "right" else x + 1e-9
            np.testing.assert_allclose(ux(jnp.asarray(inside), t), g, atol=1e-8, err_msg=wall)
        else:
            np.testing.assert_allclose(problem.exact(jnp.asarray(a), t), problem.exact(jnp.asarray(b), t),
                                       atol=1e-14)
            np.testing.assert_allclose(ux(jnp.asarray(a), t), ux(jnp.asarray(b), t), atol=1e-14)


@pytest.mark.parametrize("u_star", [0.5, 0.6])
def test_stefan_exact_front_conditions(x64, u_star):
    """At the front the solution drops from u* to 0 and the front speed obeys the Stefan
    (Rankine-Hugoniot) condition ``u* dx*/dt = -u_x(x*-)`` of the enthalpy form."""
    p = G.Stefan(u_star)
    for t in (0.01, 0.05, 0.1):
        xf = float(p.front(t))
        assert float(p.exact(jnp.asarray(xf - 1e-12), t)) == pytest.approx(u_star, abs=1e-10)
        assert float(p.exact(jnp.asarray(xf + 1e-12), t)) == 0.0
        ux_minus = float(jax.grad(p.exact)(jnp.asarray(xf - 1e-12), t))
        speed = float(jax.grad(p.front)(t))
        assert u_star * speed == pytest.approx(-ux_minus, rel=1e-9)
        # and the mass grows by the flux -u_x(0, t) through the wall (d/dt of mass)
        inflow = -float(jax.grad(p.exact)(jnp.asarray(1e-15), t))
        assert float(jax.grad(p.mass)(t)) == pytest.approx(inflow, rel=1e-9)


def test_pme_exact_solves_pde_behind_front(x64):
    """``u_t = (u^m u_x)_x`` pointwise behind the front (autodiff of the closed form)."""
    for m in (1.0, 3.0, 6.0):
        p = G.PorousMedium(m)
        u = lambda x, t: p.exact(x, t)
        flux = lambda x, t: u(x, t) ** m * jax.grad(u, 0)(x, t)
        for x, t in ((0.1, 0.5), (0.3, 0.9), (0.05, 0.2)):
            lhs = jax.grad(u, 1)(x, t)
            rhs = jax.grad(flux, 0)(x, t)
            assert float(lhs) == pytest.approx(float(rhs), rel=1e-10)


def test_burgers_exact_solves_pde_on_the_ramp(x64):
    p = G.Burgers(2.0)
    u = lambda x, t: p.exact(x, t)
    for x, t in ((-0.5, 0.1), (-0.2, 0.3)):
        ut, ux = jax.grad(u, 1)(x, t), jax.grad(u, 0)(x, t)
        assert float(ut + u(x, t) * ux) == pytest.approx(0.0, abs=1e-12)
    # after breaking the shock moves at the Rankine-Hugoniot speed (a + 0)/2
    xs = lambda t: 0.5 * (2.0 * t - 1.0)
    assert float(u(xs(0.8) - 1e-9, 0.8)) == 2.0 and float(u(xs(0.8) + 1e-9, 0.8)) == 0.0


def test_heat_exact_solves_pde(x64):
    p = G.Diffusion(3.0)
    x, t = 0.7, 0.2
    ut = jax.grad(p.exact, 1)(x, t)
    uxx = jax.grad(jax.grad(p.exact, 0), 0)(x, t)
    assert float(ut) == pytest.approx(3.0 * float(uxx), rel=1e-13)


@pytest.mark.parametrize("mode", ["x64", "x32"])
def test_closed_forms_keep_float32(request, mode):
    """float32 x and t give float32 fields and masses, also with x64 enabled and Python-number
    parameters (which are weakly typed and must not promote the result to float64).
    Checked by tracing (``jax.eval_shape``: same dtype rules, no compilation)."""
    request.getfixturevalue(mode)
    x = jax.ShapeDtypeStruct((5,), jnp.float32)
    t = jax.ShapeDtypeStruct((3,), jnp.float32)
    problems = (G.Diffusion(1.0), G.PorousMedium(3.0), G.Stefan(0.6), G.Advection(2.0), G.Burgers(1.0),
                G.Stefan(jnp.asarray(0.6, jnp.float32)))
    for p in problems:
        assert jax.eval_shape(p.exact, x, t) == jax.ShapeDtypeStruct((3, 5), jnp.float32), p
        assert jax.eval_shape(p.mass, t) == jax.ShapeDtypeStruct((3,), jnp.float32), p
    assert jax.eval_shape(G.Stefan(0.6).front, t).dtype == jnp.float32
    # float64 inputs (x64) or a float64 parameter give float64
    if mode == "x64":
        t64 = jax.ShapeDtypeStruct((3,), jnp.float64)
        assert jax.eval_shape(G.Stefan(0.6).mass, t64).dtype == jnp.float64
        assert jax.eval_shape(G.Stefan(jnp.asarray(0.6, jnp.float64)).mass, t).dtype == jnp.float64


def test_erf_identity_behind_stefan_front(x64):
    """Behind the front the profile is ``1 - c1 erf(x / (2 sqrt t))``, 1 at the wall."""
    _, alpha, c1 = cf.stefan_constants(0.6)
    x = jnp.linspace(0.0, 0.2, 9)
    np.testing.assert_allclose(cf.stefan(x, 0.05, 0.6), 1 - c1 * jsp.erf(x / (2 * jnp.sqrt(0.05))),
                               rtol=1e-15)
    assert float(cf.stefan(0.0, 0.0, 0.6)) == 1.0
