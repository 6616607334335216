"""Solving the periodic vorticity equation: :func:`solve` (checked, ``lax.scan`` over saved
frames), :func:`make_step` (one unchecked step on the spectral state) and :func:`generate`
(datasets from random initial vorticity, batched and sharded over a device mesh).

Checks: :func:`solve` checks the initial field (``ValueError`` eagerly; ``eqx.error_if``
under ``jit``): finite, Courant number ``dt max(|u|/dx + |v|/dy)`` at most the stepper's
``max_cfl``; and every saved frame with ``eqx.error_if`` (a blow-up or a flow that speeds up
past the limit is reported, not silently returned as NaN).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from jaxtyping import Array, Float

from physcon.solvers._checks import _as_leaves, _dtype
from physcon.solvers.navier_stokes.spectral import (
    Field,
    NavierStokes2D,
    Spectrum,
    _explicit,
    _operators,
    _shape,
    cfl_number,
    gaussian_random_field,
    to_physical,
    to_spectral,
)
from physcon.solvers.navier_stokes.steppers import CrankNicolsonRK4, Stepper

__all__ = ["make_step", "output_times", "solve", "VorticityDataset", "generate", "batch_mesh"]


def make_step(
    equation: NavierStokes2D,
    shape: tuple[int, int],
    dt,
    stepper: Stepper | None = None,
    dtype=None,
) -> Callable[[Spectrum], Spectrum]:
    """One time step ``w_hat -> w_hat`` on the ``rfft2`` state (:func:`to_spectral`), shape
    ``(..., nx, ny // 2 + 1)``; a pure function (``jit``, ``vmap``, ``grad``, ``lax.scan``).
    No checks: :func:`solve` is the checked entry point. ``dt`` may be traced."""
    stepper = CrankNicolsonRK4() if stepper is None else stepper
    if not isinstance(stepper, Stepper):
        raise ValueError(f"stepper must be a physcon Stepper (e.g. CrankNicolsonRK4()), got {stepper!r}")
    ops = _operators(equation, _shape(shape), dtype)
    dt = jnp.asarray(dt, _dtype(dtype))
    return stepper.make(lambda w_hat: _explicit(ops, w_hat), ops.linear, dt)


def output_times(dt: float, *, n_steps: int | None = None, save_every: int = 1, t_out=None):
    """``(n_skip, save_every, n_frames)``: steps before the first frame, steps between frames,
    and the number of frames, from either ``n_steps`` (+ ``save_every``; frames at steps
    ``0, k, 2k, ..., n_steps``) or ``t_out`` (concrete, equally spaced, each a multiple of
    ``dt`` to 1e-6 relative; the run starts at ``t = 0``)."""
    if (n_steps is None) == (t_out is None):
        raise ValueError("give exactly one of n_steps (with save_every) or t_out")
    if t_out is None:
        for name, val, low in (("n_steps", n_steps, 0), ("save_every", save_every, 1)):
            if isinstance(val, bool) or int(val) != val or val < low:
                raise ValueError(f"{name} must be an int >= {low}, got {val!r}")
        if n_steps % save_every:
            raise ValueError(f"n_steps ({n_steps}) must be a multiple of save_every ({save_every})")
        return 0, int(save_every), int(n_steps) // int(save_every) + 1
    try:
        t = np.asarray(t_out, np.float64)
        dt_ = float(dt)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError) as err:
        raise ValueError("t_out and dt must be concrete (they fix the scan's length); pass n_steps/save_every under jit") from err
    if t.ndim != 1 or t.size < 1 or not np.all(np.isfinite(t)) or t[0] < 0:
        raise ValueError(f"t_out must be a 1-D array of finite times >= 0, got {t_out!r}")
    steps = t / dt_
    if not np.allclose(steps, np.round(steps), rtol=1e-6, atol=1e-6):
        raise ValueError(f"every time in t_out must be a multiple of dt = {dt_}")
    steps = np.round(steps).astype(int)
    gaps = np.diff(steps)
    if gaps.size and (np.any(gaps <= 0) or np.any(gaps != gaps[0])):
        raise ValueError("t_out must be strictly increasing and equally spaced")
    return int(steps[0]), int(gaps[0]) if gaps.size else 1, int(t.size)


def solve(
    equation: NavierStokes2D,
    w0: Field,
    *,
    dt: float,
    n_steps: int | None = None,
    save_every: int = 1,
    t_out=None,
    stepper: Stepper | None = None,
    max_cfl: float | None = None,
    check_frames: bool = True,
) -> Float[Array, "*batch nt nx ny"]:
    """Integrate the vorticity ``w0`` and return the saved frames.

    Args:
        equation: the :class:`NavierStokes2D` problem (viscosity, drag, forcing, box).
        w0: initial vorticity, shape ``(nx, ny)`` or ``(*batch, nx, ny)`` (a batch is solved
            in one loop, as ``vmap`` would); its floating dtype is the result's.
        dt: time step (s); may be traced under ``jit`` unless ``t_out`` is given.
        n_steps, save_every: run ``n_steps`` steps (a multiple of ``save_every``) and save
            every ``save_every``-th state: ``n_steps // save_every + 1`` frames at
            ``t = 0, k dt, ..., n_steps dt``, the first being ``w0``. Static ints.
        t_out: instead, the output times: concrete, equally spaced multiples of ``dt`` from
            ``t >= 0`` (``t = 0`` is ``w0``).
        stepper: the scheme (default :class:`CrankNicolsonRK4`).
        max_cfl: the largest allowed Courant number (default ``stepper.max_cfl``).
        check_frames: check every saved frame (finite, Courant number below ``max_cfl``)
            with ``eqx.error_if``; costs two FFTs per frame.

    Returns:
        The vorticity at the output times, shape ``(*batch, nt, nx, ny)``.

    Raises:
        ValueError: (eagerly) bad shapes or arguments; non-finite ``w0``, or an initial
            Courant number above ``max_cfl``, when ``w0`` and ``dt`` are concrete.
        RuntimeError: ``eqx.error_if`` (also under ``jit``): the same value checks on traced
            inputs, negative viscosity/drag, and a non-finite frame or a Courant number above
            ``max_cfl`` at a saved frame (a blow-up: reduce ``dt``).
    """
    stepper = CrankNicolsonRK4() if stepper is None else stepper
    if not isinstance(stepper, Stepper):
        raise ValueError(f"stepper must be a physcon Stepper (e.g. CrankNicolsonRK4()), got {stepper!r}")
    if not isinstance(equation, NavierStokes2D):
        raise ValueError(f"equation must be a NavierStokes2D, got {type(equation).__name__}")
    w0 = jnp.asarray(w0)
    if w0.ndim < 2 or jnp.issubdtype(w0.dtype, jnp.complexfloating):
        raise ValueError(f"w0 must be a real field of shape (*batch, nx, ny), got {w0.dtype} {w0.shape}")
    if not jnp.issubdtype(w0.dtype, jnp.floating):
        w0 = w0.astype(_dtype(None))
    _shape(w0.shape[-2:])  # validates the grid
    dtype = w0.dtype
    n_skip, every, n_frames = output_times(dt, n_steps=n_steps, save_every=save_every, t_out=t_out)
    limit = stepper.max_cfl if max_cfl is None else float(max_cfl)
    if not limit > 0:
        raise ValueError(f"max_cfl must be positive, got {max_cfl!r}")
    # eager value checks (concrete inputs); the same checks run again under jit
    try:
        finite = bool(np.all(np.isfinite(np.asarray(w0))))
        c0 = float(cfl_number(w0, dt, equation.lengths)) if finite else math.nan
        dt_ = float(dt)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError, TypeError):
        pass
    else:
        if not finite:
            raise ValueError("w0 (initial vorticity) must be finite (no NaN/inf)")
        if not (math.isfinite(dt_) and dt_ > 0):
            raise ValueError(f"dt must be positive and finite, got {dt!r}")
        if c0 > limit:
            raise ValueError(
                f"unstable time step: dt = {dt_:.4g} gives the Courant number "
                f"dt max(|u|/dx + |v|/dy) = {c0:.3g} > max_cfl = {limit} of "
                f"{type(stepper).__name__}; use dt <= {dt_ * limit / c0:.4g}"
            )
    dt = jnp.asarray(dt, dtype)
    return _run(_as_leaves(equation), w0, dt, stepper, n_skip, every, n_frames, limit, bool(check_frames))


@eqx.filter_jit  # compiled once per configuration, also when called eagerly in a loop
def _run(equation, w0, dt, stepper, n_skip, every, n_frames, limit, check_frames):
    shape = w0.shape[-2:]

    def check(w, where):
        w = eqx.error_if(w, ~jnp.all(jnp.isfinite(w)), f"vorticity {where} must be finite (no NaN/inf)")
        return eqx.error_if(
            w, cfl_number(w, dt, equation.lengths) > limit,
            f"unstable time step: the Courant number dt max(|u|/dx + |v|/dy) {where} exceeds "
            f"max_cfl = {limit} of {type(stepper).__name__}; reduce dt",
        )

    w0 = eqx.error_if(w0, ~(dt > 0), "dt must be positive")
    for name in ("viscosity", "drag"):
        val = jnp.asarray(getattr(equation, name))
        w0 = eqx.error_if(w0, ~jnp.all(jnp.isfinite(val) & (val >= 0)), f"{name} must be finite and >= 0")
    w0 = check(w0, "at t = 0")
    step = make_step(equation, shape, dt, stepper, w0.dtype)

    def advance(w_hat, n):
        return jax.lax.fori_loop(0, n, lambda i, s: step(s), w_hat) if n else w_hat

    @jax.checkpoint  # reverse mode stores one state per frame and recomputes the steps
    def frame(w_hat, _):
        w_hat = advance(w_hat, every)
        w = to_physical(w_hat, shape)
        return w_hat, (check(w, "at a saved frame") if check_frames else w)

    w_hat = advance(to_spectral(w0), n_skip)
    first = w0
    if n_skip:
        first = to_physical(w_hat, shape)
        first = check(first, "at a saved frame") if check_frames else first
    if n_frames == 1:
        return jnp.expand_dims(first, -3)
    _, frames = jax.lax.scan(frame, w_hat, None, length=n_frames - 1)
    w = jnp.concatenate([first[None], frames])
    return jnp.moveaxis(w, 0, -3)


@dataclasses.dataclass(frozen=True)
class VorticityDataset:
    """Vorticity trajectories from Gaussian-random-field initial data (host NumPy arrays).

    Attributes:
        w: vorticity, shape ``(n, nt, nx, ny)``; ``w[i, j]`` is sample ``i`` at ``t[j]``.
        t: output times, shape ``(nt,)``.
        x, y: node coordinates, shapes ``(nx,)`` and ``(ny,)`` (``w[..., a, b]`` at
            ``(x[a], y[b])``).
        seed: sample ``i`` starts from ``gaussian_random_field(fold_in(PRNGKey(seed), i))``,
            whatever the chunking or sharding.
        settings: everything else needed to regenerate it (equation, scheme, ``dt``, steps,
            dtype, random-field parameters).
    """

    w: np.ndarray
    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    seed: int
    settings: dict


def batch_mesh(devices=None, axis: str = "batch") -> Mesh:
    """A 1-D device mesh over ``devices`` (default: all) for sharding the sample axis."""
    devices = np.asarray(jax.devices() if devices is None else devices)
    return Mesh(devices.reshape(-1), (axis,))


def generate(
    n: int,
    *,
    seed: int = 0,
    shape: tuple[int, int] = (64, 64),
    equation: NavierStokes2D | None = None,
    dt: float = 1e-4,
    n_steps: int | None = None,
    save_every: int = 1,
    t_out=None,
    stepper: Stepper | None = None,
    grf: dict | None = None,
    batch_size: int | None = None,
    mesh: Mesh | None = None,
    dtype=None,
    progress: bool = False,
) -> VorticityDataset:
    """Solve ``n`` problems from random initial vorticity, batched and optionally sharded.

    Each chunk of ``batch_size`` samples is one jit-compiled call that draws the initial
    fields from their keys and solves them as one batch (:func:`solve` on ``(B, nx, ny)``);
    with ``mesh`` the chunk (padded to a multiple of the mesh size) is sharded over the
    mesh's first axis, so each device draws and solves its own samples.

    Args:
        n: number of samples.
        seed: PRNG seed of the initial fields.
        shape: grid ``(nx, ny)``.
        equation: the problem (default :meth:`NavierStokes2D.fno`, ``nu = 1e-3``).
        dt, n_steps, save_every, t_out, stepper: as in :func:`solve` (concrete values).
        grf: keyword arguments of :func:`gaussian_random_field` (default the FNO paper's
            ``alpha = 2.5, tau = 7``); its ``length`` is the equation's.
        batch_size: samples per compiled call (default all ``n``).
        mesh: a ``Mesh`` (e.g. :func:`batch_mesh`) whose first axis shards the samples.
        dtype: floating dtype (default JAX's default float).
        progress: a tqdm progress bar over samples.

    Raises:
        ValueError: bad ``n``/``batch_size``/arguments of :func:`solve`.
        RuntimeError: a sample's run becomes unstable (``eqx.error_if`` in :func:`solve`).
    """
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if batch_size is not None and (isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1):
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    equation = NavierStokes2D.fno() if equation is None else equation
    stepper = CrankNicolsonRK4() if stepper is None else stepper
    shape, dtype = _shape(shape), _dtype(dtype)
    grf = {} if grf is None else dict(grf)
    if "length" in grf:
        raise ValueError("grf: the random field's length is the equation's; do not pass it")
    n_skip, every, n_frames = output_times(dt, n_steps=n_steps, save_every=save_every, t_out=t_out)
    solve_kw = dict(dt=dt, stepper=stepper)
    solve_kw.update(dict(t_out=t_out) if t_out is not None else dict(n_steps=n_steps, save_every=save_every))

    def chunk(keys):
        w0 = jax.vmap(lambda k: gaussian_random_field(k, shape, length=equation.lengths, dtype=dtype, **grf))(keys)
        return solve(equation, w0, **solve_kw)

    run = jax.jit(chunk)
    base = jax.random.PRNGKey(seed)
    keys_all = np.asarray(jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.arange(n)))
    shards = 1 if mesh is None else int(mesh.devices.shape[0])
    size = shards * math.ceil((batch_size or n) / shards)
    sharding = None if mesh is None else NamedSharding(mesh, PartitionSpec(mesh.axis_names[0]))
    from tqdm.auto import tqdm

    bar = tqdm(total=n, desc=f"navier-stokes {shape[0]}x{shape[1]}", unit="sample", disable=not progress)
    out = []
    for start in range(0, n, size):
        keys = keys_all[start:start + size]
        pad = size - keys.shape[0]
        keys = np.concatenate([keys, np.repeat(keys[-1:], pad, axis=0)])  # one shape, one compile
        arg = jnp.asarray(keys) if sharding is None else jax.device_put(keys, sharding)
        out.append(np.asarray(run(arg))[: size - pad])
        bar.update(size - pad)
    bar.close()
    (lx, ly), (nx, ny) = equation.lengths, shape
    t = dt * (n_skip + every * np.arange(n_frames))
    settings = {
        "equation": "navier_stokes_2d_vorticity_periodic",
        "viscosity": np.asarray(equation.viscosity).tolist(),
        "drag": np.asarray(equation.drag).tolist(),
        "forcing": repr(equation.forcing),
        "length": list(equation.lengths),
        "dt": float(dt),
        "steps_before_first_frame": n_skip,
        "steps_per_frame": every,
        "stepper": type(stepper).__name__,
        "dtype": str(np.dtype(dtype)),
        "grf": dict({"alpha": 2.5, "tau": 7.0}, **grf),
    }
    return VorticityDataset(
        w=np.concatenate(out), t=t, x=np.arange(nx) * (lx / nx), y=np.arange(ny) * (ly / ny),
        seed=int(seed), settings=settings,
    )
