"""Numbers behind three behaviours of the ProbConserv reference code (docs/probconserv.md),
checked against physcon's own closed forms. The reference's formulas are emulated from their
description in NumPy (docs/probconserv.md gives the file and function of each):

1. Heat test labels. ``HeatEquation`` samples ``exp(-k t) sin x`` spectrally at the 512 points
   ``x_j = 2 pi j / 512`` (``j = 0..511``, the right end ``2 pi`` excluded) and reads a query
   ``x in [0, 2 pi]`` with ``grid_sample(align_corners=True)``, which maps ``x = 2 pi`` to the
   *last sample* ``j = 511``: the label is the linear interpolation of the samples at the
   index ``511 x / (2 pi)``, i.e. (up to interpolation error) the solution at ``x * 511/512``.
   Compared with ``physcon.exact.heat_sine`` on the paper's ``201 x 201`` test grid.
2. Burgers at ``t = 1/a``. The reference's pre-break branch divides by ``a t - 1`` and masks
   the result by multiplication; at ``t = 1/a`` every entry is ``x / 0 * 0 = NaN`` and the
   pre-break row is selected (``t <= 1/a``), so the whole row is NaN. On ``linspace(0, 1, 201)``
   this happens for ``a = 1`` (``t = 1``). physcon's ``burgers_ramp`` is compared there.
3. ``get_loc_and_scale`` (the ANP's): the between-sample variance is skipped when the *mean*
   has a leading size of 1 (one function), so a call on one function returns the average of
   the per-sample variances only; shown on synthetic latent samples.

Run: ``python benchmarks/probconserv_reference_quirks.py`` (seconds). Writes
``benchmarks/results/probconserv_reference_quirks.json``.
"""

from __future__ import annotations

import sys

import jax

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402

from physcon.solvers.gpme import exact as cf  # noqa: E402
from _machine import machine_info, write_result  # noqa: E402

PAPER_MSE_K1 = {"ANP": 1.71e-4, "SoftC-ANP": 2.24e-4, "HardC-ANP": 1.37e-4, "ProbConserv-ANP": 1.55e-4}


def heat_labels(x, t, k, n_soln=512):
    xs = 2 * np.pi * np.arange(n_soln) / n_soln
    idx = x / (2 * np.pi) * (n_soln - 1)  # align_corners=True: x = 2 pi -> sample n_soln - 1
    return np.stack([np.interp(idx, np.arange(n_soln), np.exp(-k * ti) * np.sin(xs)) for ti in t])


def reference_burgers(t, x, a):
    with np.errstate(divide="ignore", invalid="ignore"):
        c1 = x <= a * t - 1
        c2 = ~c1 & (x <= 0)
        pre = a * c1 + (a * x) / (a * t - 1) * c2
        post = (x <= 0.5 * (a * t - 1)) * a
        return pre * (t <= 1 / a) + post * (t > 1 / a)


def main():
    out = {}
    x, t = np.linspace(0, 2 * np.pi, 201), np.linspace(0, 1, 201)
    for k in (1.0, 5.0):
        lab = heat_labels(x, t, k)
        truth = np.asarray(cf.heat_sine(x[None], t[:, None], k))
        shifted = np.asarray(cf.heat_sine(x[None] * 511 / 512, t[:, None], k))
        i = int(np.argmin(np.abs(t - 0.5)))
        mse = float(np.mean((lab[i] - truth[i]) ** 2))
        out[f"heat_k{k:g}"] = {
            "max_abs_label_error": float(np.abs(lab - truth).max()),
            "max_abs_label_minus_solution_at_511_512_x": float(np.abs(lab - shifted).max()),
            "label_mse_at_t_0.5": mse,
            "label_mse_over_paper_mse": {m: mse / v for m, v in PAPER_MSE_K1.items()} if k == 1.0 else None,
        }
    xb, tb = np.linspace(-1, 1, 201), np.linspace(0, 1, 201)
    for a in (1.0, 3.0):
        ref = reference_burgers(tb[:, None], xb[None], a)
        ours = np.asarray(cf.burgers_ramp(xb[None], tb[:, None], a))
        nan_rows = np.where(np.isnan(ref).all(1))[0]
        out[f"burgers_a{a:g}"] = {
            "nan_rows_t": [float(tb[j]) for j in nan_rows],
            "nan_entries": int(np.isnan(ref).sum()),
            "physcon_finite": bool(np.isfinite(ours).all()),
            "max_abs_diff_elsewhere": float(np.nanmax(np.abs(ref - ours))),
        }
        if len(nan_rows):
            j = nan_rows[0]
            # at t = 1/a the ramp has steepened into a jump at x = 0: a for x <= 0, 0 beyond
            out[f"burgers_a{a:g}"]["physcon_row_is_jump_at_0"] = bool(np.array_equal(ours[j], np.where(xb <= 0, a, 0.0)))
    rng = np.random.default_rng(0)
    locs = rng.normal(size=(100, 1, 50))          # (samples, one function, points)
    scales = rng.uniform(0.1, 0.2, size=(100, 1, 50))
    total = (scales**2).mean(0) + locs.var(0, ddof=1)  # what the code returns for nf > 1
    dropped = (scales**2).mean(0)                      # what it returns for nf = 1
    out["get_loc_and_scale_one_function"] = {"mean_variance_with_between": float(total.mean()),
                                             "mean_variance_returned": float(dropped.mean()),
                                             "fraction_dropped": float(1 - dropped.mean() / total.mean())}
    for k, v in out.items():
        print(k, v)
    write_result("benchmarks/results/probconserv_reference_quirks.json",
                 dict(benchmark="probconserv_reference_quirks", machine=machine_info(), results=out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
