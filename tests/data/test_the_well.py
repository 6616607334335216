"""the_well's own dataset class reads physcon's files: shapes, values and boundary-condition types
of every kind (the_well 1.2.0, CPU torch)."""

from __future__ import annotations

import numpy as np
import pytest

from physcon import data

well = pytest.importorskip("the_well.data")

WALL, OPEN, PERIODIC = (well.datasets.BoundaryCondition[k].value for k in ("WALL", "OPEN", "PERIODIC"))


def _expected_bcs(ds):
    out = np.full((len(ds.coords), 2), OPEN)
    for w in ds.walls:
        i = list(ds.coords).index(w.dim)
        code = PERIODIC if w.condition == "periodic" else WALL  # Dirichlet, Neumann, Robin: all WALL
        for j in ((0, 1) if w.side == "both" else (0,) if w.side == "left" else (1,)):
            out[i, j] = code
    return out


@pytest.mark.parametrize("kind", data.kinds())
def test_well_dataset_reads_every_kind(kind, tiny_files):
    ds, path = tiny_files[kind]
    folder = str(path.parent) if hasattr(path, "parent") else path.rsplit("/", 1)[0]
    n, nt = len(ds), ds.t.shape[0]
    steps_in = 1 if nt > 1 else 0  # a steady pair (Darcy) has one frame: no input steps
    wd = well.WellDataset(path=folder, n_steps_input=steps_in, n_steps_output=1)
    per = nt - steps_in
    assert len(wd) == n * per  # one window per consecutive pair of frames (per sample if steady)
    meta = wd.metadata
    assert meta.dataset_name == kind and meta.n_spatial_dims == len(ds.coords)
    assert meta.spatial_resolution == tuple(c.shape[0] for c in ds.coords.values())
    assert meta.field_names[0] == list(ds.fields)
    assert meta.constant_scalar_names == [*ds.params, *ds.constants] and meta.scalar_names == list(ds.scalars)
    fields = np.stack([ds.fields[k] for k in ds.fields], -1)   # (n, nt, *space, channels)
    for index in (0, len(wd) - 1):
        sample, step = divmod(index, per)
        item = wd[index]
        if steps_in:
            np.testing.assert_array_equal(item["input_fields"].numpy(), fields[sample, step:step + 1])
        else:
            assert "input_fields" not in item
        np.testing.assert_array_equal(item["output_fields"].numpy(), fields[sample, step + steps_in:step + steps_in + 1])
        if ds.static:
            np.testing.assert_array_equal(item["constant_fields"].numpy(),
                                          np.stack([v[sample] for v in ds.static.values()], -1))
        np.testing.assert_array_equal(item["boundary_conditions"].numpy(), _expected_bcs(ds))
        grid = item["space_grid"].numpy()
        for i, c in enumerate(ds.coords.values()):
            np.testing.assert_array_equal(np.moveaxis(grid[..., i], i, 0)[(slice(None),) + (0,) * (grid.ndim - 2)], c)
        if ds.params or ds.constants:
            want = [*(v[sample] for v in ds.params.values()), *ds.constants.values()]
            np.testing.assert_allclose(item["constant_scalars"].numpy(), want, rtol=1e-7)
        if ds.scalars and steps_in:
            np.testing.assert_array_equal(item["input_scalars"].numpy()[0], [v[sample, step] for v in ds.scalars.values()])
        if steps_in:
            dt = item["output_time_grid"].numpy()[0]  # normalized to the window's start
            np.testing.assert_allclose(dt, ds.t[step + 1] - ds.t[step], rtol=1e-6)


def test_steady_pair_is_read_with_no_input_steps(tmp_path):
    # Darcy's layout: coefficient as a constant field, solution as a one-frame field
    rng = np.random.default_rng(1)
    x = np.linspace(0, 1, 5, dtype=np.float32)
    u, a = rng.standard_normal((2, 1, 5, 5)).astype(np.float32), rng.uniform(1, 2, (2, 5, 5)).astype(np.float32)
    walls = tuple(data.Wall(f"{d}_{s}", d, s, "dirichlet", "constant", np.float32(0.0)) for d in "xy"
                  for s in ("left", "right"))
    data.save(tmp_path / "d" / "steady.h5", data.Dataset("steady", np.zeros(1, np.float32), {"x": x, "y": x},
                                                       {"u": u}, static={"a": a}, walls=walls))
    wd = well.WellDataset(path=str(tmp_path / "d"), n_steps_input=0, n_steps_output=1)
    assert len(wd) == 2
    item = wd[1]
    assert "input_fields" not in item
    np.testing.assert_array_equal(item["output_fields"].numpy(), u[1][..., None])
    np.testing.assert_array_equal(item["constant_fields"].numpy(), a[1][..., None])
    np.testing.assert_array_equal(item["boundary_conditions"].numpy(), np.full((2, 2), WALL))
