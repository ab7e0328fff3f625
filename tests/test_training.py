"""The generic trainer: early stopping, restoring the best weights, bad input, logging."""
from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from torch import nn

from anobench.errors import AnobenchError
from anobench.torchstack.runtime import NonFiniteDataError, as_tensor, seeds_from, torch_threads
from anobench.torchstack.stopping import DivergenceError
from anobench.torchstack.training import TrainConfig, fit_model


class Scalar(nn.Module):
    def __init__(self, value: float = 1.0) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor(value))


def pull_to(train_target: float, val_target: float):
    """Training pulls w to train_target; the validation loss is smallest at val_target."""

    def loss(model, x, train, generator):
        target = train_target if train else val_target
        return (model.w - target) ** 2 * torch.ones(len(x))

    return loss


DATA = torch.zeros(8, 1)


def test_early_stopping_restores_the_best_weights():
    model = Scalar(1.0)
    cfg = TrainConfig(lr=0.05, batch_size=8, max_epochs=500, patience=3)
    res = fit_model(model, pull_to(0.0, 0.5), DATA, DATA, cfg)
    assert res.stopped_early
    assert res.epochs == res.best_epoch + 3 < 500
    # the restored weights have the best validation loss, the last ones do not
    assert (model.w.item() - 0.5) ** 2 == pytest.approx(res.best_val_loss)
    assert res.last_val_loss > res.best_val_loss
    assert res.monitor == "val_loss"
    info = res.info()
    assert {"epochs", "best_epoch", "best_val_loss", "last_val_loss", "stopped_early"} <= set(info)
    assert "history" not in info


def test_without_restore_the_last_weights_stay():
    model = Scalar(1.0)
    cfg = TrainConfig(lr=0.05, batch_size=8, max_epochs=500, patience=3, restore_best=False)
    res = fit_model(model, pull_to(0.0, 0.5), DATA, DATA, cfg)
    assert (model.w.item() - 0.5) ** 2 == pytest.approx(res.last_val_loss)


def test_max_epochs_caps_training_and_no_validation_monitors_train_loss():
    model = Scalar(1.0)
    res = fit_model(model, pull_to(0.0, 0.0), DATA, None,
                    TrainConfig(lr=0.01, batch_size=3, max_epochs=4, patience=2))
    assert res.epochs == 4 and not res.stopped_early
    assert res.monitor == "train_loss"
    assert len(res.history) == 4


def test_same_seed_same_training():
    def noisy(model, x, train, generator):
        return (model.w - torch.randn(len(x), generator=generator, device=x.device)) ** 2

    data = torch.zeros(20, 1)
    runs = []
    for seed in (5, 5, 6):
        model = Scalar(1.0)
        fit_model(model, noisy, data, data, TrainConfig(lr=0.1, batch_size=4, max_epochs=3,
                                                        seed=seed))
        runs.append(model.w.item())
    assert runs[0] == runs[1] != runs[2]


def test_diverging_loss_raises_a_clear_error():
    def exploding(model, x, train, generator):
        return (model.w * float("inf")) * torch.ones(len(x))

    with pytest.raises(DivergenceError, match="diverged at epoch 1") as err:
        fit_model(Scalar(1.0), exploding, DATA, DATA, TrainConfig(max_epochs=5, name="toy"))
    assert isinstance(err.value, AnobenchError)
    assert "toy" in str(err.value)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_data_is_refused(bad):
    X = np.zeros((4, 1, 2, 2), dtype=np.float32)
    X[2, 0, 1, 1] = bad
    with pytest.raises(NonFiniteDataError, match="training data contains 1 NaN/inf value"):
        as_tensor(X, "cpu", "training data")


def test_progress_is_throttled(caplog):
    caplog.set_level(logging.DEBUG, logger="anobench.training")
    fit_model(Scalar(1.0), pull_to(0.0, 0.0), DATA, DATA,
              TrainConfig(lr=0.01, max_epochs=5, log_every=0.0, name="chatty"))
    assert sum("chatty: epoch" in r.message for r in caplog.records) == 5
    assert any("reached max_epochs after 5 epochs" in r.message and r.levelno == logging.INFO
               for r in caplog.records)
    caplog.clear()
    fit_model(Scalar(1.0), pull_to(0.0, 0.0), DATA, DATA,
              TrainConfig(lr=0.01, max_epochs=5, log_every=3600.0, name="quiet"))
    assert not [r for r in caplog.records if r.levelno >= logging.INFO]


def test_config_is_checked():
    with pytest.raises(ValueError, match="patience must be >= 1"):
        TrainConfig(patience=0)
    with pytest.raises(ValueError, match="lr must be > 0"):
        TrainConfig(lr=0.0)


def test_derived_seeds_are_distinct_and_reproducible():
    assert seeds_from(3, 3) == seeds_from(3, 3)
    assert len(set(seeds_from(3, 3))) == 3
    assert seeds_from(3, 2) != seeds_from(4, 2)


def test_torch_threads_is_scoped():
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with torch_threads(0):  # 0 leaves the setting alone
        assert torch.get_num_threads() == before
