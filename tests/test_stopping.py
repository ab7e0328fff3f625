"""The early-stopping state both trainers keep: Keras' rule, one divergence message, restore."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from anobench.torchstack.cohort import fit_cohort
from anobench.torchstack.stopping import DivergenceError, EarlyStopping
from anobench.torchstack.training import Objective, TrainConfig, fit_model


def test_keras_rule_strict_improvement_resets_the_wait():
    stop = EarlyStopping(patience=2)
    assert stop.update(1.0, 0.5) and (stop.best, stop.best_epoch, stop.wait) == (0.5, 1, 0)
    assert not stop.update(1.0, 0.5)  # equal is no improvement
    assert not stop.stopped and stop.wait == 1
    assert stop.update(1.0, 0.4) and stop.wait == 0 and stop.best_epoch == 3
    assert not stop.update(1.0, 0.6) and not stop.update(1.0, 0.7)
    assert stop.stopped and stop.epochs == 5
    res = stop.result(seconds=1.5)
    assert (res.epochs, res.best_epoch, res.best_val_loss, res.stopped_early) == (5, 3, 0.4, True)
    assert (res.last_train_loss, res.last_val_loss, res.monitor) == (1.0, 0.7, "val_loss")
    assert res.history == [(1.0, 0.5), (1.0, 0.5), (1.0, 0.4), (1.0, 0.6), (1.0, 0.7)]


@pytest.mark.parametrize("train, val", [(math.nan, 1.0), (1.0, math.inf)])
def test_a_non_finite_loss_is_a_divergence_naming_model_epoch_and_lr(train, val):
    stop = EarlyStopping(patience=3, monitor="train_loss", name="net", lr=0.01)
    stop.update(2.0, 2.0)
    with pytest.raises(DivergenceError) as info:
        stop.update(train, val)
    assert str(info.value) == (f"net: training diverged at epoch 2 (train loss {train}, "
                               f"train_loss {val}; lr 0.01)")


@pytest.mark.parametrize("restore_best", [True, False])
def test_best_weights_are_snapshot_on_improvement_and_restored(restore_best):
    model = nn.Linear(1, 1)
    stop = EarlyStopping(patience=5, restore_best=restore_best)
    calls = []

    def snapshot():
        calls.append(1)
        return {k: v.clone() for k, v in model.state_dict().items()}

    stop.update(1.0, 1.0, snapshot)
    best = model.weight.detach().clone()
    with torch.no_grad():
        model.weight.add_(1.0)
    stop.update(1.0, 2.0, snapshot)  # worse: no snapshot
    assert len(calls) == (1 if restore_best else 0)
    stop.restore(model)
    assert torch.equal(model.weight, best) is restore_best


class Scalar(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor([1.0]))


def blow_up(model, x, noise, train, scale):
    return scale * model.w ** 2 * torch.ones(len(x))


def test_single_and_cohort_diverge_with_the_same_message():
    data = torch.zeros(4, 1)
    cfg = TrainConfig(lr=0.1, batch_size=4, max_epochs=3, patience=2, name="toy")
    with pytest.raises(DivergenceError) as single:
        fit_model(Scalar(), Objective(blow_up, hparams={"scale": math.inf}), data, data, cfg)
    results = fit_cohort([Scalar(), Scalar()], Objective(blow_up),
                         [{"scale": 1.0}, {"scale": math.inf}], data, data, [cfg, cfg])
    assert not isinstance(results[0], Exception)
    assert isinstance(results[1], DivergenceError) and str(results[1]) == str(single.value)
