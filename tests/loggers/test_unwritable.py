"""A logger given a folder it cannot write says so, naming the folder, before training starts."""

from __future__ import annotations

import pytest

from mini.atomic import OutputError
from tests.loggers.runs import make_trainer


def blocked(tmp_path):
    """A path under a file: no folder can ever be created there."""
    (tmp_path / "file").write_text("not a folder")
    return tmp_path / "file" / "logs"


def test_tensorboard_logger_names_the_unwritable_folder(tmp_path):
    pytest.importorskip("tensorboard")
    from mini.loggers import TensorBoardLogger

    folder = blocked(tmp_path)
    with pytest.raises(OutputError, match=r"TensorBoardLogger: .*file/logs.*pass a folder"):
        make_trainer(loggers=[TensorBoardLogger(folder)])
    logger = TensorBoardLogger(folder)
    with pytest.raises(OutputError, match="file/logs"):  # also when opened without attach
        logger.writer  # noqa: B018


def test_mlflow_logger_names_the_unwritable_folder(tmp_path):
    pytest.importorskip("mlflow")
    from mini.loggers import MLflowLogger

    folder = blocked(tmp_path)
    with pytest.raises(OutputError, match=r"MLflowLogger: .*file/logs.*pass a folder"):
        make_trainer(loggers=[MLflowLogger(folder)])
