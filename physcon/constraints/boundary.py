"""BOON: boundary-exact Fourier neural operators (Saad et al., ICLR 2023).

``BOON(fno, left=..., right=...)`` wraps a :class:`physcon.models.FNO` so that its output
satisfies the boundary conditions at the two walls of grid axis 0 (``x``) exactly, at any
resolution. It adds no parameters. Two things happen (research/boon.md §1):

1. **Kernel correction in every Fourier layer** (``per_layer=True``): each layer's kernel
   ``K`` is replaced by ``T1 K T2``. ``T2`` changes the layer input only at the wall rows so
   that, after the layer, wall outputs depend on wall inputs only (block Gaussian elimination
   of the boundary rows); ``T1`` then imposes the condition on the hidden field (Dirichlet: the
   value; Neumann/Robin: the one-sided stencil solved for the wall node; periodic: the average
   of the two walls).
2. **Exact enforcement of the output**: the same ``T1`` on the prediction. This alone makes
   the boundary error round-off; the per-layer correction changes the function class.

Modes:

* ``mode="exact"`` (default): the elimination done correctly for multi-channel layers. With
  ``B`` the wall rows (both walls, all channels) and ``A`` the spectral convolution, the layer
  input is corrected to ``z_B = x_B - A_BB^{-1} A_BI x_I = 2 x_B - A_BB^{-1} (A x)_B`` so
  that ``(A z)_B = A_BB x_B``: wall outputs are *exactly* decoupled from interior inputs, and
  the interior block becomes the Schur complement ``A_II - A_IB A_BB^{-1} A_BI``. ``A_BB`` is a
  ``2C x 2C`` matrix (``C`` channels) computed in closed form from the spectral weights; on
  grids with more axes (``x, t`` or ``x, y, t``) the layer is a convolution along those axes,
  so ``A_BB`` is block-diagonal in their Fourier modes and one ``2C x 2C`` system is solved per
  kept mode. The pointwise branch ``W`` has no spatial coupling (already decoupled, so
  ``T2 = I``) and its bias is never part of the elimination. ``T1`` is applied once per layer,
  to the activated sum of the branches (``v <- T1 GELU(K T2 v + W v)``), so every layer's
  input satisfies the condition (the published code instead skips GELU at the wall rows). The
  cost is one forward pass of the layer plus transforms of the two wall rows, not seven passes.
  **Conditioning (measured, benchmarks/boon_conditioning.py):** ``A_BB`` of a trained-size
  layer is badly conditioned (median ``cond(A_BB)`` ~ 3e4 for 128 nodes / 32 channels, ~ 1e6
  for 500 nodes / 64 channels), because the wall rows of a band-limited kernel are nearly
  parallel across channels, and the exact inverse amplifies the wall rows by up to that factor
  (quick Stokes: test rel-L2 0.88 against 0.32 for faithful). So by default (``rcond=0.1``)
  the inverse is *damped*: ``X = (A_BB^H A_BB + lam I)^{-1} A_BB^H`` with ``lam = (rcond
  ||A_BB||_F)^2`` per block (Tikhonov; ``cond(A^H A + lam I) <= 101``, inverted by Newton-Schulz
  matmuls, no LAPACK), and ``z_B = x_B -
  X A_BI x_I``. Its gain ``||X|| ||A_BB||`` is at most ``1 / (2 rcond)``; the interior
  coupling of the wall outputs is removed along the well-conditioned directions of ``A_BB``
  and only damped along the others. The output ``T1`` is unchanged, so the boundary conditions
  still hold to round-off. ``rcond=None`` (or 0) is the exact inverse (exact decoupling);
  :func:`boon_conditioning` reports both condition numbers per layer; ``0.1`` was chosen on a
  validation split (benchmarks/boon_exact_rcond.py, docs/boon.md).
* ``mode="faithful"``: the published code's behaviour, for comparable numbers: scalar probes
  (all-channel impulse read at output channel 0, bias included; a vector over ``t`` in 2-D),
  ``T2 T1`` applied to the spectral and pointwise branches separately (Dirichlet values written
  into every hidden channel of each branch, Neumann branches halved), pivots clamped (``|K| <
  1e-7`` in 1-D; ``K < 1e-4`` signed in 2-D, ``|K| < 1e-4`` in 3-D), Neumann eliminating the
  right wall only in 1-D, the 2-D/3-D right step reading the left wall row, the 2-D Dirichlet
  "mollifier" (3-point average of the 4 rows next to each wall), and GELU applied at the walls
  in 1-D (the reference's index bug) but not in 2-D/3-D (in 3-D skipped on the x- and the
  y-wall rows). Over ``(x, y, t)`` each branch also gets its y walls overwritten before the
  branches are summed, and the y walls win at the corners (``corners="y"``), as in the
  published ``BOON_FNO3d``. ``tests/constraints/test_boundary_published.py`` checks the whole
  forward pass against an independent transcription of the published one (1-D, ``(x, t)``,
  ``(x, y, t)``; float64, <= 1e-10).

Boundary values are constants or functions of time (``bc.value(t)``); ``t`` is the time of a
single-step model or the times of the last grid axis (shape ``(nt,)``) of an ``(x, t)`` model.
At call time ``left=``/``right=`` override the values with arrays (e.g. per-sample Dirichlet
data read from the ground truth), broadcastable to the wall's shape ``grid[1:]``. Hidden
layers see the values zero-padded along padded axes (as the reference). Neumann and Robin
stencils are recomputed for every grid size (node grid ``linspace(*domain, n)``), so the
condition holds at zero-shot super-resolution too.
"""

from collections.abc import Sequence
from typing import Literal

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from physcon.bc import Dirichlet, Neumann, Periodic, Robin, check_pair
from physcon.constraints._elimination import (_corrected_conv, _corrected_input, _factor, conditioning, decouple,
                                              transpose_xy)
from physcon.constraints._faithful import _faithful_branch, _mollify
from physcon.constraints._walls import _pad_walls, _swap, _walls, check_corners, enforce, impose
from physcon.models.fno import FNO

__all__ = ["BOON", "boon_conditioning", "decouple", "enforce"]

_MODES = ("exact", "faithful")
_CORNERS = ("x", "y")
#: the exact mode's default ``rcond`` (chosen on a validation split, docs/boon.md)
DEFAULT_RCOND = 0.1


def _kind(bc) -> str:
    if isinstance(bc, Periodic):
        return "periodic"
    if isinstance(bc, Dirichlet):
        return "dirichlet"
    return "neumann"  # Neumann and Robin share the stencil path


def _check_domain(name, domain):
    domain = tuple(float(v) for v in domain)
    if len(domain) != 2 or not (np.isfinite(domain).all() and domain[1] > domain[0]):
        raise ValueError(f"{name} must be (a, b) with finite a < b, got {domain!r}")
    return domain


class BOON(eqx.Module):
    """An FNO whose predictions satisfy boundary conditions on the walls of grid axis 0 (and, for
    an FNO over ``(x, y)`` or ``(x, y, t)``, of axis 1) exactly.

    Args:
        fno: the :class:`physcon.models.FNO` to wrap (its parameters are BOON's parameters).
        left, right: conditions at ``x = domain[0]`` and ``x = domain[1]`` (Dirichlet, Neumann,
            Robin, or Periodic on both).
        mode: ``"exact"`` or ``"faithful"`` (see the module docstring).
        per_layer: correct every Fourier layer (BOON); ``False`` keeps only the output
            enforcement (the ablation "overwrite only").
        domain: the node grid of axis 0 is ``linspace(*domain, n)`` (walls included); it
            sets the spacing of Neumann/Robin stencils.
        bottom, top: conditions at ``y = domain_y[0]`` and ``y = domain_y[1]`` (grid axis 1) of
            an FNO over ``(x, y)`` or ``(x, y, t)`` (``n_dim=2, 3``); ``None`` (default) leaves the
            y walls free.
            Both or neither.
        domain_y: the node grid of axis 1, as ``domain``.
        corners: which walls win at the four corners where an x wall meets a y wall, ``"x"``
            or ``"y"`` (imposed last, so its conditions hold on their whole lines). ``None``
            (default): ``"y"`` in faithful mode (the published 3-D code overwrites the y walls
            after the x walls, in every branch and on the output), ``"x"`` in exact mode (its
            behaviour before the option existed). Without y walls it has no effect. With
            ``None``, Dirichlet x- and y-wall values that disagree at a corner are an error
            (``eqx.error_if``, also under ``jit``): pass ``"x"`` or ``"y"`` to say which wins.
        rcond: exact mode only (ignored by ``"faithful"``): the relative Tikhonov cutoff of the
            wall elimination, a float in ``[0, 1)``; ``None`` or ``0`` inverts ``A_BB`` exactly
            (wall outputs decoupled from interior inputs to round-off, but ill conditioned);
            the default ``0.1`` (chosen on a validation split, docs/boon.md) bounds the gain
            of the elimination by ``5``.
        width: exact mode only: ``None`` (default) corrects the wall nodes of each layer input
            (``z_B = x_B + Delta``, the published elimination); a float in ``(0, 0.5]`` spreads
            the correction over smooth wall profiles ``exp(-s^2 / (2 width^2))`` (``s``: the
            distance to the wall as a fraction of the x extent), ``z = x + b Delta`` with ``Delta``
            making the kernel branch's wall outputs vanish: the same operator at every grid
            spacing (a fixed physical width, not one node).

    Call ``boon(a, t=None, *, left=None, right=None, bottom=None, top=None, spectral=None)`` on
    one sample ``a: (in_channels, *grid)`` (as the FNO; ``jax.vmap`` for batches) ->
    ``(out_channels, *grid)``. ``t``: where time-dependent values are evaluated (a scalar, or
    ``(grid[-1],)`` for a model whose last axis is time); ``left``/``right``: arrays overriding
    the values, broadcastable to ``grid[1:]``; ``bottom``/``top``: the same for the y walls,
    broadcastable to ``(grid[0], grid[2])``.

    **Walls on two axes** (``n_dim=2`` over ``(x, y)``, e.g. Darcy, or ``n_dim=3``). Exact mode: each layer's input gets the x-wall
    elimination and then the y-wall elimination (the same algorithm on the layer with x and y
    swapped), so the layer's y-wall outputs depend only on its y-wall inputs exactly; the x
    walls stay decoupled up to the (small) coupling the second step re-introduces through the
    y-wall rows (a joint elimination of all four walls would need one ``(4 n C)``-sized system
    per mode). Faithful mode: the published 3-D code's x correction, with the y walls only
    overwritten (per branch, before the sum, so that hidden y walls carry both branches' values
    like the x walls) and GELU skipped on every x- and y-wall row. ``T1`` imposes both axes in
    every layer and on the output, the ``corners`` axis last: its conditions hold on their whole
    lines, the other axis' at every node off them. Dirichlet data that agree at the corners
    (e.g. read from one field) hold everywhere whichever wins.
    """

    fno: FNO
    left: Dirichlet | Neumann | Robin | Periodic
    right: Dirichlet | Neumann | Robin | Periodic
    mode: str = eqx.field(static=True, default="exact")
    per_layer: bool = eqx.field(static=True, default=True)
    domain: tuple[float, float] = eqx.field(static=True, default=(0.0, 1.0))
    bottom: Dirichlet | Neumann | Robin | Periodic | None = None
    top: Dirichlet | Neumann | Robin | Periodic | None = None
    domain_y: tuple[float, float] = eqx.field(static=True, default=(0.0, 1.0))
    corners: str = eqx.field(static=True, default="x")
    corners_given: bool = eqx.field(static=True, default=False)
    rcond: float = eqx.field(static=True, default=DEFAULT_RCOND)
    lift: float | None = eqx.field(static=True, default=None)
    width: float | None = eqx.field(static=True, default=None)

    def __init__(self, fno: FNO, *, left, right, mode: Literal["exact", "faithful"] = "exact",
                 per_layer: bool = True, domain: Sequence[float] = (0.0, 1.0), bottom=None, top=None,
                 domain_y: Sequence[float] = (0.0, 1.0), corners: Literal["x", "y"] | None = None,
                 rcond: float | None = DEFAULT_RCOND, lift: float | None = None, width: float | None = None):
        if not isinstance(fno, FNO):
            raise ValueError(f"fno must be a physcon.models.FNO, got {type(fno).__name__}")
        check_pair(left, right)
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
        if not isinstance(per_layer, bool):
            raise ValueError(f"per_layer must be a bool, got {per_layer!r}")
        domain, domain_y = _check_domain("domain", domain), _check_domain("domain_y", domain_y)
        if (bottom is None) != (top is None):
            raise ValueError("bottom and top must be given together (the two y walls)")
        if bottom is not None:
            if fno.n_dim < 2:
                raise ValueError("bottom/top (y walls) need an FNO over (x, y) or (x, y, t) (n_dim=2 or 3), "
                                 f"got n_dim={fno.n_dim}")
            check_pair(bottom, top, names=("bottom", "top"))
            if mode == "faithful" and (isinstance(bottom, Robin) or isinstance(top, Robin)):
                raise ValueError("mode='faithful' reproduces the published code, which has no Robin condition")
            if mode == "faithful" and _kind(bottom) != _kind(top):
                raise ValueError("mode='faithful' needs the same condition type on both y walls (bottom, top)")
        if mode == "faithful" and (isinstance(left, Robin) or isinstance(right, Robin)):
            raise ValueError("mode='faithful' reproduces the published code, which has no Robin condition")
        if mode == "faithful" and _kind(left) != _kind(right):
            raise ValueError("mode='faithful' needs the same condition type on both walls (as the published code)")
        self.fno, self.left, self.right = fno, left, right
        self.mode, self.per_layer, self.domain = mode, per_layer, domain
        if corners is not None and (not isinstance(corners, str) or corners not in _CORNERS):
            raise ValueError(f"corners must be one of {_CORNERS} or None, got {corners!r}")
        self.bottom, self.top, self.domain_y = bottom, top, domain_y
        self.corners = corners if corners is not None else ("y" if mode == "faithful" else "x")
        self.corners_given = corners is not None
        rc = 0.0 if rcond is None else rcond
        if isinstance(rc, bool) or not isinstance(rc, (int, float)) or not (0.0 <= rc < 1.0):
            raise ValueError(f"rcond must be a float in [0, 1) or None (the exact inverse), got {rcond!r}")
        self.rcond = float(rc)
        if lift is not None and (isinstance(lift, bool) or not isinstance(lift, (int, float))
                                 or not (np.isfinite(lift) and lift > 0)):
            raise ValueError(f"lift must be None or a positive finite length (units of x), got {lift!r}")
        self.lift = None if lift is None else float(lift)
        if width is not None and (isinstance(width, bool) or not isinstance(width, (int, float))
                                  or not (np.isfinite(width) and 0 < width <= 0.5)):
            raise ValueError(f"width must be None or a fraction of the x extent in (0, 0.5], got {width!r}")
        self.width = None if width is None else float(width)

    def __call__(self, a: Float[Array, "in_channels *grid"], t: ArrayLike | None = None, *,
                 left: ArrayLike | None = None, right: ArrayLike | None = None,
                 bottom: ArrayLike | None = None, top: ArrayLike | None = None,
                 spectral: Literal["fft", "dft", "auto"] | None = None) -> Float[Array, "out_channels *grid"]:
        fno = self.fno
        spectral = fno.spectral if spectral is None else spectral
        a = jnp.asarray(a)
        if a.ndim != fno.n_dim + 1 or a.shape[0] != fno.in_channels:
            raise ValueError(
                f"a must have shape (in_channels={fno.in_channels}, *grid) with n_dim={fno.n_dim} "
                f"grid axes, got {a.shape}")
        if not jnp.issubdtype(a.dtype, jnp.floating):
            a = a.astype(fno.lifting[0].weight.dtype)
        a = eqx.error_if(a, ~jnp.all(jnp.isfinite(a)), "a must be finite")
        grid = tuple(a.shape[1:])
        if grid[0] < 3:
            raise ValueError(f"BOON needs at least 3 nodes along axis 0, got {grid[0]}")
        walls = _walls(self.left, self.right, grid[0], self.domain, (left, right), t, grid[1:], a.dtype)
        # the output's T1; hidden layers always solve the stencil for the wall node
        out_walls = walls if self.lift is None else _walls(self.left, self.right, grid[0], self.domain, (left, right),
                                                           t, grid[1:], a.dtype, lift=self.lift)
        pads = fno.pad_sizes(grid)
        grid_p = tuple(n + p for n, p in zip(grid, pads))
        hidden = _pad_walls(walls, pads)
        kind = _kind(self.left)
        if self.bottom is None:
            if bottom is not None or top is not None:
                raise ValueError("bottom/top values given, but this BOON has no y-wall conditions")
            walls_y = hidden_y = out_walls_y = None
        else:
            if grid[1] < 3:
                raise ValueError(f"BOON needs at least 3 nodes along axis 1 for y walls, got {grid[1]}")
            walls_y = _walls(self.bottom, self.top, grid[1], self.domain_y, (bottom, top), t,
                             (grid[0],) + grid[2:], a.dtype, names=("bottom", "top"))
            hidden_y = _pad_walls(walls_y, (pads[1], pads[0]) + tuple(pads[2:]))
            out_walls_y = walls_y if self.lift is None else _walls(
                self.bottom, self.top, grid[1], self.domain_y, (bottom, top), t, (grid[0],) + grid[2:], a.dtype,
                names=("bottom", "top"), lift=self.lift)
        kind_y = None if self.bottom is None else _kind(self.bottom)
        if kind_y not in (None, "periodic") and self.mode == "exact" and self.per_layer and fno.n_dim == 2:
            (mx, my), (nx, ny) = fno.modes, grid_p
            if 2 * mx >= nx or 2 * (my - 1) >= ny:  # the swapped layer would meet a Nyquist mode
                raise ValueError(f"exact y walls on an (x, y) FNO need 2 * modes[0] < nx and 2 * (modes[1] - 1) < ny "
                                 f"on the padded grid; got modes {fno.modes} on {grid_p}")

        corners = self.corners
        # the published code skips GELU on the wall rows in 2-D/3-D: x rows, and y rows too
        mask = None
        if self.mode == "faithful" and fno.n_dim > 1:
            skip_x = kind != "periodic"
            skip_y = kind_y is not None and kind_y != "periodic"
            if skip_x or skip_y:
                mask = jnp.ones(grid_p[:2] if kind_y is not None else grid_p[:1], bool)
                if skip_x:
                    mask = mask.at[0].set(False).at[grid[0] - 1].set(False)
                if skip_y:
                    mask = mask.at[:, 0].set(False).at[:, grid[1] - 1].set(False)
        # a Neumann wall halves each faithful branch (the published Neumann correction)
        halve = kind == "neumann" or kind_y == "neumann"

        def act(v, m):
            g = fno._act(v)
            if m is None:
                return g
            return jnp.where(m.reshape((1,) + m.shape + (1,) * (v.ndim - 1 - m.ndim)), g, v)

        x = a
        if fno.grid:
            coords = jnp.meshgrid(*(jnp.linspace(0.0, 1.0, n, dtype=a.dtype) for n in grid), indexing="ij")
            x = jnp.concatenate([x, jnp.stack(coords)], axis=0)
        v = fno._mlp(fno.lifting, x)
        if any(pads):
            v = jnp.pad(v, [(0, 0)] + [(0, p) for p in pads])
        rows = (0, grid[0] - 1)
        for i, (conv, w) in enumerate(zip(fno.spectral_convs, fno.pointwise)):
            if not self.per_layer:
                v = conv(v, spectral) + w(v)
            elif self.mode == "faithful":
                # the published 3-D code only overwrites the y walls, in each branch
                v = sum(_faithful_branch(layer, v, kind, hidden, grid_p, grid[0], spectral, fno.n_dim,
                                         hidden_y, corners, halve) for layer in (conv, w))
            else:
                wd = self.width
                fac = lambda c, g, r: _factor(c, g, r, v.dtype, self.rcond, wd)  # noqa: E731
                if kind_y is None or kind_y == "periodic":
                    if kind == "periodic":
                        kv = conv(v, spectral)
                    else:
                        kv = _corrected_conv(conv, fac(conv, grid_p, rows), v, rows, grid_p, spectral, wd)
                else:  # walls on x and y: chain the two eliminations on the layer input
                    z = v
                    if kind != "periodic":
                        z = _corrected_input(conv, fac(conv, grid_p, rows), z, rows, grid_p, spectral, wd)
                    conv_t, grid_t = transpose_xy(conv), (grid_p[1], grid_p[0]) + grid_p[2:]
                    rows_y = (0, grid[1] - 1)
                    z = _swap(_corrected_input(conv_t, fac(conv_t, grid_t, rows_y), _swap(z), rows_y, grid_t,
                                               spectral, wd))
                    kv = conv(z, spectral)
                v = kv + w(v)
                # T1 after the activation: the next layer sees walls that satisfy the condition
                v = impose(fno._act(v) if i < fno.n_layers - 1 else v, hidden, hidden_y, corners)
                continue
            if i < fno.n_layers - 1:
                v = act(v, mask if self.per_layer else None)
        if any(pads):
            v = v[(slice(None), *(slice(0, n) for n in grid))]
        proj_mask = None if (mask is None or not self.per_layer) else mask[tuple(slice(0, n) for n in grid[: mask.ndim])]
        for j, layer in enumerate(fno.projection):
            v = layer(v)
            if j < len(fno.projection) - 1:
                v = act(v, proj_mask)
        v = impose(v, out_walls, out_walls_y, corners)
        if walls_y is not None and not self.corners_given:
            v = check_corners(walls, walls_y, v)
        if self.mode == "faithful" and self.per_layer and kind == "dirichlet" and fno.n_dim == 2:
            v = impose(_mollify(v, grid[0]), walls, walls_y, corners)
        return v


def boon_conditioning(boon: BOON, a: Float[Array, "in_channels *grid"]) -> list[dict]:
    """Conditioning of what BOON's exact mode inverts, per Fourier layer, on the grid of ``a``.

    ``a: (in_channels, *grid)`` is one input sample (only its shape is used: ``A_BB`` depends on
    the weights and the grid, not on the data). Returns one dict per layer with, for the x walls
    (``"x"``) and, when the y walls are eliminated too, the y walls (``"y"``), NumPy arrays over
    the active Fourier modes of the other axes (length 1 in 1-D):

    * ``cond``: ``cond_2(A_BB)`` of the ``2C x 2C`` wall block (what ``rcond=0`` inverts);
    * ``cond_regularised``: ``||X||_2 ||A_BB||_2`` of the inverse actually applied, ``X``
      (equal to ``cond`` for ``rcond=0``; at most ``1 / (2 rcond)`` with the damped inverse);
    * ``sigma_max``: ``||A_BB||_2``.

    A wall pair that is periodic (no elimination) or a faithful / ``per_layer=False`` BOON (no
    ``A_BB`` is inverted) gives an empty dict for that layer.
    """
    if not isinstance(boon, BOON):
        raise ValueError(f"boon must be a physcon.constraints.BOON, got {type(boon).__name__}")
    fno = boon.fno
    shape = tuple(np.shape(a))
    if len(shape) != fno.n_dim + 1 or shape[0] != fno.in_channels:
        raise ValueError(f"a must have shape (in_channels={fno.in_channels}, *grid) with n_dim={fno.n_dim} "
                         f"grid axes, got {shape}")
    grid = shape[1:]
    grid_p = tuple(n + p for n, p in zip(grid, fno.pad_sizes(grid)))
    dtype = jnp.asarray(fno.lifting[0].weight).dtype
    out = []
    for conv in fno.spectral_convs:
        layer = {}
        if boon.mode == "exact" and boon.per_layer:
            if _kind(boon.left) != "periodic":
                layer["x"] = conditioning(conv, grid_p, (0, grid[0] - 1), dtype, boon.rcond, boon.width)
            if boon.bottom is not None and _kind(boon.bottom) != "periodic":
                grid_t = (grid_p[1], grid_p[0]) + grid_p[2:]
                layer["y"] = conditioning(transpose_xy(conv), grid_t, (0, grid[1] - 1), dtype, boon.rcond,
                                          boon.width)
        out.append(layer)
    return out
