"""Old module paths of ``physcon.solvers`` that still import, with a ``DeprecationWarning``.

Before the solvers were arranged by physics they lived in flat modules (``boon_problems``,
``cavity``, ``ns_spectral``, ``fv``, ...). Those paths keep working without files of their own:
a meta-path finder answers ``import physcon.solvers.<old>`` (and :func:`attribute` answers
``physcon.solvers.<old>``) by warning and handing back the new module; an old module that was
split in two (``boon_problems``, ``cavity_ops``) becomes a module holding the very objects of its
successors, so ``old.X is new.X`` for every name.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
import warnings

_PACKAGE = "physcon.solvers"

#: old submodule name -> its successor(s), in lookup order.
MOVED: dict[str, tuple[str, ...]] = {
    "boon_problems": (
        "physcon.solvers.heat", "physcon.solvers.stokes", "physcon.solvers.burgers",
        "physcon.solvers._dataset", "physcon.solvers._checks", "physcon.solvers._spectral",
    ),
    "cavity": ("physcon.solvers.navier_stokes.cavity",),
    "cavity_data": ("physcon.solvers.navier_stokes.cavity_data",),
    "cavity_ops": (
        "physcon.solvers.navier_stokes.cavity_stencils", "physcon.solvers.navier_stokes.cavity_poisson",
        "physcon.solvers._spectral", "physcon.solvers._checks",
    ),
    "ns_periodic": ("physcon.solvers.navier_stokes.periodic",),
    "ns_spectral": ("physcon.solvers.navier_stokes.spectral",),
    "ns_steppers": ("physcon.solvers.navier_stokes.steppers",),
    "fv": ("physcon.solvers.gpme.fv",),
    "hyperbolic": ("physcon.solvers.gpme.hyperbolic",),
    "problem": ("physcon.solvers.gpme.problem",),
    "exact": ("physcon.solvers.gpme.exact",),
}


def _public(targets: tuple[str, ...]) -> str:
    return " / ".join(t for t in targets if not t.rsplit(".", 1)[-1].startswith("_"))


def _warn(old: str, stacklevel: int) -> None:
    warnings.warn(
        f"{_PACKAGE}.{old} is deprecated; import {_public(MOVED[old])} instead",
        DeprecationWarning,
        stacklevel=stacklevel,
    )


class _Loader(importlib.abc.Loader):
    def create_module(self, spec):
        return None  # the default module; exec_module swaps in the successor

    def exec_module(self, module):
        old = module.__name__.rsplit(".", 1)[-1]
        _warn(old, 3)  # importlib's own frames are skipped: this points at the import statement
        targets = [importlib.import_module(t) for t in MOVED[old]]
        if len(targets) == 1:
            # importlib returns whatever sys.modules holds after exec_module: the successor itself
            sys.modules[module.__name__] = targets[0]
            return
        names: list[str] = []
        for target in reversed(targets):  # earlier successors win on a clash
            for name, value in vars(target).items():
                if not (name.startswith("__") and name.endswith("__")):
                    setattr(module, name, value)
            names += [n for n in getattr(target, "__all__", ()) if n not in names]
        module.__all__ = names
        module.__doc__ = f"Deprecated alias of {_public(MOVED[old])}."


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        package, _, old = fullname.rpartition(".")
        if package != _PACKAGE or old not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, _Loader())


def install() -> None:
    """Put the finder on ``sys.meta_path`` (last: a real module of the same name would win)."""
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.append(_Finder())


def attribute(name: str) -> types.ModuleType:
    """``physcon.solvers.<name>`` for an old name: the (warning) import of the old path."""
    if name not in MOVED:
        raise AttributeError(f"module {_PACKAGE!r} has no attribute {name!r}")
    _warn(name, 4)  # past this function and the package's __getattr__: the caller
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # warned once, just above
        return importlib.import_module(f"{_PACKAGE}.{name}")
