"""The 2-D dataset kinds: periodic Navier-Stokes, the lid-driven cavity, the Neumann wave, Darcy flow.

* ``"navier_stokes"``: vorticity ``(n, nt, nx, ny)`` of the periodic pseudo-spectral solver
  (:func:`physcon.navier_stokes.generate`) from Gaussian-random-field initial data; the FNO
  paper's set-up (``flow="fno"``) or Kolmogorov flow (``flow="kolmogorov"``); periodic in x, y.
* ``"cavity"``: lid-driven cavity vorticity (:func:`physcon.navier_stokes.generate_cavity_dataset`),
  the initial field as frame 0 at ``t = 0``; the lid speed per sample in ``params``; the walls'
  vorticity is Dirichlet with values read from the field (Thom's formula, BOON's oracle).
* ``"wave"``: ``u_tt = c^2 lap u`` with zero Neumann walls (:func:`physcon.wave.generate_wave_neumann`),
  the initial displacement as frame 0 at ``t = 0``.
* ``"darcy"``: steady Darcy flow ``-div(a grad p) = f`` (:func:`physcon.darcy.generate_darcy`), the
  FNO paper's benchmark: the coefficient ``a`` a time-independent field (``static``), the pressure
  ``p`` a one-frame field at ``t = 0`` (the_well reads the pair with ``n_steps_input=0``), Dirichlet
  walls with the constant ``boundary`` value.
"""

from __future__ import annotations

import jax
import numpy as np

from physcon.bc import Dirichlet, Neumann
from physcon.data.dataset import Dataset, Wall, wall_from_bc
from physcon.data.kinds import Kind, register
from physcon.solvers import darcy, navier_stokes, wave

__all__ = ["make_navier_stokes", "make_cavity", "make_wave", "make_darcy"]


def _dtype(dtype) -> str:
    import jax.numpy as jnp

    return str(np.dtype(jax.dtypes.canonicalize_dtype(jnp.result_type(float) if dtype is None else dtype)))


def _box_walls(t, n, dtype, bc, *, lengths=(1.0, 1.0), field="u", from_field=False) -> tuple[Wall, ...]:
    return tuple(wall_from_bc(f"{d}_{side}", d, "left" if side in ("left", "bottom") else "right", bc, t=t, n=n,
                              dtype=dtype, fields=(field,), position=0.0 if side in ("left", "bottom") else length,
                              from_field=from_field)
                 for d, length, sides in (("x", lengths[0], ("left", "right")), ("y", lengths[1], ("bottom", "top")))
                 for side in sides)


def make_navier_stokes(n: int, *, seed: int = 0, progress: bool = False, flow: str = "fno", viscosity: float = 1e-3,
                       drag: float = 0.1, wavenumber: int = 4, shape=(64, 64), dt: float = 1e-4,
                       n_steps: int | None = 1000, save_every: int = 100, t_out=None,
                       stepper: str = "CrankNicolsonRK4", grf: dict | None = None, batch_size: int | None = None,
                       dtype=None, mesh=None) -> Dataset:
    """Periodic 2-D Navier-Stokes vorticity (:func:`physcon.navier_stokes.generate`).

    ``flow``: ``"fno"`` (unit box, the FNO paper's forcing, no drag; ``viscosity``) or
    ``"kolmogorov"`` (``[0, 2 pi)^2``, ``sin(wavenumber y)`` forcing, ``viscosity``, ``drag``).
    ``stepper``: a class name of :mod:`physcon.navier_stokes` (``"CrankNicolsonRK4"``,
    ``"IntegratingFactorRK4"``, ...). Times: ``n_steps`` steps of ``dt`` saved every
    ``save_every`` (default 11 frames, ``t = 0, 0.01, ..., 0.1``), or ``t_out``.
    ``batch_size`` is stored (it fixes the compiled batch); ``mesh`` only shards.
    """
    if flow == "fno":
        eq = navier_stokes.NavierStokes2D.fno(viscosity=viscosity)
        constants = {"viscosity": float(viscosity)}
    elif flow == "kolmogorov":
        eq = navier_stokes.NavierStokes2D.kolmogorov(viscosity=viscosity, drag=drag, wavenumber=int(wavenumber))
        constants = {"viscosity": float(viscosity), "drag": float(drag)}
    else:
        raise ValueError(f"flow must be 'fno' or 'kolmogorov', got {flow!r}")
    step_cls = getattr(navier_stokes, str(stepper), None)
    if not (isinstance(step_cls, type) and issubclass(step_cls, navier_stokes.Stepper)):
        raise ValueError(f"stepper must name a physcon.navier_stokes Stepper class, got {stepper!r}")
    dtype = _dtype(dtype)
    if t_out is not None:
        t_out, n_steps = [float(v) for v in np.asarray(t_out, float).ravel()], None
    ds = navier_stokes.generate(n, seed=seed, shape=tuple(int(s) for s in shape), equation=eq, dt=dt, n_steps=n_steps,
                                save_every=save_every, t_out=t_out, stepper=step_cls(), grf=grf,
                                batch_size=batch_size, mesh=mesh, dtype=dtype, progress=progress)
    t = np.asarray(ds.t, ds.w.dtype)
    walls = tuple(Wall(f"{d}_periodic", d, "both", "periodic", fields=("vorticity",)) for d in ("x", "y"))
    settings = {"flow": flow, "viscosity": float(viscosity), "drag": float(drag), "wavenumber": int(wavenumber),
                "shape": [int(s) for s in shape], "dt": float(dt), "n_steps": n_steps, "save_every": int(save_every),
                "t_out": t_out, "stepper": step_cls.__name__, "grf": None if grf is None else dict(grf),
                "batch_size": batch_size, "dtype": dtype}
    return Dataset("navier_stokes", t, {"x": np.asarray(ds.x, t.dtype), "y": np.asarray(ds.y, t.dtype)},
                   {"vorticity": ds.w}, constants=constants, walls=walls, settings=settings, seed=int(seed))


def make_cavity(n: int = 1200, *, seed: int = 0, progress: bool = False, nodes: int = 100, reynolds: float = 100.0,
                t_final: float = 1.0, n_frames: int = 25, amplitude: float = 0.5, modes: int = 4,
                decay: float = 2.0, lid_speed=1.0, dt: float | None = None, batch_size: int = 64,
                dtype=None) -> Dataset:
    """Lid-driven cavity vorticity (:func:`physcon.navier_stokes.generate_cavity_dataset` with
    ``key = PRNGKey(seed)`` and ``n = nodes`` points per side; defaults are BOON's sizes).
    ``vorticity (n, 1 + n_frames, nodes, nodes)``, frame 0 the initial field at ``t = 0``."""
    dtype = _dtype(dtype)
    lid = float(lid_speed) if np.ndim(lid_speed) == 0 else [float(v) for v in lid_speed]
    ds = navier_stokes.generate_cavity_dataset(
        n, key=jax.random.PRNGKey(seed), n=nodes, reynolds=reynolds, t_final=t_final, n_frames=n_frames,
        amplitude=amplitude, modes=modes, decay=decay, lid_speed=lid if np.ndim(lid) == 0 else tuple(lid), dt=dt,
        batch_size=batch_size, dtype=dtype, progress=progress)
    w = np.concatenate([ds.w0[:, None], ds.w], axis=1)
    t = np.concatenate([np.zeros(1), ds.t]).astype(w.dtype)
    walls = _box_walls(t, n, w.dtype, Dirichlet(0.0), field="vorticity", from_field=True)
    settings = {"nodes": int(nodes), "reynolds": float(reynolds), "t_final": float(t_final), "n_frames": int(n_frames),
                "amplitude": float(amplitude), "modes": int(modes), "decay": float(decay), "lid_speed": lid,
                "dt": None if dt is None else float(dt), "batch_size": int(batch_size), "dtype": dtype}
    return Dataset("cavity", t, {"x": ds.x.astype(w.dtype), "y": ds.y.astype(w.dtype)}, {"vorticity": w},
                   params={"lid_speed": ds.lid_speed}, constants={"reynolds": float(reynolds)}, walls=walls,
                   settings=settings, seed=int(seed))


def make_wave(n: int, *, seed: int = 0, progress: bool = False, nx: int = 50, nt: int = 25, t_final: float = 1.0,
              c: float = 1.0, modes: int = 16, dtype=None) -> Dataset:
    """2-D wave with zero Neumann walls (:func:`physcon.wave.generate_wave_neumann`), unit
    square, ``u (n, 1 + nt, nx, nx)``, frame 0 the initial displacement at ``t = 0``; the walls
    carry ``Neumann(0.0, order=2)`` (BOON's 2-D stencil)."""
    from tqdm.auto import tqdm

    dtype = _dtype(dtype)
    bar = tqdm(total=n, desc=f"wave {nx}x{nx}", unit="sample", disable=not progress)
    ds = wave.generate_wave_neumann(n, nx=nx, nt=nt, t_final=t_final, c=c, modes=modes, seed=seed, dtype=dtype)
    u = np.concatenate([np.asarray(ds.a)[:, None], np.asarray(ds.u)], axis=1)
    bar.update(n)
    bar.close()
    t = np.concatenate([np.zeros(1, u.dtype), np.asarray(ds.t)])
    x = np.asarray(ds.x)
    settings = {"nx": int(nx), "nt": int(nt), "t_final": float(t_final), "c": float(c), "modes": int(modes),
                "dtype": dtype}
    return Dataset("wave", t, {"x": x, "y": x.copy()}, {"u": u}, constants={"c": float(c)},
                   walls=_box_walls(t, n, u.dtype, Neumann(0.0, order=2)), settings=settings, seed=int(seed))


def make_darcy(n: int, *, seed: int = 0, progress: bool = False, nodes: int = 85, n_solve: int = 421,
               alpha: float = 2.0, tau: float = 3.0, modes: int | None = None, a_high: float = 12.0,
               a_low: float = 3.0, f: float = 1.0, boundary: float = 0.0, face: str = "harmonic",
               rtol: float | None = None, batch_size: int = 8, dtype=None) -> Dataset:
    """Darcy flow on the unit square (:func:`physcon.darcy.generate_darcy` with ``key =
    PRNGKey(seed)``; defaults: the FNO paper's family solved on 421 nodes per side and subsampled
    to ``nodes = 85``). ``pressure (n, 1, nodes, nodes)``, ``static["coefficient"] (n, nodes, nodes)``.
    ``batch_size`` is stored: it fixes the compiled ``vmap`` batch of the CG solves."""
    dtype = _dtype(dtype)
    ds = darcy.generate_darcy(n, key=jax.random.PRNGKey(seed), n=nodes, n_solve=n_solve, alpha=alpha, tau=tau,
                              modes=modes, a_high=a_high, a_low=a_low, f=f, boundary=boundary, face=face, rtol=rtol,
                              batch_size=batch_size, dtype=dtype, progress=progress)
    p, a = np.asarray(ds.p)[:, None], np.asarray(ds.a)
    t = np.zeros(1, p.dtype)
    x = np.asarray(ds.x)
    settings = {"nodes": int(nodes), "n_solve": int(n_solve), "alpha": float(alpha), "tau": float(tau),
                "modes": None if modes is None else int(modes), "a_high": float(a_high), "a_low": float(a_low),
                "f": float(f), "boundary": float(boundary), "face": str(face),
                "rtol": None if rtol is None else float(rtol), "batch_size": int(batch_size), "dtype": dtype}
    return Dataset("darcy", t, {"x": x, "y": x.copy()}, {"pressure": p}, static={"coefficient": a},
                   constants={"f": float(f)}, walls=_box_walls(t, n, p.dtype, Dirichlet(float(boundary)),
                                                              field="pressure"),
                   settings=settings, seed=int(seed))


register(Kind("navier_stokes", "flows", make_navier_stokes, execution=("progress", "mesh"),
              description="2-D incompressible Navier-Stokes, vorticity form, periodic in x and y"))
register(Kind("cavity", "flows", make_cavity,
              description="lid-driven cavity, streamfunction-vorticity; Dirichlet vorticity walls (Thom)"))
register(Kind("wave", "flows", make_wave, description="2-D wave equation, zero Neumann walls on the unit square"))
register(Kind("darcy", "flows", make_darcy,
              description="steady Darcy flow -div(a grad p) = f on the unit square, Dirichlet walls"))
