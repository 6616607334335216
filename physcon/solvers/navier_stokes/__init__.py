"""2-D incompressible Navier-Stokes (``physcon.navier_stokes``).

The periodic pseudo-spectral vorticity solver: ``w_t + u . grad w = nu lap w - alpha w + f``
on ``[0, Lx) x [0, Ly)`` with ``lap psi = -w``, ``(u, v) = (psi_y, -psi_x)``; 2/3 dealiasing,
IMEX (Crank-Nicolson + low-storage RK) or integrating-factor RK4 time stepping, the FNO
paper's and Kolmogorov forcing, linear drag, the FNO paper's Gaussian-random-field initial
vorticity, CFL and NaN checks. Made of :mod:`~physcon.solvers.navier_stokes.spectral` (equation,
discretisation, diagnostics), :mod:`~physcon.solvers.navier_stokes.steppers` (time schemes) and
:mod:`~physcon.solvers.navier_stokes.periodic` (``solve``, ``make_step``, ``generate``)::

    import jax, physcon.solvers.navier_stokes as ns

    eq = ns.NavierStokes2D.fno(viscosity=1e-3)      # FNO paper: unit box, 0.1 (sin + cos) 2 pi (x + y)
    w0 = ns.gaussian_random_field(jax.random.PRNGKey(0), (64, 64))
    w = ns.solve(eq, w0, dt=1e-4, n_steps=10_000, save_every=1000)     # (11, 64, 64), t = 0, 0.1, ..., 1
    w = ns.solve(eq, w0, dt=1e-4, t_out=[1.0, 2.0, 3.0])               # frames at given times
    b = jax.vmap(lambda w0: ns.solve(eq, w0, dt=1e-4, n_steps=100))(w0s)   # or pass (B, nx, ny)
    ds = ns.generate(64, seed=0, shape=(64, 64), equation=eq, dt=1e-4, t_out=[0.0, 1.0],
                     mesh=ns.batch_mesh())                              # sharded over all devices
    kf = ns.NavierStokes2D.kolmogorov()             # [0, 2 pi)^2, sin(4y) body force, drag 0.1

The lid-driven cavity (:mod:`~physcon.solvers.navier_stokes.cavity`: streamfunction-vorticity,
SSP-RK3; :mod:`~physcon.solvers.navier_stokes.cavity_poisson`: node grid and DST-I Poisson solve;
:mod:`~physcon.solvers.navier_stokes.cavity_stencils`: Thom walls, velocity, transport;
:mod:`~physcon.solvers.navier_stokes.cavity_data`: random data sets) is re-exported here, so this module is the one public namespace for 2-D Navier-Stokes::

    x, y, u, v = ns.cavity_steady_state(reynolds=100.0, n=65)   # lid y = 1, speed 1
    w = ns.cavity_solve(ns.LidDrivenCavity(reynolds=100.0), n=65, dt=ns.cavity_stable_dt(65), n_steps=100)
    ds = ns.generate_cavity_dataset(1200, key=jax.random.PRNGKey(0))   # BOON's sizes
"""

from physcon.solvers.navier_stokes.cavity import (
    LidDrivenCavity,
    cavity_make_step,
    cavity_solve,
    cavity_stable_dt,
    cavity_steady_state,
    cavity_vorticity,
)
from physcon.solvers.navier_stokes.cavity_data import CavityDataset, cavity_initial_vorticity, generate_cavity_dataset
from physcon.solvers.navier_stokes.cavity_poisson import cavity_grid, poisson_dirichlet
from physcon.solvers.navier_stokes.cavity_stencils import cavity_fields

from physcon.solvers.navier_stokes.periodic import (
    VorticityDataset,
    batch_mesh,
    generate,
    make_step,
    output_times,
    solve,
)
from physcon.solvers.navier_stokes.spectral import (
    FNOForcing,
    Forcing,
    KolmogorovForcing,
    NavierStokes2D,
    cfl_number,
    energy,
    enstrophy,
    gaussian_random_field,
    grid_points,
    stable_dt,
    to_physical,
    to_spectral,
    velocity,
)
from physcon.solvers.navier_stokes.steppers import (
    CrankNicolsonRK2,
    CrankNicolsonRK3,
    CrankNicolsonRK4,
    IntegratingFactorRK4,
    Stepper,
)

__all__ = [
    "Forcing", "FNOForcing", "KolmogorovForcing", "NavierStokes2D",
    "Stepper", "CrankNicolsonRK2", "CrankNicolsonRK3", "CrankNicolsonRK4", "IntegratingFactorRK4",
    "grid_points", "gaussian_random_field", "velocity", "energy", "enstrophy", "cfl_number",
    "stable_dt", "to_spectral", "to_physical", "make_step", "solve", "output_times",
    "VorticityDataset", "generate", "batch_mesh",
    # lid-driven cavity
    "LidDrivenCavity", "cavity_make_step", "cavity_solve", "cavity_stable_dt", "cavity_steady_state",
    "cavity_vorticity", "cavity_fields", "cavity_grid", "poisson_dirichlet",
    "CavityDataset", "cavity_initial_vorticity", "generate_cavity_dataset",
]
