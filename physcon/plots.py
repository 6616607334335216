"""Figures for reports (matplotlib, non-interactive Agg backend; nothing is shown on screen)."""

from __future__ import annotations

import os

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def solution_figure(ds, exact, path, sample: int = 0, n_profiles: int = 5) -> str:
    """Three panels for one dataset: profiles of ``sample`` against the closed form at a few
    times; total mass over time (scheme vs closed form) for every sample; the pointwise
    error over (x, t) for ``sample``.

    Args:
        ds: a :class:`physcon.data.Dataset`.
        exact: the closed-form field of ``sample``, shape ``(nt, nx)`` on ``(ds.t, ds.x)``.
        path: output image file (``.png``/``.pdf``).
    """
    plt = _pyplot()
    fig, ax = plt.subplots(1, 3, figsize=(15, 4.2), constrained_layout=True)
    u, t, x = ds.u[sample], ds.t, ds.x
    idx = np.unique(np.linspace(0, len(t) - 1, n_profiles).round().astype(int))
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(idx)))
    for c, j in zip(colors, idx):
        ax[0].plot(x, u[j], color=c, lw=1.6, label=f"t = {t[j]:.3g}")
        ax[0].plot(x, exact[j], color=c, lw=1, ls="--")
    ax[0].set(xlabel="x", ylabel="u", title=f"{ds.problem}, {ds.parameter} = {ds.params[ds.parameter][sample]:.3g}"
              "\nsolid: finite volume, dashed: closed form")
    ax[0].legend(fontsize=8)
    dx = float(x[1] - x[0])  # uniform cells
    mass = dx * ds.u.sum(-1)
    for i in range(len(ds)):
        ax[1].plot(t, mass[i], color="C0", lw=1, alpha=0.6, label="scheme" if i == 0 else None)
        ax[1].plot(t, ds.mass[i], color="k", lw=0.8, ls="--", label="closed form b(t)" if i == 0 else None)
    ax[1].set(xlabel="t", ylabel="integral of u dx", title=f"total mass, {len(ds)} samples")
    ax[1].legend(fontsize=8)
    err = np.abs(u - exact)
    im = ax[2].pcolormesh(x, t, err, shading="auto", cmap="magma")
    fig.colorbar(im, ax=ax[2], label="|u - u_exact|")
    ax[2].set(xlabel="x", ylabel="t", title="pointwise error")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def convergence_figure(results: dict, path) -> str:
    """Log-log error against ``dx`` with fitted slopes. ``results`` maps a label to
    ``(dx_list, err_list, slope)``."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4.2), constrained_layout=True)
    for label, (dx, err, slope) in results.items():
        ax.loglog(dx, err, "o-", label=f"{label} (order {slope:.2f})")
    ax.set(xlabel="dx", ylabel="L1 error (mean over output times)", title="convergence to the closed forms")
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
