"""TensorBoardLogger: event files written with SummaryWriter and read back with TensorBoard's
EventAccumulator; a resumed run purges what was logged after its checkpoint."""

from __future__ import annotations

import pytest

from mini.temporal import realize
from tests.loggers.runs import SHEET, Crash, logged_steps, make_trainer

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import (
    EventAccumulator,
)

from mini.loggers import TensorBoardLogger


def read(log_dir) -> EventAccumulator:
    acc = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    acc.Reload()
    return acc


def test_scalars_image_and_phase_text_are_read_back(tmp_path):
    make_trainer(loggers=[TensorBoardLogger(tmp_path, every=5)]).fit()
    acc = read(tmp_path)
    tags = acc.Tags()
    assert {"props/lr", "props/fit", "props/smooth", "losses/total", "losses/fit"} <= set(
        tags["scalars"]
    )
    lr = acc.Scalars("props/lr")
    assert [e.step for e in lr] == logged_steps(5)
    expected = realize(SHEET)["lr"]
    assert [e.value for e in lr] == pytest.approx([expected[e.step] for e in lr], rel=1e-6)
    assert [e.step for e in acc.Scalars("extras/val-total")] == [19, 59]
    (image,) = acc.Images("schedule")
    assert image.encoded_image_string[:4] == b"\x89PNG" and image.width > 500
    texts = [
        (e.step, e.tensor_proto.string_val[0].decode()) for e in acc.Tensors("phase/text_summary")
    ]
    assert texts == [(0, "step 0: warm"), (20, "step 20: main")]


def test_resume_purges_what_was_logged_after_the_checkpoint(tmp_path):
    with pytest.raises(Crash):
        make_trainer(
            tmp_path,
            [TensorBoardLogger(tmp_path / "tb", every=5)],
            crash_at=36,
            checkpoint_every=20,
        ).fit()
    assert max(e.step for e in read(tmp_path / "tb").Scalars("props/lr")) == 35
    trainer = make_trainer(tmp_path, [TensorBoardLogger(tmp_path / "tb", every=5)])
    trainer.fit(resume=tmp_path / "checkpoints")  # after step 19
    lr = read(tmp_path / "tb").Scalars("props/lr")
    assert [e.step for e in lr] == logged_steps(5)  # 20..35 once, not twice
