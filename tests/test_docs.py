"""The user docs stay true: links resolve, and the tutorial runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves_to_a_file_in_the_repository(page: Path) -> None:
    broken = []
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue  # a URL or an anchor on the same page
        path = target.split("#", 1)[0]
        if not (page.parent / path).exists():
            broken.append(target)
    assert not broken, f"{page.relative_to(ROOT)} links to missing files: {broken}"


def test_no_page_points_users_at_the_internal_brief() -> None:
    for page in PAGES:
        assert "../shared" not in page.read_text(encoding="utf-8"), page


@pytest.mark.slow
def test_the_tutorial_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every ```python block of docs/tutorial.md, in order, from an empty folder."""
    text = (ROOT / "docs" / "tutorial.md").read_text(encoding="utf-8")
    code = "\n".join(re.findall(r"```python\n(.*?)```", text, re.S))
    assert "Trainer(" in code and "render(" in code
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "docs/tutorial.md", "exec"), {"__name__": "tutorial"})
    run = tmp_path / "runs" / "tutorial"
    for name in ("latents.mp4", "latest.png", "metrics.jsonl", "run.json"):
        assert (run / name).stat().st_size > 0, name
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 401
