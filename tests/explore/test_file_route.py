"""The explorer page serves nothing of the run's folder (issue: anyone reaching the page could
download every file under ``--out``, checkpoints included, through the app's file route)."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

pytest.importorskip("gradio")

from mini.explore import Controller
from mini.explore.app import launch
from tests.explore.test_controller import factory


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


@pytest.mark.slow
def test_no_file_of_the_run_folder_can_be_downloaded(tmp_path):
    make, _, box = factory(tmp_path / "out", steps=400)
    c = box["c"] = Controller(make, save_dir=tmp_path / "out")
    c.start()
    c.close()
    c.save_dopesheet().result(timeout=30)
    secret = tmp_path / "out" / "secret.txt"
    secret.write_text("not for the page")
    files = [secret, *(tmp_path / "out").rglob("*.pt"), *(tmp_path / "out").glob("*.csv")]
    assert len(files) >= 3
    page = launch(c)
    try:
        assert _status(page.url) == 200
        for f in files:
            for route in ("gradio_api/file=", "file="):
                assert _status(f"{page.url}{route}{f}") != 200, f"{route}{f} was served"
    finally:
        page.close()
