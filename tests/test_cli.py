"""The command line, run as a user would (subprocesses)."""

import json
import subprocess
import sys

import numpy as np

from physcon import data


def _run(*args, cwd):
    return subprocess.run([sys.executable, "-m", "physcon.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def test_generate_and_verify(tmp_path):
    out = tmp_path / "stefan.h5"
    r = _run("generate", "gpme", "--problem", "stefan", "--n", "5", "--nx", "40", "--nt", "6",
             "--batch-size", "2", "--out", str(out), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "100%" in r.stderr  # tqdm progress bar
    ds = data.load(out)
    assert ds.u.shape == (5, 6, 40) and ds.problem == "stefan" and ds.seed == 0
    again = _run("generate", "gpme", "--problem", "stefan", "--n", "5", "--out", str(out), cwd=tmp_path)
    assert again.returncode == 2 and "--overwrite" in again.stderr
    v = _run("verify", str(out), cwd=tmp_path)
    assert v.returncode == 0 and "max relative difference 0.00e+00" in v.stdout


def test_generate_rejects_unknown_problem(tmp_path):
    r = _run("generate", "gpme", "--problem", "navier", "--n", "2", "--out", "x.h5", cwd=tmp_path)
    assert r.returncode == 2 and "invalid choice" in r.stderr


def test_demo_writes_report(tmp_path):
    r = _run("demo", "--n", "3", "--nx", "50", "--nt", "11", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-2])
    assert summary["mass_balance"] < 1e-12
    assert 1.0 < summary["order"] < 2.0
    outdir = tmp_path / "physcon-out"
    for name in ("report.md", "stefan_solution.png", "convergence.png", "stefan.h5"):
        assert (outdir / name).stat().st_size > 0
    assert "observed order" in (outdir / "report.md").read_text()
    assert np.isfinite(data.load(outdir / "stefan.h5").u).all()
