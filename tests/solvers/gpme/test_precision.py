"""float32 runs track float64 runs: compensated (Kahan) accumulation of the Euler updates."""

import jax.numpy as jnp
import numpy as np

import physcon as pc


def test_float32_compensated_tracks_float64(x64):
    problem = pc.gpme.Stefan(u_star=0.6)
    grid = pc.Grid1D.cells(*problem.domain, n=100)
    t = jnp.linspace(0.0, 0.1, 3)
    S = pc.gpme.stable_substeps(problem, grid, t)  # 4,445 steps per interval
    ref = pc.gpme.simulate(problem, grid, t, substeps=S)
    f32 = pc.gpme.simulate(problem, grid, t.astype(jnp.float32), substeps=S)
    plain = pc.gpme.simulate(problem, grid, t.astype(jnp.float32), substeps=S, compensated=False)
    assert f32.u.dtype == jnp.float32
    dev = np.abs(np.asarray(f32.u, np.float64) - np.asarray(ref.u)).max()
    dev_plain = np.abs(np.asarray(plain.u, np.float64) - np.asarray(ref.u)).max()
    assert dev < 2e-6 and dev_plain > 10 * dev, (dev, dev_plain)
    mass = grid.integrate(np.asarray(f32.u, np.float64))
    balance = np.abs(mass - mass[0] - np.asarray(f32.inflow, np.float64)).max()
    assert balance < 1e-6 * float(mass[-1])
