"""A Gaussian process over ``(t, x)`` as ProbConserv's Step-1 model (kernels: tinygp).

The kernel is separable, ``k((t, x), (s, y)) = a^2 k_t(t, s) k_x(x, y)`` (Matern-3/2, Matern-5/2
or squared-exponential in each coordinate, :mod:`tinygp.kernels`), with white observation noise
``sigma_n^2``. :func:`fit_gp` maximises the exact log marginal likelihood of the context points
(:class:`tinygp.GaussianProcess`) with optax, each hyperparameter bounded in log space.

On a tensor grid ``t (nt,) x x (nx,)`` the prior covariance is ``A kron B`` (``A = a^2 k_t(t, t)``,
``B = k_x(x, x)``), and the exact posterior given ``n`` context points is

    ``Sigma = A kron B - V^T V``,  ``V = L^-1 K_c*`` (``n x N``), ``L L^T = K_cc + sigma_n^2 I``,

a Kronecker matrix minus a rank-``n`` term: :class:`GPPrediction` keeps ``(A, B, V)``, so the
``N = nt nx`` grid (201 x 201 in the paper) costs ``O(N n)`` memory, never ``N x N``.
:meth:`GPPrediction.conserve` (:func:`physcon.constraints.probconserv`) conditions it exactly on
a conservation law ``G u = b`` (``nt r`` rows): ``Sigma' = Sigma - Q^T Q`` with
``Q = L_S^-1 G Sigma``, ``L_S L_S^T = G Sigma G^T + N`` (``O(N (n + nt r) nt r)``).
Samples use Matheron's rule on the union grid ``(t, t_c) x (x, x_c)`` (a Kronecker prior that
contains the grid and every context point), so GP samples are exact, and ProbConserv-GP
samples satisfy ``G u = b`` to round-off when ``sigma_G = 0``.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
import tinygp
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from physcon.distributions._common import LOG_2PI, as_float, checked_finite, psd_root, sample_shape

KERNELS = {"matern32": tinygp.kernels.Matern32, "matern52": tinygp.kernels.Matern52,
           "rbf": tinygp.kernels.ExpSquared}
#: Default bounds of :func:`fit_gp`, relative to the context's spans (length scales) and to
#: the scale of ``context_y`` (amplitude, noise): ``(low, high)``.
BOUNDS = {"length_t": (0.02, 5.0), "length_x": (0.02, 5.0), "amplitude": (1e-2, 1e1), "noise": (1e-4, 0.3)}
__all__ = ["BOUNDS", "GP", "GPPrediction", "KERNELS", "fit_gp"]
_HYPER = ("amplitude", "length_t", "length_x", "noise")


def _checked_positive(value, name):
    value = as_float(value)
    bad = ~jnp.all(jnp.isfinite(value) & (value > 0))
    return eqx.error_if(value, bad, f"GP hyperparameter {name} must be finite and > 0 (a zero {name} "
                        "makes the kernel singular)")


def _chol(K, what):
    L = jnp.linalg.cholesky(K)
    ok = jnp.all(jnp.isfinite(L)) & jnp.all(jnp.diagonal(L, axis1=-2, axis2=-1) > 0)
    return eqx.error_if(L, ~ok, f"{what} is not positive definite (raise the GP's noise or length scales)")


def _solve_l(L, v):
    return jax.scipy.linalg.solve_triangular(L, v, lower=True)


class GP(eqx.Module):
    """A zero-noise-free separable GP on ``(t, x)`` points (``[..., 0]`` = t, ``[..., 1]`` = x).

    Args:
        amplitude: ``a`` (a standard deviation), > 0.
        length_t, length_x: length scales of ``k_t`` and ``k_x``, > 0.
        noise: observation noise standard deviation ``sigma_n``, > 0 (keeps ``K_cc`` regular).
        mean: constant prior mean.
        kernel: ``"matern52"`` (default), ``"matern32"`` or ``"rbf"``, used in both coordinates.

    Hyperparameters are stored as logarithms. A zero, negative or non-finite one raises an
    error naming it (also under ``jit``): the kernel would be singular.
    """

    log_amplitude: Float[Array, ""]
    log_length_t: Float[Array, ""]
    log_length_x: Float[Array, ""]
    log_noise: Float[Array, ""]
    mean: Float[Array, ""]
    kernel: str = eqx.field(static=True)

    def __init__(self, amplitude: ArrayLike = 1.0, length_t: ArrayLike = 0.2, length_x: ArrayLike = 0.2,
                 noise: ArrayLike = 1e-2, mean: ArrayLike = 0.0, kernel: str = "matern52"):
        if kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {sorted(KERNELS)}, got {kernel!r}")
        self.kernel = kernel
        for name, value in zip(_HYPER, (amplitude, length_t, length_x, noise)):
            setattr(self, f"log_{name}", jnp.log(_checked_positive(value, name)))
        self.mean = checked_finite(as_float(mean), "mean")

    def hyperparameters(self) -> dict:
        """``{"amplitude", "length_t", "length_x", "noise", "mean"}`` as arrays."""
        return {**{n: jnp.exp(getattr(self, f"log_{n}")) for n in _HYPER}, "mean": self.mean}

    def _k(self, which):
        ls = jnp.exp(self.log_length_t if which == "t" else self.log_length_x)
        return KERNELS[self.kernel](scale=ls)

    def tinygp_kernel(self) -> tinygp.kernels.Kernel:
        """The product kernel on 2-D points, ``a^2 k_t(t, s) k_x(x, y)``."""
        sub = tinygp.transforms.Subspace
        return jnp.exp(2 * self.log_amplitude) * sub(0, self._k("t")) * sub(1, self._k("x"))

    def factors(self, t1, t2, x1, x2):
        """``(a^2 k_t(t1, t2), k_x(x1, x2))``: the Kronecker factors between two tensor grids."""
        return jnp.exp(2 * self.log_amplitude) * self._k("t")(t1, t2), self._k("x")(x1, x2)

    def log_marginal_likelihood(self, context_x: Float[ArrayLike, "n 2"], context_y: Float[ArrayLike, " n"]) -> Array:
        """``log N(y; m, K_cc + sigma_n^2 I)`` (tinygp's exact Cholesky solve)."""
        cx, cy = _checked_context(context_x, context_y)
        gp = tinygp.GaussianProcess(self.tinygp_kernel(), cx, diag=jnp.exp(2 * self.log_noise), mean=self.mean)
        return gp.log_probability(cy)

    @eqx.filter_jit
    def predict(self, context_x: Float[ArrayLike, "n 2"], context_y: Float[ArrayLike, " n"],
                t: Float[ArrayLike, " nt"], x: Float[ArrayLike, " nx"]) -> GPPrediction:
        """The exact posterior on the grid ``t x x`` given the context, as a :class:`GPPrediction`
        (``O(nt nx n + n^3 + (nt + n)^3 + (nx + n)^3)``)."""
        cx, cy = _checked_context(context_x, context_y)
        t, x = as_float(t).astype(cx.dtype), as_float(x).astype(cx.dtype)
        if t.ndim != 1 or x.ndim != 1:
            raise ValueError(f"t and x must be 1-D, got {t.shape} and {x.shape}")
        ct, cxs = cx[:, 0], cx[:, 1]
        A, B = self.factors(t, t, x, x)
        kt, kx = self.factors(ct, t, cxs, x)                     # (n, nt), (n, nx)
        Kcc = self.tinygp_kernel()(cx, cx)
        nvar = jnp.exp(2 * self.log_noise)
        L = _chol(Kcc + nvar * jnp.eye(cx.shape[0], dtype=cx.dtype), "K_cc + noise^2 I")
        V = _solve_l(L, (kt[:, :, None] * kx[:, None, :]).reshape(cx.shape[0], -1)).reshape(-1, t.size, x.size)
        mean = self.mean + jnp.tensordot(_solve_l(L, cy - self.mean), V, axes=1)
        tu, xu = jnp.concatenate([t, ct]), jnp.concatenate([x, cxs])
        Au, Bu = self.factors(tu, tu, xu, xu)
        return GPPrediction(mean, A, B, V, psd_root(Au, "time kernel (union grid)"),
                            psd_root(Bu, "space kernel (union grid)"), L, nvar)


def _checked_context(context_x, context_y):
    cx, cy = as_float(context_x), as_float(context_y)
    if cx.ndim != 2 or cx.shape[1] != 2:
        raise ValueError(f"context_x must have shape (n, 2) (columns t, x), got {cx.shape}")
    if cy.shape != cx.shape[:1]:
        raise ValueError(f"context_y must have shape (n,) = ({cx.shape[0]},), got {cy.shape}")
    return checked_finite(cx, "context_x"), checked_finite(cy.astype(cx.dtype), "context_y")


class GPPrediction(eqx.Module):
    """A GP posterior on an ``(nt, nx)`` grid: ``N(mean, A kron B - V^T V - Q^T Q)``.

    Attributes:
        mean: ``(nt, nx)``.
        time_cov, space_cov: the prior factors ``A`` ``(nt, nt)``, ``B`` ``(nx, nx)``.
        down: ``V`` ``(n, nt, nx)``, the context's down-date.
        time_root, space_root: sampling roots of the prior on the union grid
            ``(nt + n, nt + n)``, ``(nx + n, nx + n)`` (grid first, then the context points).
        chol: ``L`` ``(n, n)``, ``L L^T = K_cc + sigma_n^2 I``; ``noise``: ``sigma_n^2``.
        law_G, law_noise, law_chol, law_down: set by :meth:`conserve`: the rows ``G``
            ``(nt, r, nx)``, their noise variances ``(nt, r)``, ``L_S`` ``(nt r, nt r)`` and
            ``Q`` ``(nt r, nt, nx)``; ``None`` before.
    """

    mean: Float[Array, "nt nx"]
    time_cov: Float[Array, "nt nt"]
    space_cov: Float[Array, "nx nx"]
    down: Float[Array, "n nt nx"]
    time_root: Float[Array, "ntu ntu"]
    space_root: Float[Array, "nxu nxu"]
    chol: Float[Array, "n n"]
    noise: Float[Array, ""]
    law_G: Float[Array, "nt r nx"] | None = None
    law_noise: Float[Array, "nt r"] | None = None
    law_chol: Float[Array, "m m"] | None = None
    law_down: Float[Array, "m nt nx"] | None = None

    @property
    def variance(self) -> Array:
        """Marginal variances ``diag(A) diag(B)^T - sum V^2 (- sum Q^2)``, ``(nt, nx)``, clipped at 0."""
        var = jnp.outer(jnp.diagonal(self.time_cov), jnp.diagonal(self.space_cov)) - jnp.sum(self.down**2, 0)
        if self.law_down is not None:
            var = var - jnp.sum(self.law_down**2, 0)
        return jnp.maximum(var, 0.0)

    @property
    def std(self) -> Array:
        return jnp.sqrt(self.variance)

    def covariance(self) -> Array:
        """The dense ``(N, N)`` covariance of the flattened field (small grids only)."""
        n = self.mean.size
        cov = jnp.kron(self.time_cov, self.space_cov) - self.down.reshape(-1, n).T @ self.down.reshape(-1, n)
        if self.law_down is not None:
            cov = cov - self.law_down.reshape(-1, n).T @ self.law_down.reshape(-1, n)
        return cov

    def marginal_log_prob(self, u: ArrayLike) -> Array:
        var = self.variance
        return -0.5 * ((jnp.asarray(u) - self.mean) ** 2 / var + jnp.log(var) + LOG_2PI)

    @eqx.filter_jit
    def sample(self, key: PRNGKeyArray, n: int | None = None) -> Array:
        """Posterior samples ``(n, nt, nx)`` by Matheron's rule: a prior draw ``f`` on the union
        grid, ``u = mean + f_grid - V^T L^-1 (f_c + eps)``; after :meth:`conserve` also
        ``u -= Q^T L_S^-1 (G (u - mean) + eta)``, so ``G u = b`` to round-off for ``sigma_G = 0``."""
        nt, nx = self.mean.shape
        k1, k2, k3 = jax.random.split(key, 3)
        shape, dt = sample_shape(n), self.mean.dtype
        z = jax.random.normal(k1, shape + (self.time_root.shape[0], self.space_root.shape[0]), dt)
        f = self.time_root @ z @ self.space_root.T
        nc = self.chol.shape[0]
        f_c = f[..., nt + jnp.arange(nc), nx + jnp.arange(nc)]
        eps = jnp.sqrt(self.noise) * jax.random.normal(k2, shape + (nc,), dt)
        w = _solve_l(self.chol, jnp.moveaxis(f_c + eps, -1, 0))
        e = f[..., :nt, :nx] - jnp.tensordot(jnp.moveaxis(w, 0, -1), self.down, axes=1)
        if self.law_down is not None:
            eta = jnp.sqrt(self.law_noise) * jax.random.normal(k3, shape + self.law_noise.shape, dt)
            r = (jnp.einsum("trn,...tn->...tr", self.law_G, e) + eta).reshape(shape + (-1,))
            w = _solve_l(self.law_chol, jnp.moveaxis(r, -1, 0))
            e = e - jnp.tensordot(jnp.moveaxis(w, 0, -1), self.law_down, axes=1)
        return self.mean + e

    @eqx.filter_jit
    def conserve(self, law) -> GPPrediction:
        """ProbConserv's Step 2 on this posterior: condition exactly on ``law`` (a
        :class:`~physcon.constraints.LinearConstraint`, ``G`` ``(nt, r, nx)``, ``b`` ``(nt, r)``,
        ``noise`` = ``sigma_G`` ``(nt, r)``). Mean ``mu - Q^T L_S^-1 (G mu - b)``; covariance
        ``Sigma - Q^T Q``. Differentiable in the prediction and the law."""
        if self.law_down is not None:
            raise ValueError("prediction is already conditioned on a law; condition once on all rows")
        nt, nx = self.mean.shape
        G = jnp.asarray(law.G, self.mean.dtype)
        if G.shape[0] != nt or G.shape[2] != nx:
            raise ValueError(f"law expects (nt, nx) = ({G.shape[0]}, {G.shape[2]}), prediction has {(nt, nx)}")
        r = G.shape[1]
        GB = jnp.einsum("tri,ix->trx", G, self.space_cov)
        GV = jnp.einsum("tri,kti->ktr", G, self.down)
        GS = self.time_cov[:, None, :, None] * GB[:, :, None, :] - jnp.einsum("ktr,ksx->trsx", GV, self.down)
        nv = jnp.asarray(law.noise, self.mean.dtype) ** 2
        S = jnp.einsum("trsx,sjx->trsj", GS, G).reshape(nt * r, nt * r) + jnp.diag(nv.ravel())
        LS = _chol(0.5 * (S + S.T), "G Sigma G^T + sigma_G^2 I (the law's rows under the GP posterior)")
        Q = _solve_l(LS, GS.reshape(nt * r, nt * nx)).reshape(nt * r, nt, nx)
        resid = (jnp.einsum("trn,tn->tr", G, self.mean) - jnp.asarray(law.b, self.mean.dtype)).ravel()
        mean = self.mean - jnp.tensordot(_solve_l(LS, resid), Q, axes=1)
        return eqx.tree_at(lambda p: (p.mean, p.law_G, p.law_noise, p.law_chol, p.law_down), self,
                           (mean, G, nv, LS, Q), is_leaf=lambda v: v is None)


def _squash(theta, lo, hi):
    """``exp(log lo + (log hi - log lo) sigmoid(theta))``: a value in ``(lo, hi)``."""
    return jnp.exp(math.log(lo) + (math.log(hi) - math.log(lo)) * jax.nn.sigmoid(theta))


def _unsquash(value, lo, hi):
    s = (jnp.log(value) - math.log(lo)) / (math.log(hi) - math.log(lo))
    s = jnp.clip(s, 1e-6, 1 - 1e-6)
    return jnp.log(s) - jnp.log1p(-s)


@eqx.filter_jit
def fit_gp(context_x: Float[ArrayLike, "n 2"], context_y: Float[ArrayLike, " n"], *, kernel: str = "matern52",
           steps: int = 300, lr: float = 0.05, bounds: dict | None = None, init: GP | None = None) -> GP:
    """Maximise the log marginal likelihood of the context over the GP's hyperparameters (Adam,
    ``steps`` steps under ``lax.scan``; ``jit``/``vmap`` over functions).

    Each hyperparameter ``h`` is ``exp(log lo + (log hi - log lo) sigmoid(theta))``: it stays
    inside ``(lo, hi)``, so the fit cannot collapse to a zero length scale or noise. ``bounds``
    (default :data:`BOUNDS`) are relative: length scales to the context's span in each
    coordinate, amplitude and noise to the scale of ``context_y`` (its standard deviation, at
    least ``1e-3 max |y|``). ``init``: a starting GP (default: amplitude = scale, length scales
    0.2 span, noise 1e-2 scale, mean = the context average). Returns the fitted :class:`GP`.
    """
    cx, cy = _checked_context(context_x, context_y)
    b = {**BOUNDS, **(bounds or {})}
    if set(b) != set(BOUNDS) or any(not 0 < lo < hi for lo, hi in b.values()):
        raise ValueError(f"bounds must give 0 < low < high for {sorted(BOUNDS)}, got {bounds}")
    span = jnp.maximum(jnp.max(cx, 0) - jnp.min(cx, 0), jnp.finfo(cx.dtype).eps)
    scale = jnp.maximum(jnp.maximum(jnp.std(cy), 1e-3 * jnp.max(jnp.abs(cy))), jnp.finfo(cx.dtype).tiny ** 0.25)
    unit = {"amplitude": scale, "length_t": span[0], "length_x": span[1], "noise": scale}

    def build(theta):
        vals = {n: unit[n] * _squash(theta[n], *b[n]) for n in _HYPER}
        return GP(**vals, mean=theta["mean"], kernel=kernel)

    start = init if init is not None else GP(scale, 0.2 * span[0], 0.2 * span[1], 1e-2 * scale, jnp.mean(cy), kernel)
    h = start.hyperparameters()
    theta = {n: _unsquash(h[n] / unit[n], *b[n]) for n in _HYPER} | {"mean": jnp.asarray(h["mean"], cx.dtype)}
    opt = optax.adam(lr)

    def loss(th):
        return -build(th).log_marginal_likelihood(cx, cy) / cy.shape[0]

    def step(carry, _):
        th, st = carry
        g = jax.grad(loss)(th)
        upd, st = opt.update(g, st, th)
        return (optax.apply_updates(th, upd), st), None

    (theta, _), _ = jax.lax.scan(step, (theta, opt.init(theta)), None, length=steps)
    return build(theta)
