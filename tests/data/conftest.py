"""One tiny dataset of every kind, generated once per session and saved (shared by the file,
verify and the_well tests)."""

from __future__ import annotations

import pytest

from physcon import data

# tiny sizes: every kind's generator and walls, in seconds
TINY = {
    "stefan": dict(n=3, nx=12, nt=4, batch_size=2),
    "pme": dict(n=2, nx=12, nt=3),
    "diffusion": dict(n=2, nx=8, nt=3),
    "advection": dict(n=2, nx=8, nt=3),
    "burgers": dict(n=2, nx=8, nt=3),
    "heat_neumann": dict(n=2, multi_step=True, nx=16),
    "stokes": dict(n=2, multi_step=True, nx=12),
    "burgers_dirichlet": dict(n=2, nx=16),
    "burgers_periodic": dict(n=2, nx=8, refine=2),
    "navier_stokes": dict(n=2, shape=(8, 8), n_steps=4, save_every=2, dt=1e-3),
    "cavity": dict(n=2, nodes=9, n_frames=2, t_final=0.05, batch_size=2),
    "wave": dict(n=2, nx=5, nt=2),
    "darcy": dict(n=3, nodes=5, n_solve=9, batch_size=2),
}


@pytest.fixture(scope="session")
def tiny_files(tmp_path_factory):
    """``{kind: (Dataset, path)}``: every kind generated (seed 1, float32) and saved in its own folder."""
    root = tmp_path_factory.mktemp("kinds")
    out = {}
    for kind, kw in TINY.items():
        kw = dict(kw)
        ds = data.generate(kind, kw.pop("n"), seed=1, **kw)
        folder = root / kind
        out[kind] = (ds, data.save(folder / f"{kind}.h5", ds))
    return out
