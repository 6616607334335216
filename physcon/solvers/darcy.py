"""Steady Darcy flow in 2-D, the FNO paper's benchmark (Li et al., ICLR 2021, §5.2):

    -div(a(x, y) grad p(x, y)) = f(x, y)   on the unit square,   p = g on the four walls,

``a > 0`` the permeability, ``p`` the pressure, ``f`` the source (``f = 1`` in the paper), ``g``
a Dirichlet value (0 in the paper).

**Discretisation.** Vertex-centred finite volumes on ``n_x x n_y`` nodes ``linspace(0, 1, n)``
per axis, walls included (the FNO paper's 421 x 421 grid, subsampled to 211, 141 and 85 by
taking every 2nd, 3rd and 5th node). Around each interior node a control volume of ``h_x x
h_y`` with faces half-way to its four neighbours; the flux through a face is ``a_f (p_i -
p_nb) / h`` times the face length, so the scheme is the 5-point operator

    (A p)_ij = [a_{i+1/2,j} (p_ij - p_{i+1,j}) + a_{i-1/2,j} (p_ij - p_{i-1,j})] / h_x^2 + (same in y) / h_y^2,

and ``A p = f`` at the interior nodes. Face coefficients are **harmonic** means of the two
nodes' ``a`` by default (``face="harmonic"``): a face between two media of permeability ``a_1``
and ``a_2`` half a cell each conducts like two resistors in series, ``2 a_1 a_2 / (a_1 + a_2)``,
which keeps the flux continuous across the jumps of the paper's piecewise-constant ``a`` (an
arithmetic mean over-weights the more permeable side). ``face="arithmetic"`` is what the FNO
paper's MATLAB solver (``solve_gwf.m``) uses. Both are second order for smooth ``a``.

**Solve.** ``A`` is symmetric positive definite (positive face coefficients, Dirichlet walls).
It is applied matrix-free and inverted by conjugate gradients (``lineax.CG``), optionally with
the Jacobi preconditioner (the diagonal of ``A``; on the paper's coefficients it saves 36 % of
the iterations and 23-38 % of the time, ``benchmarks/darcy_throughput.py``: one float64 solve
takes 12 / 97 / 405 / 2757 ms at n = 85 / 141 / 211 / 421 on the shared 2-core CPU; on by
default). ``lineax``
differentiates the solve implicitly (one adjoint CG solve), so ``jax.grad`` w.r.t. ``a``, ``f``
and ``g`` works, and so do ``jax.jit`` and ``jax.vmap`` (a batch of coefficients runs one CG
loop until every member has converged).

**Coefficients** (:func:`darcy_grf`, :func:`darcy_coefficient`): ``a = psi(mu)``, ``mu ~ N(0,
tau^(2 (alpha - 1)) (-Laplacian + tau^2 I)^(-alpha))`` with zero-Neumann walls, ``alpha = 2``,
``tau = 3`` (the paper's ``N(0, (-Laplacian + 9 I)^-2)`` up to the scale ``tau^2``, which
thresholding ignores), drawn as the generator ``GRF.m`` does: the Karhunen-Loeve sum over the
cosine eigenfunctions ``c_j c_k cos(j pi x) cos(k pi y)`` (``c_0 = 1``, ``c_j = sqrt 2``; the
L2-orthonormal Neumann basis) with the constant mode removed, here evaluated at the nodes
(``GRF.m`` evaluates it at cell centres and its solver interpolates to nodes by splines).
``psi = 12`` where ``mu >= 0`` and ``3`` where ``mu < 0`` (the paper's text; its MATLAB script
uses 4 for the low value: ``a_low=4``).

:func:`generate_darcy` draws datasets at the paper's sizes (:data:`FNO_SIZES`): every sample
is solved on the ``n_solve = 421`` grid and subsampled, sample ``i`` from ``fold_in(key, i)``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

__all__ = ["FNO_SIZES", "face_coefficients", "darcy_apply", "darcy_solve", "default_tolerance", "darcy_boundary_flux", "darcy_grf",
           "darcy_coefficient", "DarcyDataset", "generate_darcy"]

FNO_SIZES = (85, 141, 211, 421)
"""The FNO paper's Darcy resolutions: the 421 x 421 solve subsampled by 5, 3, 2 and 1."""

_FACES = ("harmonic", "arithmetic")


# --- checks ------------------------------------------------------------------------------------
def _field(name: str, a, min_nodes: int = 3) -> Array:
    a = jnp.asarray(a)
    if a.ndim != 2 or min(a.shape) < min_nodes:
        raise ValueError(f"{name} must be a 2-D nodal field (n_x, n_y) with at least {min_nodes} nodes per axis, "
                         f"got shape {a.shape}")
    if not jnp.issubdtype(a.dtype, jnp.floating):
        a = a.astype(jnp.result_type(float))
    return a


def _coefficient(a) -> Array:
    a = _field("a", a)
    a = eqx.error_if(a, ~jnp.all(jnp.isfinite(a)), "a (the Darcy coefficient) must be finite")
    return eqx.error_if(a, ~jnp.all(a > 0), "a (the Darcy coefficient) must be positive everywhere")


def _like(name: str, v, shape, dtype) -> Array:
    """A scalar or a full nodal field, finite, broadcast to ``shape``."""
    v = jnp.asarray(v, dtype)
    if v.ndim not in (0, 2) or (v.ndim == 2 and v.shape != tuple(shape)):
        raise ValueError(f"{name} must be a scalar or a nodal field of shape {tuple(shape)}, got shape {v.shape}")
    v = eqx.error_if(v, ~jnp.all(jnp.isfinite(v)), f"{name} must be finite")
    return jnp.broadcast_to(v, shape)


def _spacing(shape):
    return 1.0 / (shape[0] - 1), 1.0 / (shape[1] - 1)


# --- the operator ------------------------------------------------------------------------------
def face_coefficients(a: Float[Array, "nx ny"], face: str = "harmonic"
                      ) -> tuple[Float[Array, "nx-1 ny"], Float[Array, "nx ny-1"]]:
    """Face permeabilities ``(a_x, a_y)``: ``a_x[i, j]`` between nodes ``(i, j)`` and ``(i+1, j)``,
    ``a_y[i, j]`` between ``(i, j)`` and ``(i, j+1)``; harmonic or arithmetic means."""
    if face not in _FACES:
        raise ValueError(f"face must be one of {_FACES}, got {face!r}")
    mean = (lambda u, v: 2 * u * v / (u + v)) if face == "harmonic" else (lambda u, v: 0.5 * (u + v))
    return mean(a[1:], a[:-1]), mean(a[:, 1:], a[:, :-1])


def _apply(p, ax, ay, hx, hy):
    """``A p`` at the interior nodes of the full nodal field ``p`` (walls included)."""
    fx = ax * (p[1:] - p[:-1])                     # a_f (p_{i+1} - p_i): h_x times the flux along -x
    fy = ay * (p[:, 1:] - p[:, :-1])
    return -(fx[1:, 1:-1] - fx[:-1, 1:-1]) / hx**2 - (fy[1:-1, 1:] - fy[1:-1, :-1]) / hy**2


def darcy_apply(p: Float[Array, "nx ny"], a: Float[Array, "nx ny"], *, face: str = "harmonic"
                ) -> Float[Array, "nx-2 ny-2"]:
    """The discrete ``-div(a grad p)`` at the interior nodes of a nodal field ``p`` (walls
    included, their values used as given), units of ``f``."""
    a = _coefficient(a)
    p = _like("p", p, a.shape, a.dtype)
    return _apply(p, *face_coefficients(a, face), *_spacing(a.shape))


def default_tolerance(shape, dtype) -> float:
    """:func:`darcy_solve`'s default CG tolerance for a grid ``shape`` and ``dtype``."""
    base = 1e-9 if jnp.dtype(dtype) == jnp.float64 else 1e-5
    return max(base, 4 * float(jnp.finfo(dtype).eps) * (max(shape) - 1) ** 2)


def darcy_solve(a: Float[Array, "nx ny"], f: ArrayLike = 1.0, *, boundary: ArrayLike = 0.0,
                face: str = "harmonic", rtol: float | None = None, atol: float | None = None,
                max_steps: int | None = None, precondition: bool = True, info: bool = False):
    """Solve ``-div(a grad p) = f`` on the unit square with ``p = boundary`` on the walls.

    Args:
        a: permeability at the nodes, ``(n_x, n_y)``, positive and finite (checked, also under
            ``jit``), walls included; ``n_x, n_y >= 3``.
        f: source, a scalar or a nodal field ``(n_x, n_y)`` (only interior nodes are used).
        boundary: the Dirichlet value ``g``, a scalar or a nodal field (only wall nodes used).
        face: face coefficients, ``"harmonic"`` (default) or ``"arithmetic"`` (module docstring).
        rtol, atol: CG tolerances on the residual, node by node (``|A p - f| <= atol + rtol
            |f|``, units of ``f``; lineax also asks the last step to be below ``atol + rtol |p|``).
            Default (both): ``max(t0, 4 eps (n - 1)^2)`` with ``t0 = 1e-9`` in float64 and ``1e-5``
            in float32, ``n`` the larger side: the round-off floor of the residual grows like
            ``eps (n - 1)^2`` (measured in float32: about ``1e-3`` at ``n = 85``, so a float32
            solve of the paper's sizes is only good to about that; :func:`generate_darcy` always
            solves in float64). A tolerance below the floor ends in lineax's error.
        max_steps: CG iteration cap (default ``10 (n_x - 2) (n_y - 2)``, lineax's); not
            converging raises an error.
        precondition: Jacobi preconditioning (default True).
        info: also return ``{"num_steps": ...}``.

    Returns:
        ``p``, ``(n_x, n_y)`` (walls included), in ``a``'s dtype; with ``info``, ``(p, stats)``.
    """
    a = _coefficient(a)
    shape, dtype = a.shape, a.dtype
    f = _like("f", f, shape, dtype)
    g = _like("boundary", boundary, shape, dtype)
    hx, hy = _spacing(shape)
    ax, ay = face_coefficients(a, face)
    tol = default_tolerance(shape, dtype)
    rtol = tol if rtol is None else float(rtol)
    atol = tol if atol is None else float(atol)
    inner = (shape[0] - 2, shape[1] - 2)
    walls = g.at[1:-1, 1:-1].set(0.0)                    # the wall data, zero inside

    def matvec(q):
        return _apply(jnp.pad(q.reshape(inner), 1), ax, ay, hx, hy).reshape(-1)

    rhs = (f[1:-1, 1:-1] - _apply(walls, ax, ay, hx, hy)).reshape(-1)
    op = lx.FunctionLinearOperator(matvec, jax.ShapeDtypeStruct(rhs.shape, dtype),
                                   tags=(lx.symmetric_tag, lx.positive_semidefinite_tag))
    options = {}
    if precondition:
        diag = (ax[1:, 1:-1] + ax[:-1, 1:-1]) / hx**2 + (ay[1:-1, 1:] + ay[1:-1, :-1]) / hy**2
        # D^-1 scaled by max(D) (CG is invariant to the scale): lineax declares breakdown where
        # p.Ap < 100 eps size p.r, and with a bare D^-1 (entries ~ h^2) float32 trips it on
        # the smooth modes. No derivative through the preconditioner: it does not change p.
        diag = jax.lax.stop_gradient(diag.reshape(-1))
        inv = jnp.max(diag) / diag
        options["preconditioner"] = lx.TaggedLinearOperator(lx.DiagonalLinearOperator(inv),
                                                            lx.positive_semidefinite_tag)
    sol = lx.linear_solve(op, rhs, lx.CG(rtol=rtol, atol=atol, max_steps=max_steps), options=options, throw=True)
    p = walls.at[1:-1, 1:-1].set(sol.value.reshape(inner))
    return (p, {"num_steps": sol.stats["num_steps"]}) if info else p


def darcy_boundary_flux(p: Float[Array, "nx ny"], a: Float[Array, "nx ny"], *, face: str = "harmonic"
                        ) -> dict[str, Array]:
    """Flux out of the union of the interior control volumes (the square ``[h_x/2, 1 - h_x/2] x
    [h_y/2, 1 - h_y/2]``) through each of its four sides: ``sum a_f (p_inner - p_wall) l_f / h``
    over the faces between the first interior row and the wall row (``l_f`` the face length).
    By the discrete divergence theorem their sum equals ``h_x h_y sum_interior (A p)``, i.e. the
    source integral ``h_x h_y sum_interior f`` for a solution. Keys ``x_lo, x_hi, y_lo, y_hi``."""
    a = _coefficient(a)
    p = _like("p", p, a.shape, a.dtype)
    hx, hy = _spacing(a.shape)
    ax, ay = face_coefficients(a, face)
    rx, ry = hy / hx, hx / hy                          # face length / normal spacing
    return {"x_lo": rx * jnp.sum(ax[0, 1:-1] * (p[1, 1:-1] - p[0, 1:-1])),
            "x_hi": rx * jnp.sum(ax[-1, 1:-1] * (p[-2, 1:-1] - p[-1, 1:-1])),
            "y_lo": ry * jnp.sum(ay[1:-1, 0] * (p[1:-1, 1] - p[1:-1, 0])),
            "y_hi": ry * jnp.sum(ay[1:-1, -1] * (p[1:-1, -2] - p[1:-1, -1]))}


# --- coefficients ----------------------------------------------------------------------------------
def darcy_grf(key: PRNGKeyArray, n: int, *, alpha: float = 2.0, tau: float = 3.0, modes: int | None = None,
              dtype=None) -> Float[Array, "n n"]:
    """``mu ~ N(0, tau^(2(alpha-1)) (-Laplacian + tau^2)^(-alpha))`` with zero-Neumann walls on the
    unit square, at the nodes ``linspace(0, 1, n)^2`` (module docstring): ``mu = sum_{j,k < modes,
    (j,k) != 0} tau^(alpha-1) (pi^2 (j^2 + k^2) + tau^2)^(-alpha/2) xi_jk c_j c_k cos(j pi x)
    cos(k pi y)``, ``xi ~ N(0, 1)``; ``modes`` defaults to ``n`` (all that the grid resolves, as
    ``GRF.m``). The same key gives the same field at every ``n`` for a fixed ``modes``."""
    n = _int("n", n, 2)
    modes = n if modes is None else _int("modes", modes, 1)
    if not (math.isfinite(alpha) and alpha > 0 and math.isfinite(tau) and tau > 0):
        raise ValueError(f"alpha and tau must be positive and finite, got alpha={alpha!r}, tau={tau!r}")
    dtype = jnp.dtype(dtype) if dtype is not None else jnp.result_type(float)
    k = np.arange(modes)
    sq = tau ** (alpha - 1) * (np.pi**2 * (k[:, None] ** 2 + k[None, :] ** 2) + tau**2) ** (-alpha / 2)
    c = np.where(k == 0, 1.0, np.sqrt(2.0))
    sq = sq * c[:, None] * c[None, :]
    sq[0, 0] = 0.0                                      # mean zero, as GRF.m
    basis = np.cos(np.pi * np.outer(np.linspace(0.0, 1.0, n), k))   # (n, modes)
    xi = jax.random.normal(key, (modes, modes), dtype)
    b = jnp.asarray(basis, dtype)
    return b @ (jnp.asarray(sq, dtype) * xi) @ b.T


def darcy_coefficient(mu: Float[Array, "nx ny"], a_high: float = 12.0, a_low: float = 3.0) -> Float[Array, "nx ny"]:
    """``psi(mu)``: ``a_high`` where ``mu >= 0``, ``a_low`` where ``mu < 0``."""
    if not (a_high > 0 and a_low > 0 and math.isfinite(a_high) and math.isfinite(a_low)):
        raise ValueError(f"a_high and a_low must be positive and finite, got {a_high!r}, {a_low!r}")
    mu = jnp.asarray(mu)
    return jnp.where(mu >= 0, jnp.asarray(a_high, mu.dtype), jnp.asarray(a_low, mu.dtype))


def _int(name, v, minimum):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {v!r}")
    return int(v)


# --- datasets --------------------------------------------------------------------------------------
class DarcyDataset(NamedTuple):
    """Darcy samples on the nodes ``x`` (both axes): ``a`` the coefficient and ``p`` the pressure,
    each ``(n_samples, n, n)`` with ``a[i, j, k]`` at ``(x[j], x[k])``; ``settings``: everything
    needed to regenerate it (plain Python values: sizes, key data, family, solver options)."""

    x: Array
    a: Array
    p: Array
    settings: dict


def generate_darcy(n_samples: int, *, key: PRNGKeyArray, n: int = 85, n_solve: int = 421, alpha: float = 2.0,
                   tau: float = 3.0, modes: int | None = None, a_high: float = 12.0, a_low: float = 3.0,
                   f: float = 1.0, boundary: float = 0.0, face: str = "harmonic", rtol: float | None = None,
                   batch_size: int = 8, dtype=None, progress: bool = False) -> DarcyDataset:
    """``n_samples`` Darcy problems of the FNO paper's family, solved on ``n_solve`` nodes per side
    and subsampled to ``n`` (``(n_solve - 1)`` must be a multiple of ``(n - 1)``; the paper:
    ``n_solve = 421``, ``n`` in :data:`FNO_SIZES`, ``f = 1``, ``boundary = 0``, 1000 train and
    100 test samples). Sample ``i`` uses ``fold_in(key, i)`` (so sets of different sizes share
    their first samples); ``batch_size`` samples are solved per ``vmap`` call. ``modes``
    defaults to ``n_solve``. The solve is always float64 (``a`` and ``p`` are returned in ``dtype``,
    default JAX's float). ``progress``: a tqdm bar over samples."""
    from tqdm.auto import tqdm

    n_samples, n, n_solve = _int("n_samples", n_samples, 1), _int("n", n, 3), _int("n_solve", n_solve, 3)
    batch_size = _int("batch_size", batch_size, 1)
    if (n_solve - 1) % (n - 1):
        raise ValueError(f"n - 1 = {n - 1} must divide n_solve - 1 = {n_solve - 1} (subsampling by whole nodes)")
    stride = (n_solve - 1) // (n - 1)
    dtype = jnp.dtype(dtype) if dtype is not None else jnp.result_type(float)
    key_data = np.asarray(jax.random.key_data(key)).tolist()
    a_out, p_out = [], []
    with jax.enable_x64(True):  # the solve's residual floor (see darcy_solve): always float64
        @jax.jit
        def batch(idx):
            def one(i):
                mu = darcy_grf(jax.random.fold_in(key, i), n_solve, alpha=alpha, tau=tau, modes=modes,
                               dtype=jnp.float64)
                a = darcy_coefficient(mu, a_high, a_low)
                p = darcy_solve(a, f, boundary=boundary, face=face, rtol=rtol, atol=rtol)
                return a[::stride, ::stride], p[::stride, ::stride]
            return jax.vmap(one)(idx)

        bar = tqdm(total=n_samples, desc=f"darcy {n_solve}->{n}", unit="sample", disable=not progress)
        for start in range(0, n_samples, batch_size):
            # the last batch is padded to the same size (one compilation) and cut
            count = min(batch_size, n_samples - start)
            idx = start + jnp.minimum(jnp.arange(batch_size), count - 1)
            a_b, p_b = batch(idx)
            a_out.append(np.asarray(a_b[:count]))
            p_out.append(np.asarray(p_b[:count]))
            bar.update(count)
        bar.close()
    settings = {"n": n, "n_solve": n_solve, "stride": stride, "n_samples": n_samples, "key_data": key_data,
                "alpha": alpha, "tau": tau, "modes": n_solve if modes is None else modes, "a_high": a_high,
                "a_low": a_low, "f": f, "boundary": boundary, "face": face,
                "rtol": default_tolerance((n_solve, n_solve), np.float64) if rtol is None else rtol, "solve_dtype": "float64",
                "dtype": str(dtype), "equation": "-div(a grad p) = f on [0,1]^2, p = boundary on the walls"}
    return DarcyDataset(x=jnp.linspace(0.0, 1.0, n, dtype=dtype), a=jnp.asarray(np.concatenate(a_out), dtype),
                        p=jnp.asarray(np.concatenate(p_out), dtype), settings=settings)
