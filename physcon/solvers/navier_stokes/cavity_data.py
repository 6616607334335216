"""Random lid-driven cavity data sets at the BOON paper's sizes (Saad et al., ICLR 2023, §4.2).

BOON's cavity data (``research/boon.md`` §2): vorticity at ``Re = 100`` on a 100 x 100 grid,
``T_final = 1``, 1200 samples (1000 train / 200 test), 25 output frames; the input is the
initial vorticity, the paper's figure shows a quiescent cavity with the vorticity strip under
an impulsively started lid. What varies across the samples was never published. The operator
maps the initial vorticity to later frames, so the variation must be visible in that input;
physcon's documented choice:

* **Initial vorticity** (:func:`cavity_initial_vorticity`): a smooth random no-slip
  perturbation of the fluid at rest, from the streamfunction

      psi0(x, y) = A * sum_{k,l=1}^{K} c_kl phi_k(x) phi_l(y),   phi_k(s) = sin(pi s) sin(k pi s),
      c_kl ~ N(0, 1) / (k^2 + l^2)^(decay/2),

  ``K = modes`` (default 4), ``decay`` default 2. Each ``phi_k`` and its derivative vanish at
  ``s = 0, 1``, so the perturbation velocity ``(psi0_y, -psi0_x)`` is zero on every wall (no
  slip, compatible with the walls at ``t = 0``). ``A`` scales the field so that its peak speed
  ``max sqrt(u^2 + v^2)`` over the grid is ``amplitude`` (default 0.5, half the lid speed).
  The vorticity ``w0 = -lap psi0`` is evaluated in closed form at the interior nodes (the same
  continuous field on every grid); the walls follow from Thom's formula.
* **Lid**: impulsively started at ``t = 0`` with speed 1 (the classic cavity), or, with
  ``lid_speed=(lo, hi)``, a per-sample constant speed ``U ~ U[lo, hi]`` (then also returned,
  since it is an input of the map).

Output frames at ``t_k = k T / n_frames``, ``k = 1..n_frames`` (0.04, 0.08, ..., 1 at the
defaults); the input frame ``t = 0`` is returned separately.
"""

from __future__ import annotations

import dataclasses
import math
from functools import lru_cache, partial

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from physcon.solvers._checks import _dtype
from physcon.solvers.navier_stokes.cavity import LidDrivenCavity, cavity_solve, cavity_stable_dt
from physcon.solvers.navier_stokes.cavity_poisson import check_nodes, pad_walls
from physcon.solvers.navier_stokes.cavity_stencils import MAX_DIFFUSION_NUMBER

__all__ = ["cavity_initial_vorticity", "CavityDataset", "generate_cavity_dataset"]

_SPEED_GRID = 129  # points per side on which the perturbation's peak speed is normalised


def _phi(s, k):
    """``phi_k(s) = sin(pi s) sin(k pi s)`` and its first two derivatives (k: ``(K, 1)``)."""
    a, b = jnp.pi * s, k * jnp.pi * s
    sa, ca, sb, cb = jnp.sin(a), jnp.cos(a), jnp.sin(b), jnp.cos(b)
    f = sa * sb
    d1 = jnp.pi * (ca * sb + k * sa * cb)
    d2 = jnp.pi**2 * (-(1 + k**2) * sa * sb + 2 * k * ca * cb)
    return f, d1, d2


def cavity_initial_vorticity(
    key: PRNGKeyArray,
    n: int,
    *,
    amplitude: float = 0.5,
    modes: int = 4,
    decay: float = 2.0,
    dtype=None,
) -> Float[Array, "n n"]:
    """A random smooth no-slip vorticity field on the ``n x n`` node grid (module docstring).

    Args:
        key: PRNG key of the coefficients ``c_kl``.
        n: nodes per side, walls included.
        amplitude: peak speed of the perturbation (units ``U_ref``; >= 0).
        modes: ``K``, modes per axis.
        decay: spectral decay exponent of ``c_kl``'s standard deviation.
        dtype: floating dtype (default JAX's default float).

    Returns:
        ``w0 = -lap psi0`` at the interior nodes and zero on the walls (:func:`cavity_solve`
        recomputes them by Thom's formula), shape ``(n, n)``.
    """
    n = check_nodes(n)
    if isinstance(modes, bool) or not isinstance(modes, (int, np.integer)) or modes < 1:
        raise ValueError(f"modes must be a positive int, got {modes!r}")
    if not (math.isfinite(amplitude) and amplitude >= 0):
        raise ValueError(f"amplitude must be finite and >= 0, got {amplitude!r}")
    return _initial_vorticity(key, n, jnp.asarray(amplitude, _dtype(dtype)), int(modes), float(decay), _dtype(dtype))


@partial(jax.jit, static_argnums=(1, 3, 4, 5))  # one compile per configuration
def _initial_vorticity(key, n, amplitude, modes, decay, dtype):
    k = jnp.arange(1, modes + 1, dtype=dtype)
    scale = (k[:, None] ** 2 + k[None, :] ** 2) ** (-0.5 * decay)
    c = jax.random.normal(key, (modes, modes), dtype) * scale
    def fields(n_pts):
        s = jnp.asarray(np.linspace(0.0, 1.0, n_pts), dtype)[None, :]
        f, d1, d2 = _phi(s, k[:, None])  # (K, n_pts) each
        psi_y = jnp.einsum("kl,ki,lj->ij", c, f, d1)
        psi_x = jnp.einsum("kl,ki,lj->ij", c, d1, f)
        lap = jnp.einsum("kl,ki,lj->ij", c, d2, f) + jnp.einsum("kl,ki,lj->ij", c, f, d2)
        return jnp.sqrt(psi_x**2 + psi_y**2), lap

    speed = jnp.max(fields(_SPEED_GRID)[0])  # the same scale on every grid
    lap = fields(n)[1]
    a = amplitude / jnp.where(speed > 0, speed, 1)
    return pad_walls(-a * lap[1:-1, 1:-1])


@lru_cache(maxsize=8)  # repeated calls with the same settings reuse the compiled chunk
def _chunk_runner(n, reynolds, dt, every, n_frames, amplitude, modes, decay, lo, hi, dtype):
    """The jit-compiled ``keys (B,) -> (w (B, n_frames + 1, n, n), U (B,))`` of one chunk."""

    def chunk(keys):
        k_field, k_lid = keys, jax.vmap(lambda k: jax.random.fold_in(k, 1))(keys)
        w0 = jax.vmap(lambda k: cavity_initial_vorticity(k, n, amplitude=amplitude, modes=modes, decay=decay, dtype=dtype))(k_field)
        U = jax.vmap(lambda k: jax.random.uniform(k, (), dtype, lo, hi))(k_lid) if hi > lo else jnp.full(keys.shape[0], lo, dtype)
        flow = LidDrivenCavity(reynolds=jnp.full(keys.shape[0], reynolds, dtype), lid_speed=U)
        w = cavity_solve(flow, w0, dt=dt, n_steps=every * n_frames, save_every=every)
        return w, U

    return jax.jit(chunk)


@dataclasses.dataclass(frozen=True)
class CavityDataset:
    """Lid-driven cavity vorticity trajectories (host NumPy arrays).

    Attributes:
        w0: input vorticity at ``t = 0`` (walls by Thom's formula, so the strip under the
            impulsively started lid is visible), ``(n_samples, n, n)``.
        w: vorticity at ``t``, ``(n_samples, n_frames, n, n)``; ``w[i, f, a, b]`` at
            ``(x[a], y[b])``.
        t: output times, ``(n_frames,)``.
        x, y: node coordinates, ``(n,)`` each (walls included).
        lid_speed: each sample's lid speed, ``(n_samples,)``.
        settings: everything else needed to regenerate it (``Re``, ``dt``, steps, the random
            family's parameters, dtype; sample ``i`` uses ``fold_in(key, i)``).
    """

    w0: np.ndarray
    w: np.ndarray
    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    lid_speed: np.ndarray
    settings: dict


def generate_cavity_dataset(
    n_samples: int = 1200,
    *,
    key: PRNGKeyArray,
    n: int = 100,
    reynolds: float = 100.0,
    t_final: float = 1.0,
    n_frames: int = 25,
    amplitude: float = 0.5,
    modes: int = 4,
    decay: float = 2.0,
    lid_speed: float | tuple[float, float] = 1.0,
    dt: float | None = None,
    batch_size: int = 64,
    dtype=None,
    progress: bool = False,
) -> CavityDataset:
    """Random cavity trajectories (module docstring): defaults are BOON's sizes
    (``Re = 100``, 100 x 100 nodes, ``T = 1``, 25 frames, 1200 samples).

    Each chunk of ``batch_size`` samples is one jit-compiled call: draw the initial fields
    (``vmap``) and solve them as one batch (:func:`cavity_solve` on ``(B, n, n)``).
    ``dt`` defaults to the largest step within :func:`cavity_stable_dt` (speed bound: the
    largest lid speed plus ``amplitude``) that divides the frame interval. ~10 s per 64
    samples at the defaults on a 2-core CPU (float32).

    Raises:
        ValueError: bad sizes, ranges or an unstable ``dt``.
        RuntimeError: a run turned unstable (``eqx.error_if`` in :func:`cavity_solve`).
    """
    for name, val in (("n_samples", n_samples), ("n_frames", n_frames), ("batch_size", batch_size)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 1:
            raise ValueError(f"{name} must be a positive int, got {val!r}")
    n = check_nodes(n)
    if not (math.isfinite(t_final) and t_final > 0):
        raise ValueError(f"t_final must be positive, got {t_final!r}")
    lo, hi = (lid_speed, lid_speed) if np.ndim(lid_speed) == 0 else tuple(lid_speed)
    lo, hi = float(lo), float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
        raise ValueError(f"lid_speed must be a number or a range (lo, hi) with lo <= hi, got {lid_speed!r}")
    reynolds = float(reynolds)
    if not (math.isfinite(reynolds) and reynolds > 0):
        raise ValueError(f"reynolds must be positive and finite, got {reynolds!r}")
    dtype = _dtype(dtype)
    interval = t_final / n_frames
    if dt is None:
        dt_max = cavity_stable_dt(n, reynolds, max_speed=max(abs(lo), abs(hi)) + amplitude)
        every = math.ceil(interval / dt_max - 1e-9)
    else:
        every = round(interval / float(dt))
        if every < 1 or not math.isclose(every * float(dt), interval, rel_tol=1e-6):
            raise ValueError(f"dt must divide the frame interval t_final / n_frames = {interval:g}, got {dt!r}")
    dt = interval / every
    diffusion = dt * (n - 1) ** 2 / reynolds
    if diffusion > MAX_DIFFUSION_NUMBER:
        raise ValueError(
            f"unstable time step: dt = {dt:.4g} gives the diffusion number dt / (Re h^2) = "
            f"{diffusion:.3g} > {MAX_DIFFUSION_NUMBER}; use dt <= {MAX_DIFFUSION_NUMBER * reynolds / (n - 1) ** 2:.4g}"
        )

    run = _chunk_runner(n, reynolds, float(dt), every, n_frames, float(amplitude), modes, float(decay), lo, hi, dtype)
    keys_all = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(n_samples))
    size = min(batch_size, n_samples)
    from tqdm.auto import tqdm

    bar = tqdm(total=n_samples, desc=f"cavity {n}x{n}", unit="sample", disable=not progress)
    ws, Us = [], []
    for start in range(0, n_samples, size):
        keys = keys_all[start:start + size]
        pad = size - keys.shape[0]
        keys = jnp.concatenate([keys] + [keys[-1:]] * pad)  # one shape, one compile
        w, U = run(keys)
        ws.append(np.asarray(w)[: size - pad])
        Us.append(np.asarray(U)[: size - pad])
        bar.update(size - pad)
    bar.close()
    w = np.concatenate(ws)
    s = np.linspace(0.0, 1.0, n)
    settings = {
        "equation": "navier_stokes_2d_lid_driven_cavity_streamfunction_vorticity",
        "reynolds": float(reynolds), "t_final": float(t_final), "dt": float(dt),
        "steps_per_frame": int(every), "scheme": "central 2nd order, Thom walls, SSP-RK3",
        "initial": {"amplitude": float(amplitude), "modes": int(modes), "decay": float(decay)},
        "lid_speed": [float(lo), float(hi)], "dtype": str(np.dtype(dtype)),
        "key": np.asarray(jax.random.key_data(key) if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) else key).tolist(),
        "sample_key": "jax.random.fold_in(key, i); lid speed from fold_in(that, 1)",
    }
    return CavityDataset(
        w0=w[:, 0], w=w[:, 1:], t=interval * np.arange(1, n_frames + 1), x=s, y=s.copy(),
        lid_speed=np.concatenate(Us), settings=settings,
    )
