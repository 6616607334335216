"""Hostile inputs across the public API (issue 15, item 3): each gives a clear error that names the
argument, eagerly and (for value checks) under ``jax.jit``. Tiny sizes throughout.

BOON's wall-value checks live with the constraints' own tests; here only its channel/rank errors."""

from __future__ import annotations

import os

import equinox as eqx
import h5py
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import physcon as pc

G = pc.gpme
KEY = jax.random.PRNGKey(0)
# eqx.error_if: EquinoxRuntimeError eagerly, JaxRuntimeError under jax.jit (both carry the message)
RUNTIME = (eqx.EquinoxRuntimeError, jax.errors.JaxRuntimeError)


def _cells():
    return pc.Grid1D.cells(0.0, 1.0, 16)


def _sin_cells():
    return pc.Grid1D.cells(0.0, 2 * np.pi, 16)


T = jnp.linspace(0.0, 0.01, 3)


def _fno(in_channels=2):
    return pc.models.FNO(1, in_channels, 1, modes=4, width=8, key=KEY)


def _anp():
    return pc.models.ANP(hidden=8, latent=8, heads=2, key=KEY)


def _law():
    return pc.constraints.conservation_law(_cells(), T, mass=jnp.ones(3))


def _gauss(shape=(3, 16), variance=1.0):
    return pc.distributions.DiagonalGaussian(jnp.zeros(shape), jnp.full(shape, variance))


def _boon():
    return pc.constraints.BOON(_fno(), left=pc.Neumann(0.0), right=pc.Neumann(0.0))


def _fit(data, **kw):
    kw = dict(steps=1, batch_size=2, key=KEY, progress=False) | kw
    return pc.train.fit(_fno(), lambda m, b, k: jnp.mean(jax.vmap(m)(b["x"]) ** 2), data, optax.adam(1e-3), **kw)


def _jit(f, *args):
    return jax.block_until_ready(jax.jit(f)(*args))


NAN16 = jnp.full(16, jnp.nan)
CASES = [
    # --- gpme: data and parameters (NaN/inf, negative, out of range), eagerly and under jit
    ("gpme u0 NaN", lambda: G.solve(G.Stefan(), _cells(), T, u0=NAN16), RUNTIME, "u0"),
    ("gpme u0 NaN, jit", lambda: _jit(lambda u: G.solve(G.Stefan(), _cells(), T, u0=u), NAN16), RUNTIME, "u0"),
    ("gpme u0 inf, jit", lambda: _jit(lambda u: G.solve(G.Stefan(), _cells(), T, u0=u), NAN16.at[3].set(jnp.inf)),
     RUNTIME, "u0"),
    ("gpme negative k", lambda: G.Diffusion(k=-1.0), ValueError, "k"),
    ("gpme negative k, jit", lambda: _jit(lambda k: G.solve(G.Diffusion(k=k), _sin_cells(), T), -1.0), RUNTIME,
     "k .diffusivity."),
    ("gpme inf k, jit", lambda: _jit(lambda k: G.solve(G.Diffusion(k=k), _sin_cells(), T), jnp.inf), RUNTIME,
     "k .diffusivity."),
    ("gpme NaN m", lambda: G.PorousMedium(m=jnp.nan), ValueError, "m .exponent."),
    ("gpme NaN m, jit", lambda: _jit(lambda m: G.solve(G.PorousMedium(m=m), _cells(), T), jnp.nan), RUNTIME,
     "m .exponent."),
    ("gpme u_star out of (0, 1)", lambda: G.Stefan(u_star=1.5), ValueError, "u_star"),
    ("gpme u_star out of (0, 1), jit", lambda: _jit(lambda u: G.solve(G.Stefan(u_star=u), _cells(), T), 1.5),
     RUNTIME, "u_star"),
    # --- gpme: times, shapes, settings
    ("gpme t decreasing", lambda: G.solve(G.Stefan(), _cells(), T[::-1]), ValueError, "t must be strictly increasing"),
    ("gpme t decreasing, jit", lambda: _jit(lambda t: G.solve(G.Stefan(), _cells(), t), T[::-1]), RUNTIME,
     "t must be strictly increasing"),
    ("gpme t NaN", lambda: G.solve(G.Stefan(), _cells(), T.at[1].set(jnp.nan)), ValueError, "t must be"),
    ("gpme t 2-D", lambda: G.solve(G.Stefan(), _cells(), jnp.ones((2, 2))), ValueError, "t must be a 1-D"),
    ("gpme u0 wrong shape", lambda: G.solve(G.Stefan(), _cells(), T, u0=jnp.zeros(15)), ValueError, "u0 must have shape"),
    ("gpme node grid", lambda: G.solve(G.Stefan(), pc.Grid1D.nodes(0.0, 1.0, 16), T), ValueError, "grid must be a cell grid"),
    ("gpme grid off the domain", lambda: G.solve(G.Diffusion(), _cells(), T), ValueError, "grid covers"),
    ("gpme boundary_order 3", lambda: G.solve(G.Stefan(), _cells(), T, boundary_order=3), ValueError, "boundary_order"),
    ("gpme cfl > 1", lambda: G.solve(G.Stefan(), _cells(), T, cfl=2.0), ValueError, "cfl"),
    ("gpme unstable substeps", lambda: G.solve(G.Stefan(), _cells(), T, substeps=1), RUNTIME, "increase substeps"),
    ("gpme max_substeps 0", lambda: G.solve(G.Stefan(), _cells(), T, max_substeps=0), ValueError, "max_substeps"),
    # --- grids and boundary conditions
    ("grid n = 0", lambda: pc.Grid1D.cells(0.0, 1.0, 0), ValueError, "n >= 1"),
    ("grid b < a", lambda: pc.Grid1D.cells(1.0, 0.0, 8), ValueError, "b > a"),
    ("grid NaN end", lambda: pc.Grid1D.cells(0.0, float("nan"), 8), ValueError, "finite end points"),
    ("Neumann order too high for the grid", lambda: pc.boundary_stencil(pc.Neumann(0.0, order=8), np.linspace(0, 1, 5), "left"),
     ValueError, "order 8 needs 9 nodes"),
    ("Neumann order 0", lambda: pc.Neumann(0.0, order=0), ValueError, "order"),
    ("Dirichlet NaN value", lambda: pc.Dirichlet(float("nan")), ValueError, "value must be finite"),
    ("Robin a = b = 0", lambda: pc.Robin(1.0, a=0.0, b=0.0), ValueError, "a and b"),
    ("fd_weights too few points", lambda: pc.fd_weights(0.0, [0.0, 0.5], 2), ValueError, "deriv=2"),
    # --- models: channel counts and ranks
    ("FNO wrong channel count", lambda: _fno()(jnp.zeros((3, 16))), ValueError, "in_channels=2"),
    ("FNO wrong rank", lambda: _fno()(jnp.zeros((2, 16, 16))), ValueError, "n_dim=1"),
    ("FNO batched input (needs vmap)", lambda: _fno()(jnp.zeros((5, 2, 16))), ValueError, "x must have shape"),
    ("FNO modes above the grid's", lambda: pc.models.FNO(1, 2, 1, modes=12, width=8, key=KEY)(jnp.zeros((2, 16))),
     ValueError, "modes=12"),
    ("FNO n_dim 4", lambda: pc.models.FNO(4, 2, 1, modes=4, width=8, key=KEY), ValueError, "n_dim"),
    ("FNO width 0", lambda: pc.models.FNO(1, 2, 1, modes=4, width=0, key=KEY), ValueError, "width"),
    ("ANP wrong x_dim", lambda: _anp()(jnp.zeros((3, 3)), jnp.zeros((3, 1)), jnp.zeros((5, 2)), key=KEY),
     ValueError, "context_x"),
    ("ANP wrong y_dim", lambda: _anp()(jnp.zeros((3, 2)), jnp.zeros((3, 2)), jnp.zeros((5, 2)), key=KEY),
     ValueError, "context_y"),
    ("ANP context sizes differ", lambda: _anp()(jnp.zeros((3, 2)), jnp.zeros((4, 1)), jnp.zeros((5, 2)), key=KEY),
     ValueError, "context_y has 4 points"),
    ("ANP heads do not divide hidden", lambda: pc.models.ANP(hidden=10, heads=3, key=KEY), ValueError, "heads=3"),
    ("BOON wrong channel count", lambda: _boon()(jnp.ones((3, 16))), ValueError, "in_channels=2"),
    ("BOON wrong rank", lambda: _boon()(jnp.ones((2, 16, 16))), ValueError, "a must have shape"),
    # --- distributions, constraints, metrics
    ("negative variance", lambda: _gauss(variance=-1.0), RUNTIME, "variance"),
    ("negative variance, jit", lambda: _jit(lambda v: pc.distributions.DiagonalGaussian(jnp.zeros(3), v).log_prob(jnp.zeros(3)),
                                       -jnp.ones(3)),
     RUNTIME, "variance"),
    ("mean/variance shapes", lambda: pc.distributions.DiagonalGaussian(jnp.zeros(3), jnp.ones(4)), ValueError, "mean and variance"),
    ("mass wrong shape", lambda: pc.constraints.conservation_law(_cells(), T, mass=jnp.ones(4)), ValueError, "mass must have shape"),
    ("mass NaN", lambda: pc.constraints.conservation_law(_cells(), T, mass=jnp.array([1.0, jnp.nan, 1.0])), RUNTIME, "mass"),
    ("negative constraint noise", lambda: pc.constraints.conservation_law(_cells(), T, mass=jnp.ones(3), noise=-1.0),
     RUNTIME, "noise"),
    ("prediction off the law's grid", lambda: pc.constraints.probconserv(_gauss((3, 15)), _law()), ValueError, "prediction has shape"),
    ("constraint G wrong rank", lambda: pc.constraints.probconserv(_gauss(), pc.constraints.LinearConstraint(G=jnp.zeros((1, 16)), b=jnp.ones(1))),
     ValueError, "G must have shape"),
    ("singular constraint (zero variance, no noise)", lambda: pc.constraints.probconserv(_gauss(variance=0.0), _law()),
     RUNTIME, "singular|variance|noise"),
    ("metric shapes", lambda: pc.metrics.mse(jnp.zeros(3), jnp.zeros(4)), ValueError, "pred and true"),
    ("CRPS negative variance", lambda: pc.metrics.crps(jnp.zeros(3), -jnp.ones(3), jnp.zeros(3)), RUNTIME, "variance"),
    ("CRPS negative variance, jit", lambda: _jit(pc.metrics.crps, jnp.zeros(3), -jnp.ones(3), jnp.zeros(3)), RUNTIME, "variance"),
    ("shock x wrong shape", lambda: pc.metrics.shock_position(jnp.zeros(9), jnp.zeros(8)), ValueError, "x must have shape"),
    # --- other solvers
    ("cavity n too small", lambda: pc.navier_stokes.cavity_steady_state(n=3), ValueError, "n must be an int >= 5"),
    ("cavity negative reynolds", lambda: pc.navier_stokes.LidDrivenCavity(reynolds=-1.0), ValueError, "reynolds"),
    ("cavity negative dt", lambda: pc.navier_stokes.cavity_solve(pc.navier_stokes.LidDrivenCavity(), n=9, dt=-1e-3, n_steps=2),
     ValueError, "dt"),
    ("NS NaN vorticity", lambda: pc.navier_stokes.solve(pc.navier_stokes.NavierStokes2D(), jnp.full((16, 16), jnp.nan), dt=1e-3, n_steps=2),
     ValueError, "w0"),
    ("NS negative viscosity", lambda: pc.navier_stokes.NavierStokes2D(viscosity=-1.0), ValueError, "viscosity"),
    ("Darcy negative coefficient", lambda: pc.darcy.darcy_solve(-jnp.ones((9, 9))), RUNTIME, "a "),
    ("Darcy rank", lambda: pc.darcy.darcy_solve(jnp.ones(9)), ValueError, "a must be a 2-D"),
    ("wave t decreasing", lambda: pc.wave.wave_neumann_solve(jnp.ones((9, 9)), jnp.linspace(1, 0, 3)), ValueError, "t must be"),
    ("wave negative c", lambda: pc.wave.wave_neumann_solve(jnp.ones((9, 9)), jnp.linspace(0, 1, 3), c=-1.0), ValueError, "c must be"),
    # --- data generation and training
    ("unknown data kind", lambda: pc.data.generate("nope", 2), ValueError, "kind must be one of"),
    ("negative nx", lambda: pc.data.generate("stefan", 2, nx=-1, nt=3), ValueError, "n >= 1"),
    ("too many context points", lambda: pc.tasks.sample_tasks(np.zeros((2, 3, 16)), np.linspace(0, 1, 16), np.linspace(0, 0.1, 3),
                                                              KEY, n_context=(10, 10)), ValueError, "n_context"),
    ("batch_size above N", lambda: _fit({"x": jnp.zeros((4, 2, 16))}, batch_size=8), ValueError, "batch_size=8"),
    ("steps 0", lambda: _fit({"x": jnp.zeros((4, 2, 16))}, steps=0), ValueError, "steps"),
    ("ragged data", lambda: _fit({"x": jnp.zeros((4, 2, 16)), "y": jnp.zeros((5, 1, 16))}), ValueError, "leading sample axis"),
]


@pytest.mark.parametrize("call, error, match", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_input_is_refused_clearly(call, error, match):
    with pytest.raises(error, match=match):
        call()


# --- files: foreign, truncated, bit-flipped, overwritten -------------------------------------------
@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("files") / "stefan.h5"
    pc.data.save(path, pc.data.generate("stefan", 2, nx=16, nt=3))
    return path


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.h5"):
        pc.data.load(tmp_path / "nope.h5")


def test_foreign_hdf5_file(tmp_path):
    path = tmp_path / "foreign.h5"
    with h5py.File(path, "w") as f:
        f["u"] = np.zeros(3)
    with pytest.raises(ValueError, match="not a physcon data file"):
        pc.data.load(path)


def test_truncated_hdf5_file(tmp_path, saved):
    path = tmp_path / "cut.h5"
    path.write_bytes(saved.read_bytes()[: saved.stat().st_size // 2])
    with pytest.raises(ValueError, match="cut.h5 is not a readable HDF5 file"):
        pc.data.load(path)


def test_bit_flipped_hdf5_file_fails_its_checksum(tmp_path, saved):
    with h5py.File(saved, "r") as f:
        chunk = f["t0_fields/u"].id.get_chunk_info(0)
    raw = bytearray(saved.read_bytes())
    raw[chunk.byte_offset + chunk.size // 2] ^= 0x10  # one bit inside the field's stored data
    path = tmp_path / "flipped.h5"
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="flipped.h5: could not read the data .*checksum"):
        pc.data.load(path)


def test_saving_over_an_existing_file_is_refused(saved):
    before = saved.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        pc.data.save(saved, pc.data.load(saved))
    assert saved.read_bytes() == before


def test_truncated_and_foreign_model_files(tmp_path):
    path = tmp_path / "m.eqx"
    pc.train.save_model(path, _fno())
    raw = path.read_bytes()
    path.write_bytes(raw[:-100])
    with pytest.raises(ValueError, match="m.eqx: the file's arrays do not fit the skeleton"):
        pc.train.load_model(path, _fno())
    path.write_bytes(b"hello\n")
    with pytest.raises(ValueError, match="m.eqx is not a physcon model or checkpoint file"):
        pc.train.load_model(path, _fno())


def test_checkpoint_file_exists_and_truncated_checkpoint(tmp_path):
    path = tmp_path / "run.ckpt"
    data = {"x": jnp.zeros((4, 2, 16))}
    _fit(data, steps=2, checkpoint=path)
    with pytest.raises(FileExistsError, match="resume=True"):
        _fit(data, steps=2, checkpoint=path)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) - 64])
    with pytest.raises(ValueError, match="run.ckpt"):
        _fit(data, steps=4, checkpoint=path, resume=True)


def test_there_are_at_least_forty_hostile_inputs():
    assert len(CASES) + 7 >= 40
