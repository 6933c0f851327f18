from datetime import timedelta
from types import SimpleNamespace

import pytest
import torch
from lightning.pytorch.callbacks import Timer

from crnn.config.train import OptimConfig
from crnn.training.schedule import adamw_cosine, cosine_factor, time_progress


def test_cosine_factor_warms_up_then_decays_to_two_percent():
    assert cosine_factor(0.05, 0.1) == pytest.approx(0.5)
    assert cosine_factor(0.1, 0.1) == pytest.approx(1.0)
    assert cosine_factor(1.0, 0.1) == pytest.approx(0.02)
    assert cosine_factor(0.55, 0.1) == pytest.approx(0.51)
    after_warmup = [cosine_factor(p / 100, 0.1) for p in range(10, 101)]
    assert all(a >= b for a, b in zip(after_warmup, after_warmup[1:], strict=False))


def _timer(minutes: float, elapsed_s: float) -> Timer:
    timer = Timer(duration=timedelta(minutes=minutes))
    timer.load_state_dict({"time_elapsed": {"train": elapsed_s}})  # as a resumed run restores it
    return timer


def test_time_progress_is_the_share_of_the_time_limit_spent():
    assert time_progress(SimpleNamespace(callbacks=[_timer(20, 600)])) == pytest.approx(0.5)
    assert time_progress(SimpleNamespace(callbacks=[_timer(20, 1500)])) == 1.0
    assert time_progress(SimpleNamespace(callbacks=[Timer(duration=None)])) == 0.0
    assert time_progress(SimpleNamespace(callbacks=[])) == 0.0


@pytest.mark.parametrize(("elapsed_s", "want"), [(0, 1.0), (1140, 0.03)])
def test_schedule_anneals_by_the_time_limit_even_when_steps_remain(elapsed_s, want):
    # 1000 steps planned, 100 done: by steps the rate is near its peak, but with 19 of 20 minutes
    # gone the time limit will stop the run soon, so the rate must already be near its floor.
    trainer = SimpleNamespace(estimated_stepping_batches=1000, callbacks=[_timer(20, elapsed_s)])
    module = SimpleNamespace(trainer=trainer, parameters=lambda: [torch.nn.Parameter(torch.zeros(1))])
    sched = adamw_cosine(module, OptimConfig(lr=1.0, warmup_frac=0.1))["lr_scheduler"]["scheduler"]
    assert sched.lr_lambdas[0](99) == pytest.approx(want, abs=0.01)
