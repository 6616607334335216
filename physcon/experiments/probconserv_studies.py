"""The ProbConserv paper's two studies, with a GP as Step 1 (``physcon reproduce probconserv --study``).

* ``sigma``: the sigma_G sweep on PME: CE and MSE at :data:`~physcon.experiments.probconserv.T_STAR`
  of ProbConserv-GP against the constraint noise ``sigma_G`` in ``[0, 1e-1]`` (``sigma_G = inf``
  is the unconstrained GP), as in the paper's figure (there with the ANP).
* ``hetero``: heteroskedasticity on Stefan: ProbConserv's correction ``|mu~ - mu|`` against the
  predicted variance at ``T_STAR``; the update ``Sigma G^T S^-1 (G mu - b)`` moves the mean most
  where the predicted variance is large (near the front).

Each test function's GP is fitted by marginal likelihood on its 100 context points
(:func:`physcon.models.fit_gp`), as in the GP rows. Outputs: ``sigma.json``/``sigma.png``,
``hetero.json``/``hetero.png``.
"""

from __future__ import annotations

import json
import os

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from physcon import metrics
from physcon.constraints import LinearConstraint, probconserv
from physcon.experiments import probconserv as pcx
from physcon.models import fit_gp

SIGMAS = (0.0, 1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)


@eqx.filter_jit
def _fit_predict(cx, cy, t, x):
    gp = fit_gp(cx, cy, steps=300)
    return gp.predict(cx, cy, t, x)


@eqx.filter_jit
def _conserve(pred, law, sigma):
    noisy = LinearConstraint(law.G, law.b, sigma, check_G=False)
    post = probconserv(pred, noisy)
    return post.mean, post.variance


def _predictions(family, value, setting, key):
    x, t, _, j, truth, law = pcx.test_problem(family, value, setting)
    ctx = pcx.test_contexts(family, value, setting, key)
    preds = [_fit_predict(jnp.asarray(ctx["context_x"][i], jnp.float64), jnp.asarray(ctx["context_y"][i], jnp.float64),
                          t, x) for i in range(ctx["context_x"].shape[0])]
    return x, t, j, truth, law, preds


def sigma_study(setting=pcx.QUICK, *, family="pme", seed=0, sigmas=SIGMAS) -> dict:
    """CE and MSE (mean and standard error over test functions) per test value and ``sigma_G``."""
    cls = pcx.pdata.problem_class(family)
    out = {"family": family, "sigmas": list(sigmas), "tests": {}}
    with jax.enable_x64(True):
        for i, value in enumerate(cls.test_values):
            x, t, j, truth, law, preds = _predictions(family, value, setting, jax.random.PRNGKey(seed + i))
            rows = {"GP": [(p.mean, p.variance) for p in preds]}
            for s in sigmas:
                rows[f"{s:g}"] = [jax.device_get(_conserve(p, law, jnp.float64(s))) for p in preds]
            res = {}
            for name, mv in rows.items():
                m = pcx.gaussian_metrics(jnp.stack([a for a, _ in mv]), jnp.stack([b for _, b in mv]), truth, law, j)
                res[name] = {k: [float(v) for v in metrics.mean_and_se(np.abs(m[k]) if k == "ce" else m[k])]
                             for k in ("ce", "mse")}
            out["tests"][float(value)] = res
    return out


def hetero_study(setting=pcx.QUICK, *, family="stefan", seed=0) -> dict:
    """Per test value: ``|mu~ - mu|`` and the GP's variance at ``T_STAR`` (test function 0), and
    over all test functions the correlation of the two."""
    cls = pcx.pdata.problem_class(family)
    out = {"family": family, "tests": {}}
    with jax.enable_x64(True):
        for i, value in enumerate(cls.test_values):
            x, t, j, truth, law, preds = _predictions(family, value, setting, jax.random.PRNGKey(seed + i))
            corr, first = [], None
            for p in preds:
                m, _ = jax.device_get(_conserve(p, law, jnp.float64(0.0)))
                d, v = np.abs(m[j] - np.asarray(p.mean[j])), np.asarray(p.variance[j])
                corr.append(float(np.corrcoef(d, v)[0, 1]))
                first = first or {"x": np.asarray(x).tolist(), "correction": d.tolist(), "variance": v.tolist(),
                                  "truth": np.asarray(truth[j]).tolist(), "mean": np.asarray(p.mean[j]).tolist()}
            out["tests"][float(value)] = {"corr_mean_se": [float(c) for c in metrics.mean_and_se(np.array(corr))],
                                          "function0": first}
    return out


def write(study: str, result: dict, out: str) -> list[str]:
    """``<study>.json`` and ``<study>.png`` in ``out``; returns the paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(out, exist_ok=True)
    paths = [os.path.join(out, f"{study}.json"), os.path.join(out, f"{study}.png")]
    with open(paths[0], "w") as f:
        json.dump(result, f, indent=1)
    if study == "sigma":
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
        s = np.array(result["sigmas"])
        sx = np.where(s == 0, s[s > 0].min() / 10, s)
        for value, res in result["tests"].items():
            for ax, k in zip(axes, ("ce", "mse")):
                ax.errorbar(sx, [res[f"{v:g}"][k][0] for v in s], [res[f"{v:g}"][k][1] for v in s], marker="o",
                            label=f"{value:g}")
                ax.axhline(res["GP"][k][0], ls=":", c=ax.lines[-1].get_color())
        for ax, k in zip(axes, ("|CE|", "MSE")):
            ax.set(xscale="log", yscale="log", xlabel="sigma_G (leftmost: 0; dotted: GP)", ylabel=k)
        axes[0].legend(title=result["family"])
    else:
        fig, axes = plt.subplots(1, len(result["tests"]), figsize=(4.5 * len(result["tests"]), 3.5), squeeze=False)
        for ax, (value, res) in zip(axes[0], result["tests"].items()):
            f0 = res["function0"]
            ax.plot(f0["x"], f0["correction"], label="|ProbConserv - GP| mean")
            ax.plot(f0["x"], f0["variance"], label="GP variance")
            ax.set(title=f"{result['family']} {value:g}: corr {res['corr_mean_se'][0]:.2f}", xlabel="x")
        axes[0][0].legend()
    fig.tight_layout()
    fig.savefig(paths[1], dpi=110)
    plt.close(fig)
    return paths
