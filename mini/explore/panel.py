"""The panel protocol: how a model's package shows its model in the explorer.

A panel has a ``title`` and two methods, split by thread:

- ``capture(trainer)`` runs **on the training thread, between two steps**, a few times a
  second while a page is open. It reads what it needs from the model (the explorer has put it
  in eval mode under ``torch.no_grad()`` and saved the RNG state, so a capture cannot change
  the run) and returns plain data: numpy arrays, floats, strings — never tensors the next step
  will modify.
- ``render(data)`` runs on the web server's thread and turns that data into HTML (inline SVG;
  :mod:`mini.explore.svg` draws scatter and line charts). It must not touch the trainer.

Nothing here imports Gradio: panels are plain objects, testable without a browser.

>>> class StepPanel:
...     title = "step"
...     def capture(self, trainer):
...         return trainer.current_step
...     def render(self, data):
...         return f"<p>step {data}</p>"
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from mini.training import Trainer


@runtime_checkable
class Panel(Protocol):
    """A view of the model, captured on the training thread and rendered as HTML."""

    title: str

    def capture(self, trainer: Trainer) -> Any:
        """Plain data for :meth:`render`, read from the trainer between two steps."""
        ...

    def render(self, data: Any) -> str:
        """HTML for the data of one :meth:`capture`."""
        ...
