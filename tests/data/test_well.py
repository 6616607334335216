"""The file format (physcon.data.well): every kind round-trips bit for bit and regenerates bit for
bit; bad files give clear errors naming the file and what is wrong."""

from __future__ import annotations

import os

import h5py
import numpy as np
import pytest

from physcon import data
from physcon.bc import Dirichlet


def _arrays(ds):
    out = {"t": ds.t}
    for group in ("coords", "fields", "static", "params", "scalars"):
        out.update({f"{group}/{k}": v for k, v in getattr(ds, group).items()})
    return out


def test_every_kind_is_registered(tiny_files):
    assert set(data.kinds()) == set(tiny_files)
    assert data.kinds("flows") == ["cavity", "darcy", "navier_stokes", "wave"]
    with pytest.raises(ValueError, match="already registered"):
        data.register(data.get("wave"))


@pytest.mark.parametrize("kind", data.kinds())
def test_round_trip_and_verify(kind, tiny_files, tmp_path):
    ds, path = tiny_files[kind]
    back = data.load(path)
    a, b = _arrays(ds), _arrays(back)
    assert set(a) == set(b)
    for k in a:
        assert b[k].dtype == np.asarray(a[k]).dtype and b[k].shape == np.shape(a[k]), k
        np.testing.assert_array_equal(b[k], a[k], err_msg=k)
    assert (back.kind, back.seed, back.settings, back.constants) == (ds.kind, 1, ds.settings, ds.constants)
    assert [(w.name, w.condition, w.source, w.order, w.side) for w in back.walls] == \
        [(w.name, w.condition, w.source, w.order, w.side) for w in ds.walls]
    for w, v in zip(back.walls, ds.walls):
        if v.values is not None:
            np.testing.assert_array_equal(w.values, v.values)
    for name, v in ds.boundary_values().items():
        np.testing.assert_array_equal(back.boundary_values()[name], v)
    assert data.verify(path) == 0.0
    info = data.info(path)
    assert info["kind"] == kind and info["n"] == len(ds) and info["settings"] == ds.settings
    field = next(iter(ds.fields))
    assert info["shapes"][f"t0_fields/{field}"] == ds.fields[field].shape
    # a changed value anywhere in the main field fails verify
    tampered = tmp_path / "t.h5"
    tampered.write_bytes(open(path, "rb").read())
    with h5py.File(tampered, "a") as f:
        d = f[f"t0_fields/{field}"]
        d[(0, -1) + (1,) * (d.ndim - 2)] += 1e-3
    with pytest.raises(ValueError, match="regenerated data differ"):
        data.verify(tampered)


def test_save_never_overwrites_silently(tiny_files, tmp_path):
    ds, _ = tiny_files["stefan"]
    path = tmp_path / "s.h5"
    data.save(path, ds)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        data.save(path, ds)
    assert path.read_bytes() == before
    data.save(path, ds, overwrite=True)
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
    with pytest.raises(ValueError, match="must be a physcon.data.Dataset"):
        data.save(tmp_path / "x.h5", {"u": ds.u})


def test_dataset_rejects_arrays_that_do_not_fit(tiny_files):
    ds, _ = tiny_files["stefan"]
    with pytest.raises(ValueError, match=r"field 'u' has shape \(3, 3, 12\)"):
        data.Dataset("stefan", ds.t, ds.coords, {"u": ds.u[:, 1:]})
    with pytest.raises(ValueError, match=r"scalars\['mass'\] has shape"):
        data.Dataset("stefan", ds.t, ds.coords, ds.fields, scalars={"mass": ds.mass[:, :2]})
    with pytest.raises(ValueError, match=r"params\['u_star'\] has shape"):
        data.Dataset("stefan", ds.t, ds.coords, ds.fields, params={"u_star": ds.params["u_star"][:1]})
    with pytest.raises(ValueError, match="wall 'x_left' values have shape"):
        data.Dataset("stefan", ds.t, ds.coords, ds.fields,
                     walls=(data.Wall("x_left", "x", "left", "dirichlet", "table", np.zeros(2), time_varying=True),))
    with pytest.raises(ValueError, match="condition must be one of"):
        data.Wall("w", "x", "left", "slip")
    with pytest.raises(AttributeError, match="no field, scalar"):
        ds.vorticity


def test_bad_files_give_clear_errors(tiny_files, tmp_path):
    _, good = tiny_files["heat_neumann"]
    raw = open(good, "rb").read()
    truncated = tmp_path / "trunc.h5"
    truncated.write_bytes(raw[: len(raw) // 3])
    with pytest.raises(ValueError, match="trunc.h5 is not a readable HDF5 file"):
        data.load(truncated)
    with pytest.raises(FileNotFoundError):
        data.load(tmp_path / "missing.h5")
    random = tmp_path / "random.h5"
    with h5py.File(random, "w") as f:
        f["stuff"] = np.arange(3)
    with pytest.raises(ValueError, match="random.h5: not a physcon data file"):
        data.load(random)
    pdebench = tmp_path / "pde.hdf5"
    with h5py.File(pdebench, "w") as f:
        f["tensor"], f["x-coordinate"] = np.zeros((2, 3, 4)), np.arange(4.0)
    with pytest.raises(ValueError, match="looks like a PDEBench file; read it with physcon.data.read_pdebench"):
        data.load(pdebench)

    def edited(name, edit):
        p = tmp_path / name
        p.write_bytes(raw)
        with h5py.File(p, "a") as f:
            edit(f)
        return p

    with pytest.raises(ValueError, match="schema 'physcon.well/2', this physcon reads 'physcon.well/1'"):
        data.load(edited("v2.h5", lambda f: f.attrs.__setitem__("physcon_schema", "physcon.well/2")))
    with pytest.raises(ValueError, match="missing boundary_conditions"):
        data.load(edited("nobc.h5", lambda f: f.__delitem__("boundary_conditions")))
    with pytest.raises(ValueError, match="missing t0_fields/u"):
        data.load(edited("nou.h5", lambda f: f["t0_fields"].__delitem__("u")))
    with pytest.raises(ValueError, match="missing dimensions/x"):
        data.load(edited("nox.h5", lambda f: f["dimensions"].__delitem__("x")))
    with pytest.raises(ValueError, match=r"missing attrs\['physcon_settings'\]"):
        data.info(edited("noset.h5", lambda f: f.attrs.__delitem__("physcon_settings")))
    with pytest.raises(ValueError, match="not valid JSON"):
        data.load(edited("json.h5", lambda f: f.attrs.__setitem__("physcon_settings", "{oops")))

    def cut(f):
        u = f["t0_fields/u"][()]
        del f["t0_fields/u"]
        f["t0_fields/u"] = u[:, :, 1:]
        f["t0_fields/u"].attrs.update(time_varying=True, sample_varying=True, dim_varying=[True])
    with pytest.raises(ValueError, match=r"nocut.h5: field 'u' has shape \(2, 26, 15\), expected \(2, 26, 16\)"):
        data.load(edited("nocut.h5", cut))
    with pytest.raises(ValueError, match="cannot be regenerated"):
        data.verify(edited("foreign_kind.h5", lambda f: f.attrs.__setitem__("physcon_kind", "made_up_kind")))


def test_steady_pair_layout(tmp_path):
    # a steady operator pair (Darcy-like): coefficient static, solution one frame; round trip
    rng = np.random.default_rng(0)
    x = np.linspace(0, 1, 6)
    ds = data.Dataset("steady", np.zeros(1), {"x": x, "y": x}, {"u": rng.standard_normal((3, 1, 6, 6))},
                      static={"a": rng.uniform(1, 2, (3, 6, 6))},
                      walls=tuple(data.Wall(f"{d}_{s}", d, s, "dirichlet", "constant", np.float64(0.0))
                                  for d in "xy" for s in ("left", "right")))
    back = data.load(data.save(tmp_path / "steady.h5", ds))
    np.testing.assert_array_equal(back.static["a"], ds.static["a"])
    np.testing.assert_array_equal(back.u, ds.u)
    assert back.boundary_conditions()["y_right"] == Dirichlet(0.0)
    with h5py.File(tmp_path / "steady.h5") as f:
        assert not f["t0_fields/a"].attrs["time_varying"] and f["t0_fields/u"].attrs["time_varying"]
