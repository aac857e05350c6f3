"""Ctrl-C during training: the first press finishes the step and checkpoints, the second aborts."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable


def install_sigint(on_press: Callable[[], bool]) -> Callable[[], None]:
    """Route SIGINT to ``on_press`` (which returns ``False`` to abort with the usual
    ``KeyboardInterrupt``); returns the function that restores the previous handler. Outside
    the main thread (signals only reach it) nothing is installed."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):
        if not on_press():
            signal.signal(signal.SIGINT, previous)
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    return lambda: signal.signal(signal.SIGINT, previous)
