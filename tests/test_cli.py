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


def test_generate_any_kind_with_settings(tmp_path):
    out = tmp_path / "darcy.h5"
    r = _run("generate", "darcy", "--n", "2", "--set", "nodes=5", "n_solve=9", "batch_size=2", "--out", str(out),
             cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    ds = data.load(out)
    assert ds.kind == "darcy" and ds.fields["pressure"].shape == (2, 1, 5, 5) and ds.settings["n_solve"] == 9
    v = _run("verify", str(out), cwd=tmp_path)
    assert v.returncode == 0 and "max relative difference 0.00e+00" in v.stdout, v.stderr
    bad = _run("generate", "darcy", "--n", "2", "--set", "nodez=5", "--out", "y.h5", cwd=tmp_path)
    assert bad.returncode == 2 and "nodez" in bad.stderr
    bad = _run("generate", "darcy", "--n", "2", "--set", "nodes", "--out", "y.h5", cwd=tmp_path)
    assert bad.returncode == 2 and "KEY=VALUE" in bad.stderr
    bad = _run("generate", "gpme", "--n", "2", "--out", "y.h5", cwd=tmp_path)
    assert bad.returncode == 2 and "--problem" in bad.stderr


def test_generate_rejects_unknown_problem(tmp_path):
    r = _run("generate", "gpme", "--problem", "navier", "--n", "2", "--out", "x.h5", cwd=tmp_path)
    assert r.returncode == 2 and "invalid choice" in r.stderr


def test_demo_runs_probconserv_end_to_end(tmp_path):
    # tiny sizes: the default demo (a few minutes) is the same code with more steps and data
    r = _run("demo", "--steps", "4", "--n-train", "16", "--n-test", "2", "--n-samples", "4", "--quiet",
             cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-2])
    for value in ("0.5", "0.6"):
        methods = summary[value]
        assert set(methods) >= {"ANP", "SoftC-ANP", "HardC-ANP", "ProbConserv-ANP", "shock_bias"}
        for m in ("HardC-ANP", "ProbConserv-ANP"):
            assert abs(methods[m]["ce"]) < 1e-12  # exact conservation (float64 constraint step)
        assert all(np.isfinite(methods[m]["mse"]) for m in ("ANP", "SoftC-ANP"))
    outdir = tmp_path / "physcon-out"
    report = (outdir / "report.md").read_text()
    assert "ProbConserv-ANP" in report and "Front position" in report
    for name in ("summary.json", "stefan_mass.png", "stefan_0.6_profile.png", "stefan_0.6_shock.png"):
        assert (outdir / name).stat().st_size > 0


def test_reproduce_boon_options():
    # parsing and the Setting it selects (the run itself is tests/experiments/test_boon.py)
    from physcon.cli import _boon_setting, build_parser, main
    from physcon.experiments import boon

    args = build_parser().parse_args(["reproduce", "boon", "--quick", "--problems", "stokes", "heat_neumann",
                                      "--mode", "faithful", "--epochs", "3", "--n-train", "40", "--seed", "2",
                                      "--out", "somewhere", "--quiet", "--no-ablation"])
    assert args.paper == "boon" and args.seed == 2 and args.out == "somewhere" and args.quiet
    setting, problems = _boon_setting(args)
    assert problems == ("stokes", "heat_neumann")
    assert setting.mode == "faithful" and setting.quick and not setting.ablation and setting.superres
    assert (setting.epochs, setting.epochs_multi, setting.n_train, setting.n_train_multi) == (3, 3, 40, 40)
    assert setting.width == boon.QUICK.width
    full, all_problems = _boon_setting(build_parser().parse_args(["reproduce", "boon"]))
    assert full == boon.PAPER and all_problems == boon.PROBLEMS
    assert main(["reproduce", "boon", "--families", "pme"]) == 2  # a ProbConserv option
    assert main(["reproduce", "probconserv", "--problems", "stokes"]) == 2  # a BOON option


def test_reproduce_boon_rejects_unknown_problem(tmp_path):
    r = _run("reproduce", "boon", "--problems", "navier", cwd=tmp_path)
    assert r.returncode == 2 and "invalid choice" in r.stderr


def test_reproduce_boon2d_rejects_a_1d_problem(tmp_path):
    r = _run("reproduce", "boon-2d", "--quick", "--problems", "stokes", cwd=tmp_path)
    assert r.returncode == 2 and "boon-2d problems are ['cavity', 'wave']" in r.stderr
