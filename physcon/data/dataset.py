"""The one container every physcon dataset comes in (:class:`Dataset`), and its walls (:class:`Wall`).

A :class:`Dataset` holds ``n`` samples of one *kind* (``"stefan"``, ``"heat_neumann"``,
``"cavity"``, ...; :mod:`physcon.data.kinds`) on one grid, as host NumPy arrays, sample axis
first, laid out as The Well lays out a file (:mod:`physcon.data.well`):

* ``fields``: time-varying fields ``(n, nt, *space[, components])`` (``u``, ``vorticity``);
  for the time-dependent kinds ``t[0]`` is the initial time, so ``fields[name][:, 0]`` is the
  input of an operator-learning pair and ``[:, 1:]`` its targets;
* ``static``: time-independent per-sample fields ``(n, *space)`` (a coefficient such as
  Darcy's permeability);
* ``params``: per-sample parameters ``(n,)``; ``scalars``: per-sample time series ``(n, nt)``
  (the GPME mass and inflow); ``constants``: run-wide physical constants (``nu``, ``Re``);
* ``walls``: one :class:`Wall` per boundary condition;
* ``seed``, ``settings``, ``version``: what :func:`physcon.data.verify` regenerates it from.

Names resolve as attributes: ``ds.u``, ``ds.mass``, ``ds.x``, ``ds.vorticity``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from physcon._version import __version__
from physcon.bc import Dirichlet, Neumann, Periodic, Robin
from physcon.grid import Grid1D

__all__ = ["Dataset", "Wall", "Tabulated", "oracle", "wall_from_bc"]

CONDITIONS = ("dirichlet", "neumann", "robin", "periodic")
SOURCES = ("none", "constant", "table", "field")


def oracle(t):
    """Placeholder value of the Dirichlet walls whose values come from the ground truth.

    BOON reads such values per sample from the target itself (``u[:, :, 0]``, ``u[:, :, -1]``);
    they are not a function of time shared by the batch. Evaluating this placeholder raises:
    pass the values explicitly (:meth:`Dataset.boundary_values`,
    :func:`physcon.data.operator.boundary_values`).
    """
    raise ValueError(
        "this Dirichlet condition takes its values per sample from the ground truth (oracle): "
        "pass physcon.data.operator.boundary_values(problem, ds) (or Dataset.boundary_values()) explicitly")


class Tabulated(eqx.Module):
    """A boundary value known at the times ``t``: ``values (..., nt)``, linear in between.

    Exact at the stored times (where the data live); a leading sample axis gives one value per
    problem of a batch, as :mod:`physcon.bc` allows."""

    t: Array
    values: Array

    def __call__(self, t):
        flat = jnp.reshape(self.values, (-1, self.values.shape[-1]))
        out = jax.vmap(lambda v: jnp.interp(t, self.t, v))(flat)
        return jnp.reshape(out, self.values.shape[:-1]) if self.values.ndim > 1 else out[0]


@dataclasses.dataclass(frozen=True, eq=False)
class Wall:
    """One boundary condition of a dataset, as a Well ``boundary_conditions`` subgroup stores it.

    Attributes:
        name: group name (``"x_left"``, ``"y_periodic"``).
        dim: the spatial axis it bounds (``"x"``, ``"y"``).
        side: ``"left"`` (index 0), ``"right"`` (index -1) or ``"both"`` (periodic).
        condition: ``"dirichlet"``, ``"neumann"``, ``"robin"`` or ``"periodic"``.
        source: where the prescribed values are: ``"none"`` (periodic), ``"constant"`` /
            ``"table"`` (in ``values``), ``"field"`` (read from the fields at the wall, BOON's oracle).
        values: ``()`` constant, ``(nt,)`` varying in time, ``(n,)`` per sample, ``(n, nt)`` both.
        sample_varying, time_varying: how ``values`` vary.
        order: the one-sided stencil order (Neumann, Robin).
        robin: ``(a, b)`` of ``a u + b du/dx = g``.
        fields: the fields it applies to.
        position: the wall's coordinate.
    """

    name: str
    dim: str
    side: str
    condition: str
    source: str = "none"
    values: np.ndarray | None = None
    sample_varying: bool = False
    time_varying: bool = False
    order: int | None = None
    robin: tuple[float, float] | None = None
    fields: tuple[str, ...] = ()
    position: float = float("nan")

    def __post_init__(self):
        if self.condition not in CONDITIONS:
            raise ValueError(f"Wall {self.name!r}: condition must be one of {CONDITIONS}, got {self.condition!r}")
        if self.source not in SOURCES:
            raise ValueError(f"Wall {self.name!r}: source must be one of {SOURCES}, got {self.source!r}")
        if self.side not in ("left", "right", "both"):
            raise ValueError(f"Wall {self.name!r}: side must be left, right or both, got {self.side!r}")
        if (self.values is None) != (self.source in ("none", "field")):
            raise ValueError(f"Wall {self.name!r}: values must be given exactly for sources constant/table")

    @property
    def well_type(self) -> str:
        """The Well's ``bc_type``: ``PERIODIC``, or ``WALL`` for any prescribed-value condition."""
        return "PERIODIC" if self.condition == "periodic" else "WALL"

    def bc(self, t=None):
        """The :mod:`physcon.bc` condition: ``Periodic()``, ``Dirichlet(oracle)`` for values
        from the field, a constant, or :class:`Tabulated` values at the times ``t``."""
        if self.condition == "periodic":
            return Periodic()
        if self.source == "field":
            value: Any = oracle
        elif not self.time_varying:
            value = float(self.values) if np.ndim(self.values) == 0 else jnp.asarray(self.values)
        else:
            if t is None:
                raise ValueError(f"Wall {self.name!r}: time-varying values need the times t")
            value = Tabulated(jnp.asarray(t), jnp.asarray(self.values))
        if self.condition == "dirichlet":
            return Dirichlet(value)
        if self.condition == "neumann":
            return Neumann(value, order=int(self.order))
        return Robin(value, a=self.robin[0], b=self.robin[1], order=int(self.order))


def _compress(v: np.ndarray):
    """``(n, nt)`` wall values -> the smallest array that holds them, and how they vary."""
    sample = not bool(np.all(v == v[:1]))
    time = not bool(np.all(v == v[:, :1]))
    out = v if sample and time else v[:, 0] if sample else v[0] if time else v[0, 0]
    return np.asarray(out), sample, time


def wall_from_bc(name, dim, side, bc, *, t, n, dtype, fields=("u",), position=float("nan"), from_field=False) -> Wall:
    """Describe a :mod:`physcon.bc` condition as a :class:`Wall`, its value evaluated at every
    time of ``t`` for the ``n`` problems of a batch (a batched problem's wall gives one value
    per problem). ``from_field``: the values are the fields' own wall values (the oracle)."""
    if isinstance(bc, Periodic):
        return Wall(name, dim, "both", "periodic", fields=tuple(fields), position=position)
    kind = {Dirichlet: "dirichlet", Neumann: "neumann", Robin: "robin"}[type(bc)]
    order = getattr(bc, "order", None)
    robin = (float(bc.a), float(bc.b)) if isinstance(bc, Robin) else None
    if from_field:
        return Wall(name, dim, side, kind, "field", order=order, robin=robin, fields=tuple(fields), position=position)
    tt = jnp.asarray(t, dtype)
    vals = jax.vmap(lambda s: jnp.broadcast_to(bc.at(s, dtype), (n,)))(tt)  # (nt, n)
    values, sample, time = _compress(np.asarray(vals).T)
    return Wall(name, dim, side, kind, "table" if time else "constant", values, sample, time, order, robin,
                tuple(fields), position)


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    """``n`` samples of one dataset kind (module docstring); host NumPy arrays, sample axis first.

    Attributes:
        kind: the registry name (:func:`physcon.data.kinds`), or ``"pdebench"`` / a foreign name
            for imported data (those cannot be regenerated).
        t: output times ``(nt,)``.
        coords: the spatial axes in order, ``{"x": (nx,)[, "y": (ny,)]}``.
        fields: time-varying fields, each ``(n, nt, *space)`` (a trailing axis of ``len(coords)``
            components per tensor order: vectors ``(..., d)``).
        static: time-independent per-sample fields, each ``(n, *space)``.
        params: per-sample parameters, each ``(n,)``.
        scalars: per-sample time series, each ``(n, nt)``.
        constants: run-wide physical constants (floats).
        walls: the boundary conditions.
        settings: the resolved generator settings (JSON-able); with ``seed`` and ``n`` they
            regenerate the data.
        seed: the PRNG seed (``None``: parameters given explicitly, or imported data).
        version: the physcon version that made the data.
    """

    kind: str
    t: np.ndarray
    coords: dict
    fields: dict
    static: dict = dataclasses.field(default_factory=dict)
    params: dict = dataclasses.field(default_factory=dict)
    scalars: dict = dataclasses.field(default_factory=dict)
    constants: dict = dataclasses.field(default_factory=dict)
    walls: tuple = ()
    settings: dict = dataclasses.field(default_factory=dict)
    seed: int | None = None
    version: str = __version__

    def __post_init__(self):
        check(self, "Dataset")

    def __len__(self) -> int:
        return next(iter(self.fields.values())).shape[0]

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        for group in ("fields", "static", "scalars", "coords", "params"):
            values = object.__getattribute__(self, group)
            if name in values:
                return values[name]
        raise AttributeError(f"{type(self).__name__} of kind {self.kind!r} has no field, scalar, coordinate or "
                             f"parameter {name!r}")

    @property
    def problem(self) -> str:
        """The kind's name (the GPME sets' historical attribute)."""
        return self.kind

    @property
    def parameter(self) -> str:
        """The name of the one varied per-sample parameter (``"u_star"`` for ``"stefan"``)."""
        if len(self.params) != 1:
            raise ValueError(f"kind {self.kind!r} has parameters {sorted(self.params)}, not exactly one")
        return next(iter(self.params))

    @property
    def shape(self) -> tuple[int, ...]:
        """``(n, nt, *space)``."""
        return (len(self), self.t.shape[0], *(c.shape[0] for c in self.coords.values()))

    def boundary_conditions(self) -> dict:
        """``{wall name: physcon.bc condition}`` (:meth:`Wall.bc`)."""
        return {w.name: w.bc(self.t) for w in self.walls}

    def boundary_values(self) -> dict:
        """``{wall name: values}`` of every non-periodic wall, each ``(n, nt)`` in 1-D and
        ``(n, nt, m)`` along an ``m``-point wall in 2-D: the stored values broadcast, or the
        fields' own wall values (``source = "field"``)."""
        out = {}
        n, nt = len(self), self.t.shape[0]
        dims = list(self.coords)
        for w in self.walls:
            if w.condition == "periodic":
                continue
            if w.source == "field":
                u = self.fields[w.fields[0]]
                axis = 2 + dims.index(w.dim)
                out[w.name] = np.take(u, 0 if w.side == "left" else -1, axis=axis)
                continue
            v = np.asarray(w.values)
            v = v[:, None] if (w.sample_varying and not w.time_varying) else v
            v = np.broadcast_to(v, (n, nt))
            along = tuple(self.coords[d].shape[0] for d in dims if d != w.dim)
            out[w.name] = np.broadcast_to(v.reshape(n, nt, *(1 for _ in along)), (n, nt, *along))
        return out

    def mass_balance_error(self) -> np.ndarray:
        """GPME kinds: per-sample ``max_t |dx sum u(t) - dx sum u(0) - inflow(t)|`` (round-off)."""
        return mass_balance_error(self)


def mass_balance_error(ds: Dataset) -> np.ndarray:
    """Per-sample ``max_t |dx sum u(t) - dx sum u(0) - inflow(t)|`` of a GPME dataset (round-off)."""
    from physcon.solvers.gpme import PROBLEMS

    if ds.kind not in PROBLEMS or "inflow" not in ds.scalars:
        raise ValueError(f"mass_balance_error needs a GPME dataset (with scalars['inflow']), got kind {ds.kind!r}")
    dx = Grid1D.cells(*PROBLEMS[ds.kind].domain, n=ds.coords["x"].shape[0]).dx
    m = dx * ds.fields["u"].sum(-1)
    return np.abs(m - m[:, :1] - ds.scalars["inflow"]).max(-1)


def check(ds: Dataset, where: str) -> None:
    """Raise ``ValueError`` (naming ``where``) unless the arrays of ``ds`` fit together."""
    if not ds.fields:
        raise ValueError(f"{where}: no fields")
    t = np.asarray(ds.t)
    if t.ndim != 1 or t.shape[0] < 1:
        raise ValueError(f"{where}: t must have shape (nt >= 1,), got {t.shape}")
    space = []
    for d, c in ds.coords.items():
        if np.ndim(c) != 1:
            raise ValueError(f"{where}: coordinate {d!r} must be 1-D, got shape {np.shape(c)}")
        space.append(np.shape(c)[0])
    n, nt, nd = np.shape(next(iter(ds.fields.values())))[0], t.shape[0], len(space)
    for name, f in ds.fields.items():
        shape = np.shape(f)
        order = len(shape) - 2 - nd
        if order not in (0, 1, 2) or shape[:2 + nd] != (n, nt, *space) or shape[2 + nd:] != (nd,) * order:
            raise ValueError(f"{where}: field {name!r} has shape {shape}, expected {(n, nt, *space)} "
                             f"(+ {nd} components per tensor order)")
    for group, expected in (("static", (n, *space)), ("params", (n,)), ("scalars", (n, nt))):
        for name, v in getattr(ds, group).items():
            if np.shape(v)[: len(expected)] != expected or (group != "static" and np.ndim(v) != len(expected)):
                raise ValueError(f"{where}: {group}[{name!r}] has shape {np.shape(v)}, expected {expected}")
    for w in ds.walls:
        if not isinstance(w, Wall):
            raise ValueError(f"{where}: walls must be Wall objects, got {w!r}")
        if w.dim not in ds.coords:
            raise ValueError(f"{where}: wall {w.name!r} bounds {w.dim!r}, not one of {list(ds.coords)}")
        if w.values is not None:
            expected = (n,) * w.sample_varying + (nt,) * w.time_varying
            if np.shape(w.values) != expected:
                raise ValueError(f"{where}: wall {w.name!r} values have shape {np.shape(w.values)}, expected {expected}")
