"""PDEBench-style files (the layouts its generators write), written here, read into a Dataset
usable for training and savable in The Well's schema."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from physcon import data
from physcon.bc import Periodic

rng = np.random.default_rng(0)


def _write(path, arrays, attrs=None):
    with h5py.File(path, "w") as f:
        for k, v in arrays.items():
            f[k] = v
        f.attrs.update(attrs or {})
    return path


def test_1d_tensor_with_the_extra_time_entry(tmp_path):
    # PDEBench's 1-D advection/Burgers writers: tensor (b, nt, nx), t-coordinate has nt + 1 entries
    u = rng.standard_normal((4, 6, 16)).astype(np.float32)
    x = ((np.arange(16) + 0.5) / 16).astype(np.float32)
    t = (np.arange(7) * 0.01).astype(np.float32)
    path = _write(tmp_path / "1D_Advection_Sols_beta0.1.hdf5", {"tensor": u, "x-coordinate": x, "t-coordinate": t},
                  {"beta": 0.1})
    ds = data.read_pdebench(path, boundary="periodic")
    assert ds.kind == "pdebench" and ds.seed is None and ds.settings["layout"] == "tensor"
    np.testing.assert_array_equal(ds.u, u)
    np.testing.assert_array_equal(ds.x, x)
    np.testing.assert_array_equal(ds.t, t[:6])
    assert ds.constants == {"beta": pytest.approx(0.1)} and ds.boundary_conditions() == {"x_periodic": Periodic()}
    assert len(data.read_pdebench(path, samples=2)) == 2
    back = data.load(data.save(tmp_path / "well" / "adv.h5", ds))   # into The Well's schema, bit for bit
    np.testing.assert_array_equal(back.u, u)
    with pytest.raises(ValueError, match="not a physcon generator"):
        data.verify(tmp_path / "well" / "adv.h5")
    bad = _write(tmp_path / "bad_t.hdf5", {"tensor": u, "x-coordinate": x, "t-coordinate": t[:3]})
    with pytest.raises(ValueError, match="bad_t.hdf5: t-coordinate has 3 entries for 6 frames"):
        data.read_pdebench(bad)
    bad = _write(tmp_path / "bad_x.hdf5", {"tensor": u, "x-coordinate": x[:5], "t-coordinate": t})
    with pytest.raises(ValueError, match="bad_x.hdf5: x-coordinate has shape"):
        data.read_pdebench(bad)


def test_darcy_pair_is_a_static_coefficient_and_one_frame(tmp_path):
    u = rng.standard_normal((3, 1, 8, 8)).astype(np.float32)
    nu = rng.uniform(0.1, 1, (3, 8, 8)).astype(np.float32)
    x = np.linspace(0, 1, 8, dtype=np.float32)
    ds = data.read_pdebench(_write(tmp_path / "2D_DarcyFlow_beta1.0_Train.hdf5",
                                   {"tensor": u, "nu": nu, "x-coordinate": x, "y-coordinate": x}, {"beta": 1.0}))
    assert ds.shape == (3, 1, 8, 8) and ds.t.tolist() == [0.0]
    np.testing.assert_array_equal(ds.static["nu"], nu)
    np.testing.assert_array_equal(ds.u, u)
    with pytest.raises(ValueError, match="steady pair needs"):
        data.read_pdebench(_write(tmp_path / "d2.hdf5", {"tensor": u, "nu": nu[:, :4], "x-coordinate": x,
                                                          "y-coordinate": x}))


def test_compressible_flow_velocity_is_a_vector_field(tmp_path):
    b, nt, n = 2, 3, 4
    arrays = {k: rng.standard_normal((b, nt, n, n)).astype(np.float32) for k in ("density", "pressure", "Vx", "Vy")}
    c = np.linspace(0, 1, n, dtype=np.float32)
    arrays.update({"x-coordinate": c, "y-coordinate": c, "t-coordinate": np.arange(nt + 1, dtype=np.float32)})
    ds = data.read_pdebench(_write(tmp_path / "2D_CFD.hdf5", arrays, {"eta": 0.1, "zeta": 0.1, "M": 0.1}))
    assert ds.fields["velocity"].shape == (b, nt, n, n, 2)
    np.testing.assert_array_equal(ds.fields["velocity"][..., 1], arrays["Vy"])
    back = data.load(data.save(tmp_path / "w" / "cfd.h5", ds))
    np.testing.assert_array_equal(back.fields["velocity"], ds.fields["velocity"])
    with h5py.File(tmp_path / "w" / "cfd.h5") as f:
        assert list(f["t1_fields"].attrs["field_names"]) == ["velocity"]
    del arrays["Vy"]
    with pytest.raises(ValueError, match="velocity components"):
        data.read_pdebench(_write(tmp_path / "bad.hdf5", arrays))


def test_incompressible_ns_and_seed_groups(tmp_path):
    v = rng.standard_normal((2, 3, 4, 4, 2)).astype(np.float32)
    t = np.tile(np.arange(3, dtype=np.float32), (2, 1))
    ds = data.read_pdebench(_write(tmp_path / "ns_incom_inhom_2d_512-0.h5",
                                   {"velocity": v, "particles": v[..., :1], "force": v[:, 0], "t": t}))
    np.testing.assert_array_equal(ds.x, (np.arange(4) + 0.5) / 4)
    assert ds.fields["particles"].shape == (2, 3, 4, 4) and ds.static["force"].shape == (2, 4, 4, 2)
    with pytest.raises(ValueError, match="different times"):
        data.read_pdebench(_write(tmp_path / "ns_bad.h5", {"velocity": v, "t": t * [[1], [2]]}))
    # one group per seed (shallow water / 2-D diffusion-reaction)
    path = tmp_path / "2D_diff-react_NA_NA.h5"
    with h5py.File(path, "w") as f:
        for s in range(3):
            g = f.create_group(f"{s:04d}")
            g["data"] = rng.standard_normal((5, 4, 6, 2)).astype(np.float32)
            g["grid/x"], g["grid/y"] = np.linspace(-1, 1, 4), np.linspace(-1, 1, 6)
            g["grid/t"] = np.linspace(0, 5, 5)
    ds = data.read_pdebench(path, names=["activator", "inhibitor"])
    assert ds.shape == (3, 5, 4, 6) and set(ds.fields) == {"activator", "inhibitor"}
    with h5py.File(path) as f:
        np.testing.assert_array_equal(ds.fields["inhibitor"][2], f["0002/data"][..., 1])
    with pytest.raises(ValueError, match="names must give 2 field names"):
        data.read_pdebench(path, names=["u"])


def test_foreign_and_broken_files(tmp_path):
    with pytest.raises(ValueError, match="other.h5: not a PDEBench-style file"):
        data.read_pdebench(_write(tmp_path / "other.h5", {"stuff": np.arange(3)}))
    good = _write(tmp_path / "g.hdf5", {"tensor": np.zeros((50, 20, 64)), "x-coordinate": np.arange(64.0),
                                        "t-coordinate": np.arange(21.0)})
    cut = tmp_path / "cut.hdf5"
    cut.write_bytes(good.read_bytes()[:2000])
    with pytest.raises(ValueError, match="cut.hdf5 is not a readable HDF5 file"):
        data.read_pdebench(cut)
