"""Every public callable runs with its defaults (issue 15, item 1).

The public API is enumerated from the package faces: ``physcon.__all__``, recursively through the
subpackages and modules it exports (a module without ``__all__`` contributes the public names it
defines), plus ``physcon.solvers.__all__``. A callable with no required argument is called as it
is. One that needs arguments must be listed in :data:`CALLS` with the minimum a newcomer passes
(and why), or in :data:`ELSEWHERE` with the test that calls it; a newly exported function that is
in neither fails :func:`test_every_public_callable_is_listed`.

Smaller sizes: only where a default call is expensive, and only for size parameters that are not
the point of the call (noted per entry as ``# smaller: ...``). The README's blocks run in
tests/test_readme.py and are not repeated here. Results are checked for finiteness.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import types

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import physcon as pc
from physcon.cli import main as cli_main

KEY = jax.random.PRNGKey(0)


def _public():
    """``{dotted name: object}`` of the public callables, one name per object."""
    out, seen_obj, seen_mod = {}, set(), set()

    def names(mod):
        if hasattr(mod, "__all__"):
            return list(mod.__all__)
        return [n for n in dir(mod) if not n.startswith("_") and getattr(getattr(mod, n), "__module__", None) == mod.__name__]

    def walk(mod, prefix):
        objs = {name: getattr(mod, name) for name in names(mod)}
        for name, obj in objs.items():  # a module's own names first: aliases keep the short name
            if not isinstance(obj, types.ModuleType) and callable(obj) and id(obj) not in seen_obj:
                seen_obj.add(id(obj))
                out[f"{prefix}.{name}"] = obj
        for name, obj in objs.items():
            if isinstance(obj, types.ModuleType) and obj.__name__.startswith("physcon") and obj.__name__ not in seen_mod:
                seen_mod.add(obj.__name__)
                walk(obj, f"{prefix}.{name}")

    walk(pc, "pc")
    walk(importlib.import_module("physcon.solvers"), "pc.solvers")
    return out


PUBLIC = _public()


def _required(obj) -> list[str]:
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return ["?"]
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [p.name for p in sig.parameters.values() if p.default is inspect.Parameter.empty and p.kind in kinds]


# --- shared small inputs -------------------------------------------------------------------------
def _grid():
    return pc.Grid1D.cells(0.0, 1.0, n=16)


def _t():
    return jnp.linspace(0.0, 0.01, 3)


@functools.cache
def _fno(in_channels=2, n_dim=1):
    return pc.models.FNO(n_dim=n_dim, in_channels=in_channels, out_channels=1, modes=4, width=8, key=KEY)


@functools.cache
def _anp():
    return pc.models.ANP(hidden=8, latent=8, heads=2, key=KEY)  # smaller: widths


def _gauss(n=(3, 16)):
    return pc.distributions.DiagonalGaussian(jnp.ones(n), jnp.full(n, 0.1))


@functools.cache
def _law():
    g = _grid()
    return pc.constraints.conservation_law(g, _t(), mass=jnp.ones(3))


@functools.cache
def _stefan_ds():
    return pc.data.generate("stefan", 2, nx=16, nt=3)  # smaller: n, nx, nt


@functools.cache
def _boon_ds():
    return pc.data.operator.boon_dataset("heat_neumann", multi_step=False, quick=True, n=2, nx=16)  # smaller


@functools.cache
def _w(n=16):
    return pc.navier_stokes.gaussian_random_field(KEY, (n, n))


@functools.cache
def _cav_w(n=9):
    return pc.navier_stokes.cavity_initial_vorticity(KEY, n)


def _residual(u, u_t, u_x, u_xx):
    return u_t - u_xx


def _u_fn(p):  # one point p = (t, x)
    return jnp.sin(p[1]) * p[0]


def _tmp(name):
    import tempfile
    from pathlib import Path

    return Path(tempfile.mkdtemp(prefix="physcon-defaults-")) / name


# a producer and its result type share one (cached) call
_DARCY = functools.cache(lambda: pc.darcy.generate_darcy(1, key=KEY, n=5, n_solve=9))
_CAVITY = functools.cache(lambda: NS.generate_cavity_dataset(1, key=KEY, n=9, n_frames=2))
_VORTICITY = functools.cache(lambda: NS.generate(1, shape=(16, 16), n_steps=2))
_WAVE = functools.cache(lambda: pc.wave.generate_wave_neumann(1, nx=9, nt=3))
_STOKES = functools.cache(lambda: pc.solvers.stokes.generate_stokes(1))
_SIM = functools.cache(lambda: G.simulate(G.Stefan(), _grid(), _t()))


# --- callables that need arguments: the minimum a newcomer passes --------------------------------
P = pc
G = pc.gpme
NS = pc.navier_stokes
CALLS = {
    # ground floor
    "pc.Grid1D": lambda: pc.Grid1D.cells(0.0, 1.0, n=16),  # the constructor is Grid1D.cells/nodes
    "pc.boundary_stencil": lambda: pc.boundary_stencil(pc.Neumann(0.0), np.linspace(0, 1, 9), "left"),
    "pc.fd_weights": lambda: pc.fd_weights(0.0, [0.0, 0.5, 1.0], 1),
    # gpme
    "pc.gpme.Simulation": _SIM,  # a result: built by simulate
    "pc.gpme.simulate": _SIM,
    "pc.gpme.solve": lambda: G.solve(G.PorousMedium(), _grid(), _t()),
    "pc.gpme.stable_dt": lambda: G.stable_dt(G.Stefan(), _grid(), 0.1),
    "pc.gpme.stable_substeps": lambda: G.stable_substeps(G.Stefan(), _grid(), _t()),
    # exact (closed forms): the problem parameter at its default
    **{f"pc.gpme.exact.{n}": (lambda n=n: _exact(n)) for n in (
        "advection_mass", "advection_step", "burgers_mass", "burgers_ramp", "heat_sine", "heat_sine_mass",
        "pme_boundary", "pme_front", "pme_mass", "stefan", "stefan_constants", "stefan_front", "stefan_mass",
        "stefan_z1")},
    # darcy
    "pc.darcy.DarcyDataset": _DARCY,  # result of generate_darcy
    "pc.darcy.darcy_apply": lambda: pc.darcy.darcy_apply(jnp.zeros((9, 9)), jnp.ones((9, 9))),
    "pc.darcy.darcy_boundary_flux": lambda: pc.darcy.darcy_boundary_flux(jnp.zeros((9, 9)), jnp.ones((9, 9))),
    "pc.darcy.darcy_coefficient": lambda: pc.darcy.darcy_coefficient(pc.darcy.darcy_grf(KEY, 9)),
    "pc.darcy.darcy_grf": lambda: pc.darcy.darcy_grf(KEY, 9),
    "pc.darcy.darcy_solve": lambda: pc.darcy.darcy_solve(jnp.ones((9, 9))),
    "pc.darcy.default_tolerance": lambda: pc.darcy.default_tolerance((9, 9), jnp.float32),
    "pc.darcy.face_coefficients": lambda: pc.darcy.face_coefficients(jnp.ones((9, 9))),
    "pc.darcy.generate_darcy": _DARCY,  # smaller: n, n_solve
    # navier-stokes (periodic and cavity)
    "pc.navier_stokes.CavityDataset": _CAVITY,  # a result
    "pc.navier_stokes.VorticityDataset": _VORTICITY,  # a result
    "pc.navier_stokes.cavity_fields": lambda: NS.cavity_fields(_cav_w()),
    "pc.navier_stokes.cavity_grid": lambda: NS.cavity_grid(9),
    "pc.navier_stokes.cavity_initial_vorticity": lambda: _cav_w(),
    "pc.navier_stokes.cavity_make_step": lambda: NS.cavity_make_step(NS.LidDrivenCavity(), 1e-3)(_cav_w()[1:-1, 1:-1], 0.0),
    "pc.navier_stokes.cavity_solve": lambda: NS.cavity_solve(NS.LidDrivenCavity(), n=9, dt=1e-3, n_steps=2),
    "pc.navier_stokes.cavity_stable_dt": lambda: NS.cavity_stable_dt(65),
    "pc.navier_stokes.cavity_vorticity": lambda: NS.cavity_vorticity(NS.LidDrivenCavity(), _cav_w()[1:-1, 1:-1], 0.0),
    "pc.navier_stokes.cfl_number": lambda: NS.cfl_number(_w(), 1e-3),
    "pc.navier_stokes.energy": lambda: NS.energy(_w()),
    "pc.navier_stokes.enstrophy": lambda: NS.enstrophy(_w()),
    "pc.navier_stokes.gaussian_random_field": lambda: _w(),
    "pc.navier_stokes.generate": _VORTICITY,  # smaller: shape, n_steps
    "pc.navier_stokes.generate_cavity_dataset": _CAVITY,  # smaller
    "pc.navier_stokes.grid_points": lambda: NS.grid_points((16, 16)),
    "pc.navier_stokes.make_step": lambda: NS.make_step(NS.NavierStokes2D(), (16, 16), 1e-3)(NS.to_spectral(_w())),
    "pc.navier_stokes.output_times": lambda: NS.output_times(1e-3, n_steps=4),
    "pc.navier_stokes.poisson_dirichlet": lambda: NS.poisson_dirichlet(jnp.ones((9, 9))),
    "pc.navier_stokes.solve": lambda: NS.solve(NS.NavierStokes2D(), _w(), dt=1e-3, n_steps=2),
    "pc.navier_stokes.stable_dt": lambda: NS.stable_dt(_w()),
    "pc.navier_stokes.to_physical": lambda: NS.to_physical(NS.to_spectral(_w()), (16, 16)),
    "pc.navier_stokes.to_spectral": lambda: NS.to_spectral(_w()),
    "pc.navier_stokes.velocity": lambda: NS.velocity(_w()),
    # wave
    "pc.wave.WaveDataset": _WAVE,  # a result
    "pc.wave.generate_wave_neumann": _WAVE,  # smaller: nx, nt
    "pc.wave.wave_energy": lambda: pc.wave.wave_energy(jnp.ones((9, 9)), jnp.zeros((9, 9))),
    "pc.wave.wave_neumann_grf": lambda: pc.wave.wave_neumann_grf(KEY, 9),
    "pc.wave.wave_neumann_solve": lambda: pc.wave.wave_neumann_solve(pc.wave.wave_neumann_grf(KEY, 9), jnp.linspace(0, 1, 3)),
    # 1-D operator solvers (physcon.solvers)
    "pc.solvers.BoonDataset": _STOKES,  # a result
    "pc.solvers.stokes.stokes_second": lambda: pc.solvers.stokes.stokes_second(jnp.linspace(0, 1, 5), 0.5, 1.0, 1.0, 1.0),
    "pc.solvers.stokes.generate_stokes": _STOKES,
    "pc.solvers.heat.heater": lambda: pc.solvers.heat.heater(jnp.linspace(0, 1, 3)),
    "pc.solvers.heat.heat_neumann_solve": lambda: _heat(),
    "pc.solvers.heat.generate_heat_neumann": lambda: pc.solvers.heat.generate_heat_neumann(1, nx=16),  # smaller: nx
    "pc.solvers.burgers.grf_periodic": lambda: pc.solvers.burgers.grf_periodic(KEY, 1, 16),
    "pc.solvers.burgers.burgers_periodic_solve": lambda: pc.solvers.burgers.burgers_periodic_solve(
        pc.solvers.burgers.grf_periodic(KEY, 1, 16)[0], jnp.linspace(0, 0.1, 3), nu=0.1, substeps=4),
    "pc.solvers.burgers.generate_burgers_periodic": lambda: pc.solvers.burgers.generate_burgers_periodic(1, nx=16),  # smaller
    "pc.solvers.burgers.burgers_dirichlet_solve": lambda: pc.solvers.burgers.burgers_dirichlet_solve(
        pc.Grid1D.nodes(0.0, 1.0, 17), jnp.sin(jnp.pi * jnp.linspace(0, 1, 17)), jnp.linspace(0, 0.1, 3), nu=0.1, substeps=20),
    "pc.solvers.burgers.generate_burgers_dirichlet": lambda: pc.solvers.burgers.generate_burgers_dirichlet(1, nx=16),  # smaller
    # data
    "pc.data.Dataset": lambda: _stefan_ds(),  # a result: built by generate/load
    "pc.data.Kind": lambda: pc.data.get("stefan"),  # registry entries: built by register
    "pc.data.Tabulated": lambda: pc.data.Tabulated(jnp.linspace(0, 1, 3), jnp.ones(3))(0.5),
    "pc.data.Wall": lambda: _stefan_ds().walls,  # part of a Dataset
    "pc.data.convert_legacy": None,  # ELSEWHERE
    "pc.data.flows.make_cavity": lambda: pc.data.flows.make_cavity(1, nodes=9, n_frames=2),  # smaller: n, nodes, n_frames
    "pc.data.flows.make_darcy": lambda: pc.data.flows.make_darcy(1, nodes=5, n_solve=9),  # smaller: nodes, n_solve
    "pc.data.flows.make_navier_stokes": lambda: pc.data.flows.make_navier_stokes(1, shape=(16, 16), n_steps=2, save_every=1),
    "pc.data.flows.make_wave": lambda: pc.data.flows.make_wave(1, nx=9, nt=3),  # smaller: nx, nt
    "pc.data.generate": lambda: pc.data.generate("stefan", 2, nx=16, nt=3),  # smaller: n, nx, nt
    "pc.data.get": lambda: pc.data.get("stefan"),
    "pc.data.gpme.make": lambda: pc.data.gpme.make("pme", 2, nx=16, nt=3),  # smaller
    "pc.data.gpme.problem_name": lambda: pc.data.gpme.problem_name(G.Stefan),
    "pc.data.gpme.problem_walls": None,  # ELSEWHERE
    "pc.data.info": lambda: _saved(pc.data.info),
    "pc.data.load": lambda: _saved(pc.data.load),
    "pc.data.mass_balance_error": lambda: pc.data.mass_balance_error(_stefan_ds()),
    "pc.data.operator.BoonProblem": lambda: pc.data.operator.get("heat_neumann") if hasattr(pc.data.operator, "get") else None,
    "pc.data.operator.BoonSizes": lambda: pc.data.operator.boon_config("heat_neumann", multi_step=False),
    "pc.data.operator.boon_config": lambda: pc.data.operator.boon_config("heat_neumann", multi_step=False),
    "pc.data.operator.boon_dataset": lambda: _boon_ds(),
    "pc.data.operator.boon_dataset_from_config": lambda: pc.data.operator.boon_dataset_from_config(
        pc.data.operator.boon_config("heat_neumann", multi_step=False, quick=True, n=2, nx=16)),
    "pc.data.operator.boundary_conditions": lambda: pc.data.operator.boundary_conditions("heat_neumann"),
    "pc.data.operator.boundary_values": lambda: pc.data.operator.boundary_values("heat_neumann", _boon_ds()),
    "pc.data.operator.from_operator_pair": lambda: pc.data.operator.from_operator_pair(
        "heat_neumann", pc.data.operator.to_operator_pair(pc.data.generate("heat_neumann", 2, multi_step=False, nx=16))),
    "pc.data.operator.make": lambda: pc.data.operator.make("heat_neumann", 2, multi_step=False, nx=16),  # smaller
    "pc.data.operator.split": lambda: pc.data.operator.split(_boon_ds(), 1, 1),
    "pc.data.operator.to_operator_pair": lambda: pc.data.operator.to_operator_pair(
        pc.data.generate("heat_neumann", 2, multi_step=False, nx=16)),
    "pc.data.operator.with_periodic_endpoint": None,  # ELSEWHERE
    "pc.data.oracle": lambda: pytest.raises(ValueError, pc.data.oracle, 0.5),  # a placeholder: raises by design
    "pc.data.problem_class": lambda: pc.data.problem_class("stefan"),
    "pc.data.read_pdebench": None,  # ELSEWHERE
    "pc.data.regenerate": lambda: pc.data.regenerate(_stefan_ds()),
    "pc.data.register": None,  # ELSEWHERE
    "pc.data.sample_parameters": lambda: pc.data.sample_parameters("stefan", 4, KEY),
    "pc.data.save": lambda: _saved(lambda p: p),
    "pc.data.verify": lambda: _saved(pc.data.verify),
    "pc.data.wall_from_bc": lambda: pc.data.wall_from_bc("x_min", "x", "left", pc.Dirichlet(1.0), t=_t(), n=1, dtype=jnp.float32),
    # distributions, tasks
    "pc.distributions.DiagonalGaussian": lambda: _gauss().sample(KEY, 2),
    "pc.distributions.LowRankGaussian": lambda: pc.distributions.LowRankGaussian(
        jnp.ones((3, 16)), jnp.full((3, 16), 0.1), jnp.full((2, 3, 16), 0.05)).sample(KEY, 2),
    "pc.distributions.ConditionedLowRankGaussian": lambda: pc.constraints.probconserv(  # result of probconserv
        pc.distributions.LowRankGaussian(jnp.ones((3, 16)), jnp.full((3, 16), 0.1), jnp.full((2, 3, 16), 0.05)),
        _law()).sample(KEY, 2),
    "pc.distributions.KroneckerGaussian": lambda: pc.distributions.KroneckerGaussian(
        jnp.ones((3, 16)), jnp.eye(3), 0.1 * jnp.eye(16)).sample(KEY, 2),
    "pc.distributions.DenseGaussian": lambda: pc.distributions.DenseGaussian(jnp.zeros(3), jnp.eye(3)).sample(KEY, 2),
    "pc.distributions.ConditionedGaussian": lambda: pc.constraints.probconserv(_gauss(), _law()),  # result of probconserv
    "pc.tasks.evaluation_grid": lambda: pc.tasks.evaluation_grid((0.0, 1.0), (0.0, 0.1)),
    "pc.tasks.sample_tasks": lambda: {k: v for k, v in pc.tasks.sample_tasks(  # "param": NaN by default (documented)
        _stefan_ds().u, jnp.linspace(0, 1, 16), jnp.linspace(0, 0.1, 3), KEY, n_context=(2, 4), n_target=(2, 4)).items()
        if k != "param"},
    # models
    "pc.models.ANP": lambda: _anp(),  # construction; its forward pass and loss: tests/models/test_anp.py
    "pc.models.ANPEncoding": lambda: _anp().encode(jnp.zeros((3, 2)), jnp.zeros((3, 1))),
    "pc.models.FNO": lambda: _fno()(jnp.zeros((2, 16))),
    "pc.models.Ensemble": lambda: pc.models.Ensemble(lambda k: pc.models.Pointwise(2, 3, key=k), key=KEY),
    "pc.models.members_gaussian": lambda: pc.models.members_gaussian(jnp.arange(6.0).reshape(2, 3)),
    "pc.models.GP": lambda: pc.models.GP().predict(_gp_ctx(), jnp.ones(3), jnp.linspace(0, 1, 3), jnp.linspace(0, 1, 4)),
    "pc.models.GPPrediction": lambda: pc.models.GP().predict(  # result of GP.predict
        _gp_ctx(), jnp.ones(3), jnp.linspace(0, 1, 3), jnp.linspace(0, 1, 4)).sample(KEY, 2),
    "pc.models.fit_gp": lambda: pc.models.fit_gp(_gp_ctx(), jnp.arange(3.0), steps=5),  # fewer steps
    "pc.models.Pointwise": lambda: pc.models.Pointwise(2, 3, key=KEY)(jnp.zeros((2, 16))),
    "pc.models.SpectralConv": lambda: pc.models.SpectralConv(2, 3, 4, key=KEY)(jnp.zeros((2, 16))),
    "pc.models.moment_match": lambda: pc.models.moment_match(_gauss((4, 3, 16))),
    "pc.models.state_dict": lambda: pc.models.state_dict(_anp()),
    "pc.models.load_state_dict": lambda: pc.models.load_state_dict(_anp(), pc.models.state_dict(_anp())),
    **{f"pc.models.anp.{n}": None for n in ("Attention", "Decoder", "DeterministicEncoder", "LatentEncoder")},
    # constraints
    "pc.constraints.BOON": lambda: pc.constraints.BOON(_fno(), left=pc.Neumann(0.0), right=pc.Neumann(0.0))(jnp.ones((2, 16))),
    "pc.constraints.LinearConstraint": lambda: _law(),  # built by conservation_law
    "pc.constraints.boon_conditioning": lambda: pc.constraints.boon_conditioning(
        pc.constraints.BOON(_fno(), left=pc.Dirichlet(0.0), right=pc.Dirichlet(0.0)), jnp.ones((2, 16))),
    "pc.constraints.conservation_law": lambda: _law(),
    "pc.constraints.mass_and_walls": lambda: pc.constraints.mass_and_walls(
        pc.Grid1D.nodes(0.0, 1.0, 16), _t(), mass=jnp.ones(3), left=pc.Dirichlet(0.0)),
    "pc.constraints.conservation_penalty": lambda: pc.constraints.conservation_penalty(jnp.ones((3, 16)), _law()),
    "pc.constraints.constrained_nll": None,  # ELSEWHERE
    "pc.constraints.decouple": None,  # ELSEWHERE
    "pc.constraints.enforce": None,  # ELSEWHERE
    "pc.constraints.hard_projection": lambda: pc.constraints.hard_projection(_gauss(), _law()),
    "pc.constraints.pointwise_residual": lambda: pc.constraints.pointwise_residual(_u_fn, jnp.ones((4, 2)), _residual),
    "pc.constraints.probconserv": lambda: pc.constraints.probconserv(_gauss(), _law()),
    "pc.constraints.soft_penalty": lambda: pc.constraints.soft_penalty(_u_fn, jnp.ones((4, 2)), _residual),
    # metrics
    "pc.metrics.boundary_error": lambda: pc.metrics.boundary_error(jnp.ones(9), jnp.linspace(0, 1, 9), pc.Dirichlet(1.0), pc.Neumann(0.0)),
    "pc.metrics.conservation_error": lambda: pc.metrics.conservation_error(jnp.ones((3, 16)), _grid().quadrature(), 1.0),
    "pc.metrics.convergence_order": lambda: pc.metrics.convergence_order([0.1, 0.05], [1e-2, 2.5e-3]),
    "pc.metrics.crps": lambda: pc.metrics.crps(jnp.zeros(5), jnp.ones(5), jnp.zeros(5)),
    "pc.metrics.l1_error": lambda: pc.metrics.l1_error(jnp.zeros(16), jnp.ones(16), _grid().quadrature()),
    "pc.metrics.log_likelihood": lambda: pc.metrics.log_likelihood(jnp.zeros(5), jnp.ones(5), jnp.zeros(5)),
    "pc.metrics.mean_and_se": lambda: pc.metrics.mean_and_se(jnp.arange(4.0)),
    "pc.metrics.mse": lambda: pc.metrics.mse(jnp.zeros(5), jnp.ones(5)),
    "pc.metrics.relative_l2": lambda: pc.metrics.relative_l2(jnp.zeros(5), jnp.ones(5)),
    "pc.metrics.shock_position": lambda: pc.metrics.shock_position(jnp.linspace(1, -1, 9), jnp.linspace(0, 1, 9)),
    # train
    "pc.train.History": lambda: _fit()[1],  # a result of fit
    "pc.train.batch_indices": lambda: pc.train.batch_indices(KEY, 0, 10, 4),
    "pc.train.fit": lambda: _fit(),
    "pc.train.save_model": lambda: pc.train.save_model(_tmp("m.eqx"), _fno()),
    "pc.train.load_model": lambda: pc.train.load_model(_saved_model(), _fno()),
    "pc.train.read_header": lambda: pc.train.read_header(_saved_model()),
}

# callables whose minimum call needs a file or an object this module does not build: the test
# that calls it (a failing or renamed test is caught by the suite itself)
ELSEWHERE = {
    "pc.data.convert_legacy": "tests/data/test_legacy.py (needs a legacy-format file)",
    "pc.data.read_pdebench": "tests/data/test_pdebench.py (needs a PDEBench file)",
    "pc.data.register": "tests/data/test_well.py (registers a new kind: global state)",
    "pc.data.gpme.problem_walls": "tests/data/test_gpme_data.py (internal to make, exported for kinds)",
    "pc.data.operator.with_periodic_endpoint": "tests/data/test_operator_sets.py",
    "pc.constraints.constrained_nll": "tests/constraints/test_likelihood.py",
    "pc.constraints.decouple": "tests/constraints/test_boundary.py (a BOON building block)",
    "pc.constraints.enforce": "tests/constraints/test_boundary.py (a BOON building block)",
    "pc.models.ensemble_loss": "tests/models/test_ensemble.py (a loss wrapper, trained there with fit)",
    "pc.models.elbo_loss": "tests/models/test_anp.py (an ANP training loss; ~10 s to compile)",
    "pc.models.anp.Attention": "tests/models/test_anp.py (ANP building block, built by ANP)",
    "pc.models.anp.Decoder": "tests/models/test_anp.py (ANP building block, built by ANP)",
    "pc.models.anp.DeterministicEncoder": "tests/models/test_anp.py (ANP building block)",
    "pc.models.anp.LatentEncoder": "tests/models/test_anp.py (ANP building block)",
    **{f"pc.gpme.{m}.{n}": "tests/solvers/gpme/test_fv.py (scheme internals, exported with their module)"
       for m, n in (("fv", "cast_problem"), ("fv", "godunov_fluxes"), ("fv", "kirchhoff_fluxes"),
                    ("problem", "along_batch"), ("problem", "check_positive"), ("problem", "outer"))},
    "pc.navier_stokes.cavity_steady_state": (
        "tests/solvers/navier_stokes/test_cavity.py::test_default_float32_call_converges_and_matches_float64 "
        "(the default call itself, ~5 s)"),
}
# abstract bases: not constructible by design
ABSTRACT = {"pc.gpme.Problem", "pc.gpme.ConservationLaw", "pc.gpme.DiffusionProblem"}


def _exact(name):
    f = getattr(pc.exact, name)
    params = [p for p in inspect.signature(f).parameters]
    args = {"x": jnp.linspace(0.0, 1.0, 5)[None], "t": jnp.linspace(0.01, 0.1, 3)[:, None], "a": 1.0, "k": 1.0, "m": 3.0, "u_star": 0.6}
    return f(*[args[p] for p in params if p in args])


def _heat():
    p = pc.solvers.heat.HeatNeumann()
    g = pc.Grid1D.nodes(0.0, 1.0, 17)
    return pc.solvers.heat.heat_neumann_solve(p, g, jnp.zeros(17), jnp.linspace(0, 0.1, 3))


def _gp_ctx():
    return jnp.array([[0.0, 0.1], [0.5, 0.6], [1.0, 0.3]])


def _saved(then):
    path = _tmp("stefan.h5")
    pc.data.save(path, _stefan_ds())
    return then(path)


def _saved_model():
    path = _tmp("m.eqx")
    pc.train.save_model(path, _fno())
    return path


@functools.cache
def _fit():
    x = jax.random.normal(KEY, (8, 2, 16))
    y = x[:, :1]

    def loss(model, batch, key):
        return jnp.mean((jax.vmap(model)(batch["x"]) - batch["y"]) ** 2)

    return pc.train.fit(_fno(), loss, {"x": x, "y": y}, optax.adam(1e-3), steps=2, batch_size=4, key=KEY, progress=False)


def _finite(out):
    for leaf in jax.tree.leaves(out):
        if isinstance(leaf, (jax.Array, np.ndarray)) and np.issubdtype(np.asarray(leaf).dtype, np.floating):
            assert np.all(np.isfinite(np.asarray(leaf))), "non-finite output"


def test_every_public_callable_is_listed():
    unlisted = [name for name, obj in PUBLIC.items()
                if _required(obj) and name not in CALLS and name not in ABSTRACT and name not in ELSEWHERE]
    assert not unlisted, f"public callables that need arguments but have no minimum call in CALLS: {unlisted}"
    stale = [name for name in list(CALLS) + list(ELSEWHERE) if name not in PUBLIC and True]
    assert not stale, f"listed but no longer public: {stale}"


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_public_callable_runs_with_defaults(name):
    obj = PUBLIC[name]
    if name in ABSTRACT:
        with pytest.raises(TypeError):
            obj()
        return
    if name in ELSEWHERE or CALLS.get(name, 0) is None:
        pytest.skip(ELSEWHERE.get(name, "covered elsewhere"))
    out = CALLS[name]() if name in CALLS else obj()
    _finite(out)


@pytest.mark.parametrize("command", ["demo", "reproduce", "generate", "verify"])
def test_cli_commands_have_help(command, capsys):
    with pytest.raises(SystemExit) as e:
        cli_main([command, "--help"])
    assert e.value.code == 0 and "usage" in capsys.readouterr().out
