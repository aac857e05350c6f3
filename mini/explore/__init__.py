"""The live explorer: steer a running curriculum from the browser, record it as a dopesheet.

:class:`Controller` runs any :class:`~mini.training.Trainer` in a background thread and applies
the page's commands between steps; :func:`launch` (Gradio, imported only there) serves the page.
Model views come from the model's package through the :class:`Panel` protocol.
"""

from mini.explore.controller import Controller, PanelFailure, SavedDopesheet, Snapshot
from mini.explore.panel import Panel
from mini.explore.properties import PropertyInfo, property_infos


def launch(*args, **kwargs):
    """Serve the explorer page; see :func:`mini.explore.app.launch` (imports Gradio).

    Args:
        args: passed on (the :class:`Controller` first).
        kwargs: passed on (``title``, ``host``, ``port``, ...).
    """
    from mini.explore.app import launch as _launch

    return _launch(*args, **kwargs)


__all__ = [
    "Controller",
    "Panel",
    "PanelFailure",
    "PropertyInfo",
    "SavedDopesheet",
    "Snapshot",
    "launch",
    "property_infos",
]
