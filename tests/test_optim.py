"""Update rules against hand-computed steps, and the learning-rate schedules."""
import math

import numpy as np
import pytest

from gradviz_core.errors import GradvizError
from gradviz_core.runs.optim import OPTIMIZERS, Adagrad, Adam, Momentum, Nesterov, RMSProp, SGD, make_optimizer
from gradviz_core.runs.schedules import Schedule


def two_steps(opt):
    w = np.array([1.0, -2.0])
    opt.apply("w", w, np.array([0.5, 1.0]))
    opt.apply("w", w, np.array([0.5, 1.0]))
    return w


def test_rules_by_hand():
    g = np.array([0.5, 1.0])
    np.testing.assert_allclose(two_steps(SGD(0.1)), [1.0, -2.0] - 2 * 0.1 * g)
    # momentum: v1 = −ηg, v2 = μv1 − ηg
    v1 = -0.1 * g
    v2 = 0.9 * v1 - 0.1 * g
    np.testing.assert_allclose(two_steps(Momentum(0.1, 0.9)), [1.0, -2.0] + v1 + v2)
    # nesterov: θ += −μ v_prev + (1 + μ) v
    w = np.array([1.0, -2.0]) + (1.9 * v1) + (-0.9 * v1 + 1.9 * v2)
    np.testing.assert_allclose(two_steps(Nesterov(0.1, 0.9)), w)
    # adagrad: c = Σ g²
    w = np.array([1.0, -2.0]) - 0.1 * g / (np.sqrt(g * g) + 1e-8) - 0.1 * g / (np.sqrt(2 * g * g) + 1e-8)
    np.testing.assert_allclose(two_steps(Adagrad(0.1)), w)
    # rmsprop
    c1 = 0.01 * g * g
    c2 = 0.99 * c1 + 0.01 * g * g
    w = np.array([1.0, -2.0]) - 0.1 * g / (np.sqrt(c1) + 1e-8) - 0.1 * g / (np.sqrt(c2) + 1e-8)
    np.testing.assert_allclose(two_steps(RMSProp(0.1)), w)


def test_adam_first_step_is_lr_times_sign():
    # with bias correction, m̂ = g and v̂ = g², so the first step is −η·g/|g|
    w = np.array([1.0, -2.0, 3.0])
    Adam(0.01).apply("w", w, np.array([0.5, -4.0, 1e-3]))
    np.testing.assert_allclose(w, [0.99, -1.99, 2.99], rtol=1e-6)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_minimizes_a_quadratic(name):
    lr = 0.5 if name == "adagrad" else 0.05  # Adagrad's steps shrink as its cache grows
    opt = make_optimizer({"optimizer": name, "lr": lr, "momentum": 0.9})
    w = np.array([3.0, -2.0])
    for _ in range(500):
        opt.apply("w", w, 2 * w * np.array([1.0, 10.0]))  # f = x² + 10y²
    assert np.linalg.norm(w) < 0.05


def test_step_leaves_the_weight_alone_and_reports():
    opt = Momentum(0.1, 0.9)
    w = np.array([1.0])
    new, info = opt.step("w", w, np.array([2.0]))
    assert w[0] == 1.0 and new[0] == pytest.approx(0.8)
    assert info["step"][0] == pytest.approx(-0.2) and info["velocity"][0] == pytest.approx(-0.2)


def test_unknown_optimizer():
    with pytest.raises(GradvizError, match="unknown optimizer 'adamw'"):
        make_optimizer({"optimizer": "adamw"})


def test_schedules():
    s = Schedule("step", 1.0, every=10, factor=0.5)
    assert [s.after_epoch(e, None) for e in (9, 10, 25)] == [1.0, 0.5, 0.25]
    s = Schedule("exponential", 1.0, k=0.1)
    assert s.after_epoch(10, None) == pytest.approx(math.exp(-1))
    s = Schedule("plateau", 1.0, patience=2)
    lrs = [s.after_epoch(e, v) for e, v in enumerate([1.0, 0.9, 0.95, 0.95, 0.95, 0.8], 1)]
    assert lrs == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5]
    assert Schedule("constant", 0.3).after_epoch(100, 5.0) == 0.3


def test_every_optimizer_and_schedule_the_settings_name_has_its_rule():
    from gradviz_core.model.settings import OPTIMIZER_NAMES, SCHEDULE_NAMES
    from gradviz_core.runs.optim import OPTIMIZERS
    from gradviz_core.runs.schedules import SCHEDULES, Schedule
    assert tuple(OPTIMIZERS) == OPTIMIZER_NAMES and SCHEDULES == SCHEDULE_NAMES
    for name in SCHEDULE_NAMES:
        assert Schedule(name, 0.1, 10, 0.5, 0.05, 3).after_epoch(1, 1.0) > 0
