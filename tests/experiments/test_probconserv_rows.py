"""The extra rows of ``physcon reproduce probconserv``: GP / ProbConserv-GP, Ensemble-ANP /
ProbConserv-Ensemble-ANP and Ensemble-FNO / ProbConserv-Ensemble-FNO predictions end to end on
tiny settings (float64), and the CLI flags ``--gp``, ``--ensemble M``, ``--fno-ensemble M`` and
``--study`` that select them (the runs themselves are mocked)."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from physcon.experiments import probconserv as pcx
from physcon.tasks import sample_tasks


@pytest.fixture(scope="module")
def setting():
    return dataclasses.replace(pcx.QUICK, hidden=8, latent=8, n_samples=2, n_test=2, eval_nx=21, eval_nt=6,
                               eval_chunk=2)


def _contexts(family, value, setting):
    # contexts from the closed form on a small grid (no solve): the rows only see (t, x, u) points
    cls = pcx.pdata.problem_class(family)
    problem = cls(**{cls.parameter: value})
    x = jnp.linspace(*cls.domain, 32)
    t = jnp.linspace(*cls.t_span, 11)
    u = problem.exact(x, t)[None]
    return sample_tasks(u, x, t, jax.random.PRNGKey(1), params=np.array([value]), n_target=None,
                        repeats=setting.n_test)


def _check_rows(out, prior, post, family, value, setting):
    _, _, _, _, _, law = pcx.test_problem(family, value, setting)
    shape = (setting.n_test, setting.eval_nt, setting.eval_nx)
    for m in (prior, post):
        assert all(np.shape(a) == shape for a in out[m]), m
        assert np.all(np.isfinite(out[m][0])) and np.all(out[m][1] >= 0), m
    b = float(np.abs(law.b).max())
    ce = lambda mean: np.abs(np.asarray(jax.vmap(law.residual)(jnp.asarray(mean)))).max()
    assert ce(out[post][0]) <= 1e-10 * b  # the constrained row conserves to round-off
    assert ce(out[prior][0]) > 1e-6 * b  # the unconstrained one does not
    assert np.all(out[post][1] <= out[prior][1] * (1 + 1e-9) + 1e-14)  # conditioning never adds variance
    return law


def test_gp_rows_conserve_and_fit_the_context(x64, setting, monkeypatch):
    from physcon.experiments import probconserv_gp as pgp

    monkeypatch.setattr(pgp, "GP_STEPS", 30)
    ctx = _contexts("pme", 3.0, setting)
    assert pgp.ROWS.fit("pme", None, None, setting, None, False) is None  # per-function model
    out = pgp.ROWS.predict(None, "pme", 3.0, ctx, setting, jax.random.PRNGKey(0))
    assert set(out) == set(pgp.METHODS)
    _check_rows(out, "GP", "ProbConserv-GP", "pme", 3.0, setting)
    # the GP of function i is function i's own: the means differ between the context draws
    assert np.abs(out["GP"][0][0] - out["GP"][0][1]).max() > 1e-6
    # and it has learned the field: its MSE on the grid is a fraction of the best constant's
    _, _, _, _, truth, _ = pcx.test_problem("pme", 3.0, setting)
    assert np.mean((out["GP"][0] - truth) ** 2) < 0.5 * np.var(truth)


def test_ensemble_rows_predict_end_to_end(x64, setting):
    from physcon.experiments import probconserv_ensemble as pce
    from physcon.models import ANP, Ensemble

    with pytest.raises(ValueError, match="m"):
        pce.rows(1)
    # (Ensemble.stack of two ANPs equals Ensemble(make, m=2) leaf for leaf; it skips the eager
    # filter_vmap of the initialisation, which is slower on a loaded CPU)
    ens = Ensemble.stack([ANP(hidden=8, latent=8, heads=2, key=k) for k in jax.random.split(jax.random.PRNGKey(0), 2)])
    ctx = _contexts("stefan", 0.6, setting)
    out = pce.predict_anp_ensemble(ens, "stefan", 0.6, ctx, setting, jax.random.PRNGKey(2))
    assert set(out) == set(pce.METHODS)
    _check_rows(out, "Ensemble-ANP", "ProbConserv-Ensemble-ANP", "stefan", 0.6, setting)


def test_fno_ensemble_rows_fit_and_conserve(x64, setting):
    """Two FNOs trained for a few steps on 8 solved PME problems (parameter -> solution), then the
    ensemble Gaussian and its ProbConserv posterior on the evaluation grid."""
    from physcon.experiments import probconserv_fno as pf

    s = dataclasses.replace(setting, n_train=8, steps=4, batch_size=4, solver_nx=16, solver_nt=11)
    with pytest.raises(ValueError, match="m"):
        pf.rows(1)
    with jax.enable_x64(False):  # training in float32, as in run()
        state = pf.rows(2).fit("pme", None, None, s, jax.random.PRNGKey(0), False)
    ens, (lo, hi), t_s, x_s = state
    assert ens.m == 2 and (lo, hi) == (1.0, 6.0) and t_s.shape == (3,) and x_s.shape == (16,)
    ctx = {"context_x": np.zeros((s.n_test, 100, 2))}
    out = pf.predict_fno_ensemble(state, "pme", 3.0, ctx, s, None)
    _check_rows(out, "Ensemble-FNO", "ProbConserv-Ensemble-FNO", "pme", 3.0, s)
    np.testing.assert_array_equal(out["Ensemble-FNO"][0][0], out["Ensemble-FNO"][0][1])  # no context used


def _mock_runs(monkeypatch):
    from physcon.experiments import probconserv_report as report
    from physcon.experiments import probconserv_studies as studies

    calls = []
    monkeypatch.setattr(pcx, "run", lambda fam, setting, **kw: calls.append(("run", fam, setting, kw)) or {})
    monkeypatch.setattr(report, "write", lambda results, out, **kw: {"report": "r", "summary": "s", "figures": []})
    monkeypatch.setattr(studies, "sigma_study", lambda setting, **kw: calls.append(("sigma", setting, kw)) or {})
    monkeypatch.setattr(studies, "hetero_study", lambda setting, **kw: calls.append(("hetero", setting, kw)) or {})
    monkeypatch.setattr(studies, "write", lambda name, res, out: [out])
    return calls


def test_cli_row_flags(monkeypatch, capsys, tmp_path):
    from physcon.cli import main

    monkeypatch.chdir(tmp_path)  # the default --out (its checkpoint folder) lands here
    from physcon.experiments import probconserv_ensemble as pce
    from physcon.experiments import probconserv_gp as pgp

    calls = _mock_runs(monkeypatch)
    from physcon.experiments import probconserv_fno as pf

    assert main(["reproduce", "probconserv", "--quick", "--gp", "--ensemble", "3", "--fno-ensemble", "2",
                 "--families", "stefan", "pme", "--n-test", "5", "--quiet"]) == 0
    assert [c[1] for c in calls] == ["stefan", "pme"]
    extra = calls[0][3]["extra"]
    assert [r.methods for r in extra] == [pce.METHODS, pf.METHODS, pgp.METHODS]
    assert calls[0][2] == dataclasses.replace(pcx.QUICK, n_test=5) and calls[0][3]["progress"] is False
    calls.clear()
    # another --out: a second run into the first one's checkpoint folder is refused without --resume
    assert main(["reproduce", "probconserv", "--quick", "--families", "pme", "--out", "second"]) == 0
    assert calls[0][3]["extra"] == ()  # no flag, no extra rows
    calls.clear()
    assert main(["reproduce", "probconserv", "--quick", "--study", "hetero", "--seed", "3"]) == 0
    assert calls == [("hetero", pcx.QUICK, {"seed": 3})]
    capsys.readouterr()
    for argv, msg in ((["--ensemble", "1"], "M >= 2"), (["--fno-ensemble", "0"], "M >= 2"),
                      (["--study", "sigma", "--gp"], "--study"), (["--study", "sigma", "--fno-ensemble", "2"], "--study"),
                      (["--study", "sigma", "--ensemble", "4"], "--study")):
        assert main(["reproduce", "probconserv", "--quick", *argv]) == 2
        assert msg in capsys.readouterr().err
    for paper in ("boon", "boon-2d"):
        for flag in (["--gp"], ["--ensemble", "4"], ["--fno-ensemble", "4"], ["--study", "sigma"]):
            assert main(["reproduce", paper, *flag]) == 2
            assert "ProbConserv options" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["reproduce", "probconserv", "--study", "walls"])
    assert not [c for c in calls if c[0] == "run"]
