"""A progress bar for a search: trials finished of the total, and the best value so far."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from mini.search.objectives import Objective
from mini.search.outputs import TrialRow, ranked


class SearchProgress:
    """``with SearchProgress(n, objective) as bar: bar.update(rows)`` (rows of the study)."""

    def __init__(self, total: int, objective: Objective, enabled: bool = True):
        self.objective = objective
        self._progress = Progress(
            TextColumn("search"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
            TimeElapsedColumn(), console=Console(stderr=True), disable=not enabled,
            transient=False, redirect_stdout=False, redirect_stderr=False,  # workers write there
        )  # fmt: skip
        self._task = self._progress.add_task("", total=total)

    def __enter__(self) -> SearchProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._progress.__exit__(None, None, None)

    def update(self, rows: list[TrialRow]) -> None:
        done = sum(r.state in ("complete", "pruned", "failed") for r in rows)
        best = ranked(rows, [self.objective])
        text = (
            f"best {self.objective.key} {best[0].objectives[0]:.5g} (trial {best[0].number})"  # type: ignore[index]
            if best
            else "no complete trial yet"
        )
        pruned = sum(r.state == "pruned" for r in rows)
        failed = sum(r.state == "failed" for r in rows)
        text += f" · {pruned} pruned · {failed} failed"
        self._progress.update(self._task, completed=done, description=text)
