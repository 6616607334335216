"""The 2-D BOON reproduction end to end on a tiny setting: BOON's four walls at round-off (float64
evaluation) at the training and the 2x grid, the FNO's not; report files; bad problem names."""

from __future__ import annotations

import os

import numpy as np
import pytest

from physcon.experiments import boon2d

TINY = boon2d.Setting(n_train=4, n_test=2, n=9, n_frames=3, epochs=1, step_size=1, batch_size=2, modes=(2, 2, 2),
                      width=4, pad_t=1, ablation=False, compare_modes=False, log_every=1)


def test_run_writes_report_and_boon_walls_hold(tmp_path):
    result = boon2d.run(TINY, str(tmp_path), progress=False, log=lambda *a: None)
    for problem, r in result["problems"].items():
        assert r["n_2x"] == 17
        boon, fno = r["models"]["BOON"], r["models"]["FNO"]
        assert np.isfinite(boon["rel_l2"]) and len(boon["rel_l2_t"]) == 3
        for key in ("boundary", "boundary_2x"):
            own = {k: v for k, v in boon[key].items() if not k.endswith("indep")}
            assert len(own) == 4 and max(v["max"] for v in own.values()) <= 1e-10, (problem, key, own)
            assert max(v["max"] for k, v in fno[key].items() if not k.endswith("indep")) > 1e-6
    assert os.path.exists(tmp_path / "table.md") and os.path.exists(tmp_path / "results.json")
    for p in boon2d.PROBLEMS:
        assert os.path.exists(tmp_path / f"{p}_fields.png") and os.path.exists(tmp_path / f"{p}_error_t.png")
    table = (tmp_path / "table.md").read_text()
    assert "| cavity | BOON |" in table and "`x_lo_value`" in table and "`y_hi_derivative`" in table


def test_truth_satisfies_the_walls_to_discretisation_accuracy():
    # the wave data satisfy the walls through the scheme's mirror condition; the one-sided
    # stencils see an O(h^2) residual that falls by > 3x per halving of h
    errs = []
    for n in (65, 129):
        ds = boon2d.generate("wave", 1, n, TINY, 0)
        errs.append(max(v.max() for k, v in boon2d.boundary_errors(ds["u"], ds, "wave").items() if "indep" not in k))
    assert errs[0] / errs[1] > 3.0 and errs[1] < 0.01, errs
    ds = boon2d.generate("cavity", 2, 9, TINY, 0)
    err = boon2d.boundary_errors(ds["u"], ds, "cavity")
    assert max(v.max() for v in err.values()) == 0.0  # the oracle values are the truth's own


def test_bad_problem():
    with pytest.raises(ValueError, match="unknown problems"):
        boon2d.run(TINY, problems=("stokes",), progress=False)
