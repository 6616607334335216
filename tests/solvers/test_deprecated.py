"""The pre-1.0 flat module paths of physcon.solvers (physcon.solvers._deprecated): each still imports,
warns with a DeprecationWarning naming its successor, and hands back the successor's very objects."""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
import warnings

import pytest

import physcon.solvers as solvers
from physcon.solvers import _deprecated, burgers, heat, stokes
from physcon.solvers.gpme import exact, fv, hyperbolic, problem
from physcon.solvers.navier_stokes import cavity, cavity_data, cavity_poisson, cavity_stencils, periodic, spectral, steppers

SINGLE = {
    "cavity": cavity, "cavity_data": cavity_data, "ns_periodic": periodic, "ns_spectral": spectral,
    "ns_steppers": steppers, "fv": fv, "hyperbolic": hyperbolic, "problem": problem, "exact": exact,
}


def _fresh_import(old: str):
    """Import ``physcon.solvers.<old>`` as a first import would, recording the warnings."""
    sys.modules.pop(f"physcon.solvers.{old}", None)
    solvers.__dict__.pop(old, None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        __import__(f"physcon.solvers.{old}")  # as an import statement would: no importlib frame
    return sys.modules[f"physcon.solvers.{old}"], [w for w in caught if issubclass(w.category, DeprecationWarning)]


def test_every_old_path_is_covered_and_has_no_file():
    assert set(_deprecated.MOVED) == set(SINGLE) | {"boon_problems", "cavity_ops"}
    for old in _deprecated.MOVED:
        assert importlib.util.find_spec(f"physcon.solvers.{old}").origin is None  # no file of that name


@pytest.mark.parametrize("old", sorted(SINGLE))
def test_old_module_path_warns_and_is_the_new_module(old):
    module, caught = _fresh_import(old)
    assert module is SINGLE[old]
    assert len(caught) == 1 and SINGLE[old].__name__ in str(caught[0].message)
    assert caught[0].filename == __file__  # the warning points at the importer, not at importlib


@pytest.mark.parametrize("old, successors", [
    ("boon_problems", (heat, stokes, burgers)),
    ("cavity_ops", (cavity_stencils, cavity_poisson)),
])
def test_split_module_holds_its_successors_objects(old, successors):
    module, caught = _fresh_import(old)
    assert len(caught) == 1 and all(s.__name__ in str(caught[0].message) for s in successors)
    for succ in successors:
        for name in succ.__all__:
            assert getattr(module, name) is getattr(succ, name), name
    assert set(module.__all__) >= {n for s in successors for n in s.__all__}


def test_from_import_and_attribute_access_warn():
    sys.modules.pop("physcon.solvers.boon_problems", None)
    solvers.__dict__.pop("boon_problems", None)
    with pytest.warns(DeprecationWarning, match=r"physcon\.solvers\.boon_problems is deprecated"):
        from physcon.solvers.boon_problems import BoonDataset
    assert BoonDataset is heat.BoonDataset is solvers.BoonDataset
    solvers.__dict__.pop("ns_spectral", None)
    with pytest.warns(DeprecationWarning, match=r"navier_stokes\.spectral"):
        assert solvers.ns_spectral is spectral
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        solvers.nonexistent  # noqa: B018


def test_importing_physcon_imports_no_old_path():
    code = ("import sys, warnings; warnings.simplefilter('error', DeprecationWarning); import physcon; "
            "import physcon.solvers._deprecated as d; "
            "print(sorted(m for m in sys.modules if m.count('.') == 2 and m.startswith('physcon.solvers.') and m.rsplit('.', 1)[-1] in d.MOVED))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
