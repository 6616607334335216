import numpy as np
import pytest

from physcon import metrics


def test_convergence_order_recovers_power_law():
    dx = np.array([0.1, 0.05, 0.025, 0.0125])
    assert metrics.convergence_order(dx, 3.0 * dx**1.5) == pytest.approx(1.5, abs=1e-12)
    with pytest.raises(ValueError, match="positive"):
        metrics.convergence_order(dx, -dx)


def test_errors_and_shape_checks():
    w = np.full(4, 0.25)
    a, b = np.ones((2, 4)), np.zeros((2, 4))
    np.testing.assert_allclose(metrics.l1_error(a, b, w), [1.0, 1.0])
    assert float(metrics.mse(a, b)) == 1.0
    np.testing.assert_allclose(metrics.relative_l2(2 * a, a), [1.0, 1.0])
    with pytest.raises(ValueError, match="same shape"):
        metrics.mse(a, b[:, :3])
    with pytest.raises(ValueError, match="w must have shape"):
        metrics.l1_error(a, b, w[:3])
