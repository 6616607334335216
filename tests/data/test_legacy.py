"""physcon's two earlier formats are read once and converted: the arrays bit for bit, and the
converted files regenerate (verify) from their metadata."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from physcon import data
from physcon.data import operator as od


def _gpme_v1(path, ds):
    """A file as the old ``physcon.data.save`` wrote it (format physcon.gpme/1)."""
    with h5py.File(path, "w") as f:
        for k in ("u", "x", "t", "mass", "inflow"):
            f[k] = getattr(ds, k)
        f["params"] = ds.params[ds.parameter]
        f.attrs.update(format="physcon.gpme/1", physcon_version="0.1.0", problem=ds.kind, parameter=ds.parameter,
                       seed=-1 if ds.seed is None else ds.seed,
                       grid=json.dumps({"a": 0.0, "b": 1.0, "n": ds.x.shape[0]}),
                       solver=json.dumps({k: ds.settings[k] for k in ("substeps", "cfl", "boundary_order", "dtype")}))
    return path


def test_gpme_files_convert_and_verify(tmp_path):
    ds = data.generate("stefan", 3, seed=2, nx=12, nt=4)
    out = data.convert_legacy(_gpme_v1(tmp_path / "old.h5", ds), tmp_path / "new.h5")
    back = data.load(out)
    for k in ("u", "x", "t", "mass", "inflow"):
        np.testing.assert_array_equal(getattr(back, k), getattr(ds, k))
    assert back.settings == ds.settings and back.seed == 2 and back.version == "0.1.0"
    assert back.boundary_conditions() == ds.boundary_conditions()
    assert data.verify(out) == 0.0
    given = data.generate("stefan", params=[0.55, 0.65], nx=12, nt=4)
    out = data.convert_legacy(_gpme_v1(tmp_path / "given.h5", given), tmp_path / "given_new.h5")
    assert data.load(out).seed is None and data.verify(out) == 0.0
    with pytest.raises(FileExistsError):
        data.convert_legacy(tmp_path / "old.h5", tmp_path / "new.h5")
    with pytest.raises(ValueError, match="old.h5: a file in physcon's old format 'physcon.gpme/1'; convert it"):
        data.load(tmp_path / "old.h5")


def test_operator_files_convert_and_verify(tmp_path, x64):
    cfg = od.boon_config("stokes", multi_step=True, n=3, nx=12, seed=5)
    pair = od.boon_dataset_from_config(cfg)
    path = tmp_path / "op.h5"
    with h5py.File(path, "w") as f:  # as save_operator_data wrote it (format physcon.operator/1)
        for k in ("x", "t", "a", "u"):
            f[k] = np.asarray(getattr(pair, k))
        for k, v in pair.params.items():
            f[f"params/{k}"] = np.asarray(v)
        f.attrs.update(format="physcon.operator/1", physcon_version="0.1.0", name="stokes", meta=json.dumps(cfg))
    out = data.convert_legacy(path, tmp_path / "op_new.h5")
    back = od.to_operator_pair(data.load(out))
    for k in ("x", "t", "a", "u"):
        np.testing.assert_array_equal(getattr(back, k), np.asarray(getattr(pair, k)))
    assert data.verify(out) == 0.0
    with h5py.File(path, "a") as f:
        f.attrs["meta"] = json.dumps({"note": "hand-made"})
    other = data.load(data.convert_legacy(path, tmp_path / "other.h5"))
    assert other.kind == "legacy:stokes" and other.settings == {"meta": {"note": "hand-made"}}
    with pytest.raises(ValueError, match="cannot be regenerated"):
        data.verify(tmp_path / "other.h5")


def test_broken_legacy_files(tmp_path):
    ds = data.generate("stefan", 2, seed=0, nx=8, nt=3)
    good = _gpme_v1(tmp_path / "g.h5", ds)
    with h5py.File(good, "a") as f:
        del f["inflow"]
    with pytest.raises(ValueError, match="g.h5: missing inflow"):
        data.convert_legacy(good, tmp_path / "x.h5")
    new = data.save(tmp_path / "current.h5", ds)
    with pytest.raises(ValueError, match="a file in the current format"):
        data.convert_legacy(new, tmp_path / "y.h5")
    with pytest.raises(ValueError, match="out must differ"):
        data.convert_legacy(new, new)
