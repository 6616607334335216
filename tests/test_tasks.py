"""Context/target sampling for neural processes: the paper's design on the solver grid."""

import jax
import numpy as np
import pytest

from physcon.tasks import evaluation_grid, sample_tasks


@pytest.fixture(scope="module")
def field():
    t = np.linspace(0.0, 1.0, 31)
    x = (np.arange(40) + 0.5) / 40
    u = np.stack([np.sin(3 * x)[None, :] * np.exp(-k * t)[:, None] for k in (1.0, 2.0, 3.0)])
    return u, x, t


def test_design_and_values(field):
    u, x, t = field
    tasks = sample_tasks(u, x, t, jax.random.PRNGKey(0), params=[1.0, 2.0, 3.0], repeats=4)
    assert tasks["context_x"].shape == (12, 100, 2) and tasks["target_y"].shape == (12, 100)
    np.testing.assert_array_equal(tasks["param"], np.repeat([1.0, 2.0, 3.0], 4))
    for i in range(12):
        k = tasks["param"][i]
        for xs, ys in (("context_x", "context_y"), ("target_x", "target_y")):
            p = tasks[xs][i]
            # values are the field's own values at the sampled (t, x)
            np.testing.assert_allclose(tasks[ys][i], np.sin(3 * p[:, 1]) * np.exp(-k * p[:, 0]), rtol=1e-6)
            grid = p.reshape(10, 10, 2)
            assert np.all(np.diff(grid[:, 0, 0]) >= 0)  # sorted times, time-major
            assert np.all(np.diff(grid[0, :, 1]) >= 0)  # sorted positions, shared by all times
            assert np.all(grid[:, :, 1] == grid[:1, :, 1])
        ct = tasks["context_x"][i].reshape(10, 10, 2)[:, 0, 0]
        # stratified: one context time in each tenth of the window
        idx = np.rint(ct * 30).astype(int)  # output-time index
        edges = np.floor(np.linspace(0, 31, 11)).astype(int)
        assert np.all((edges[:-1] <= idx) & (idx < edges[1:]))
        assert len(np.unique(tasks["context_x"][i][:, 1])) == 10  # distinct context positions
    # repeats differ; the same key gives the same tasks
    assert not np.array_equal(tasks["context_x"][0], tasks["context_x"][1])
    again = sample_tasks(u, x, t, jax.random.PRNGKey(0), params=[1.0, 2.0, 3.0], repeats=4)
    np.testing.assert_array_equal(again["context_y"], tasks["context_y"])


def test_contexts_only_and_errors(field):
    u, x, t = field
    ctx = sample_tasks(u, x, t, jax.random.PRNGKey(1), n_context=(5, 8), n_target=None)
    assert ctx["context_x"].shape == (3, 40, 2) and "target_x" not in ctx
    assert np.all(np.isnan(ctx["param"]))
    with pytest.raises(ValueError, match="u must have shape"):
        sample_tasks(u[:, :, :-1], x, t, jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="n_context"):
        sample_tasks(u, x, t, jax.random.PRNGKey(0), n_context=(50, 10))
    with pytest.raises(ValueError, match="params"):
        sample_tasks(u, x, t, jax.random.PRNGKey(0), params=[1.0])
    bad = u.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        sample_tasks(bad, x, t, jax.random.PRNGKey(0))


def test_evaluation_grid():
    x, t, pts = evaluation_grid((0.0, 1.0), (0.0, 0.1))
    assert pts.shape == (201 * 201, 2)
    np.testing.assert_allclose(pts.reshape(201, 201, 2)[100, :, 0], 0.05, rtol=1e-6)
    np.testing.assert_allclose(pts.reshape(201, 201, 2)[0, :, 1], x)
    with pytest.raises(ValueError):
        evaluation_grid((0.0, 1.0), (0.0, 1.0), nx=1)
