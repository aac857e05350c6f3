"""The explorer page (Gradio, imported here only): controls, property sliders, panels.

Every control calls the :class:`~mini.explore.Controller` (``queue=False``: never behind
anything). The live parts (status, panels, losses, schedule, readouts) are HTML the page's
script fetches from ``GET /mx/live`` every 0.45 s and sets in place (inline SVG, drawn by the
browser); sliders and toggles follow the run through a Gradio event per property that the
script triggers, at most once a second, for the properties whose controls should show something
else. Every open tab shows the same run; closing them does not stop training. The page
binds 127.0.0.1 by default, makes no share link, sends no analytics and loads nothing from the
internet (the default theme's fonts are bundled; only basic components are used).
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mini.explore import views
from mini.explore.controller import Controller
from mini.explore.style import CSS

log = logging.getLogger(__name__)

REFRESH_S = 0.45  # the live parts: a little faster than 2 Hz, so a slow tick never drops below
CONTROLS_S = 1.0  # sliders and toggles: at most once a second, when they changed
TOUCH_S = 2.0  # a slider the user moved is not overwritten by the refresh for this long


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class Explorer:
    """A served page: ``url`` to open, ``close()`` to stop serving (training is the
    controller's: ``controller.close()``)."""

    url: str
    demo: Any
    controller: Controller

    def close(self) -> None:
        self.demo.close()


def _downloads_folder() -> Path:
    """A temp folder of this page's own for the files it hands out; removed at exit."""
    folder = Path(tempfile.mkdtemp(prefix="dopesheet-explorer-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def _gradio():
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before the import reads it
    os.environ.setdefault(
        "GRADIO_ANALYTICS_MAX_EVENTS", "100"
    )  # its per-event summary: keep it small
    try:
        import gradio as gr
    except ImportError as e:
        raise ImportError(
            "the explorer needs Gradio: pip install 'dopesheet[explore]' (or pip install gradio)"
        ) from e
    return gr


def build(
    controller: Controller, title: str = "dopesheet explorer"
) -> tuple[Any, Callable[[], dict[str, str]]]:
    """The Gradio Blocks of the explorer page for ``controller``, and the function whose value
    changes when the page's sliders and toggles should be refreshed."""
    gr = _gradio()
    c = controller
    infos = c.properties
    touched: dict[str, float] = {}

    with gr.Blocks(title=title, analytics_enabled=False) as demo:
        gr.HTML(_live("status"), elem_id="mx-status-box")
        with gr.Row(elem_classes="mx-controls"):
            start = gr.Button("Start", variant="primary", elem_id="mx-start", scale=0, min_width=90)
            pause = gr.Button("Pause", elem_id="mx-pause", scale=0, min_width=90)
            reset = gr.Button("Reset", elem_id="mx-reset", scale=0, min_width=90)
            action_buttons = [
                (name, gr.Button(c.action_labels.get(name, f"Fire {name}"), elem_id=f"mx-fire-{name}", scale=0, min_width=190, elem_classes="mx-action"))
                for name in c.actions
            ]  # fmt: skip
            save = gr.Button(
                "Save as dopesheet", elem_id="mx-save", scale=0, min_width=190, variant="secondary"
            )
        gr.HTML(_live("error"), elem_id="mx-error-box")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=520):
                gr.HTML(_live("main"), elem_id="mx-main")  # panels, losses, activity, schedule
                saved_file = gr.File(label="saved dopesheet", visible=False, elem_id="mx-saved-file")  # fmt: skip
            with gr.Column(scale=1, min_width=290, elem_classes="mx-side"):
                gr.HTML('<h3 class="mx-side-title">Properties</h3>')
                transition = gr.Number(c.transition, label="smooth moves over (steps)", precision=0, minimum=0, elem_id="mx-transition")  # fmt: skip
                sliders, follows = {}, {}
                for name, info in infos.items():
                    with gr.Group(elem_classes="mx-prop"):
                        gr.HTML(_live(f"read:{name}"), elem_id=f"mx-read-{name}")
                        lo, hi = info.slider_range
                        sliders[name] = gr.Slider(
                            lo, hi, value=round(info.to_slider(c.snapshot().props[name]), info.decimals),
                            step=info.slider_step, precision=info.decimals,
                            label=f"{name} (log₁₀)" if info.log else name, show_label=False,
                            elem_id=f"mx-slider-{name}", buttons=[],
                        )  # fmt: skip
                        follows[name] = gr.Checkbox(
                            True, label="follow schedule", elem_id=f"mx-follow-{name}"
                        )

        names = list(infos)
        # per property: what its slider and toggle were last sent (per tab, so each tab syncs)
        sent_states = {n: gr.State(None) for n in names}

        def wanted(snap: Any, n: str) -> tuple[object, object]:
            """What property ``n``'s slider and toggle should show; ``None`` while the user
            moves it."""
            if n not in snap.props or time.monotonic() - touched.get(n, -1e9) < TOUCH_S:
                return None, None
            value = snap.targets.get(n, snap.props[n])
            slider = round(infos[n].to_slider(value), infos[n].decimals)
            return slider, n not in snap.overridden or n in snap.returning

        def controls_version() -> dict[str, str]:
            """Per property, a value that changes when its slider or toggle should show
            something else: the page's script then asks for that property's controls
            (``#mx-sync-<name>``), at most once a second."""
            snap = c.snapshot()
            return {n: repr(wanted(snap, n)) for n in names}

        def refresh_controls(n: str, sent: tuple | None):
            """Property ``n``'s slider and toggle where they changed. One small event per
            property that moved: Gradio rebuilds every output component's config on each
            event, even a skipped one, which for all the page's controls at once held the GIL
            for tens of milliseconds a second."""
            want = wanted(c.snapshot(), n)
            sent = sent or (None, None)
            out = [
                gr.skip() if w is None or w == s_ else gr.update(value=w)
                for w, s_ in zip(want, sent, strict=True)
            ]
            return [*out, want]  # a control the user is moving (None) is sent afresh later

        quick = {"queue": False, "show_progress": "hidden"}
        start.click(lambda: _quiet(c.start()), None, None, **quick)
        pause.click(lambda: _quiet(c.pause()), None, None, **quick)

        def do_reset():
            touched.clear()
            c.reset()

        reset.click(do_reset, None, None, **quick)
        for name, button in action_buttons:
            button.click(lambda name=name: _quiet(c.fire(name)), None, None, **quick)

        def on_touch(name: str):  # while dragging: the refresh must not move the slider
            touched[name] = time.monotonic()

        def on_slide(position: float, name: str):  # let go: move the property there
            touched[name] = time.monotonic()
            try:
                c.set_property(name, infos[name].from_slider(float(position)))
            except (KeyError, ValueError, TypeError) as e:
                c.notes.append(f"{name}: {e}")
                return gr.skip()
            return gr.update(value=False)  # no longer following the schedule

        def on_follow(follow: bool, name: str):
            touched[name] = time.monotonic()
            if follow:
                c.follow_schedule(name)
            else:  # "manual": hold the value it has now
                c.set_property(name, c.snapshot().props[name])

        for name in names:
            sliders[name].input(lambda name=name: on_touch(name), None, None, **quick)
            sliders[name].release(lambda v, name=name: on_slide(v, name), sliders[name], follows[name], **quick)  # fmt: skip
            follows[name].input(
                lambda v, name=name: on_follow(v, name), follows[name], None, **quick
            )

        def on_transition(v):
            if v is not None and v >= 0:
                c.transition = int(v)

        transition.input(on_transition, transition, None, **quick)

        downloads = _downloads_folder()

        def do_save():
            try:
                saved = c.save_dopesheet().result(timeout=60)
                # the page hands out a copy from the explorer's own folder, never a path into
                # the run's folder (the file route serves nothing of --out)
                copy = downloads / saved.path.name
                shutil.copyfile(saved.path, copy)
            except Exception as e:
                c.notes.append(f"could not save the dopesheet: {e}")
                return gr.update(visible=False)
            return gr.update(value=str(copy), visible=True)

        save.click(do_save, None, saved_file, queue=False, show_progress="minimal")
        # queue=False: Gradio's queue summarises every event it ever ran with pandas after each
        # one (its monitoring), which grows with the session; these need none of that.
        for name in names:
            sync = gr.Button("sync", elem_id=f"mx-sync-{name}", elem_classes="mx-hidden")
            outputs = [sliders[name], follows[name], sent_states[name]]
            sync.click(lambda sent, name=name: refresh_controls(name, sent), sent_states[name], outputs, **quick)  # fmt: skip
            demo.load(lambda sent, name=name: refresh_controls(name, sent), sent_states[name], outputs, **quick)  # fmt: skip
    return demo, controls_version


def _live(part: str) -> str:
    """A placeholder the page's script fills from ``/mx/live``."""
    return f'<div data-live="{part}"></div>'


def live_payload(
    controller: Controller, title: str, seen: str = "", controls: dict[str, str] | None = None
) -> dict[str, Any]:
    """What ``/mx/live`` answers: the HTML of every live part of the page (the main column
    only when it changed since the version ``seen`` the page sends back) and ``controls``, per
    property the version of its slider and toggle."""
    c = controller
    snap = c.snapshot()
    version = f"{snap.run}.{snap.version}.{len(snap.notes)}"
    parts = {"status": views.status_bar(snap, title), "error": views.error_box(snap)}
    for name, info in c.properties.items():
        parts[f"read:{name}"] = views.readout(name, snap, info.log)
    if seen != version:
        parts["main"] = views.main_column(c.panels, c.history, snap, c.properties)
    return {"v": version, "parts": parts, "cv": controls or {}}


def _serve_live(
    app: Any, controller: Controller, title: str, controls_version: Callable[[], dict[str, str]]
) -> None:
    """Add ``GET /mx/live`` to the running Gradio app: a plain JSON route, so the 2 Hz refresh
    skips Gradio's event machinery (per event it re-instantiates every output component, and
    its front end re-renders them): ~4x less CPU on both sides."""
    from fastapi.routing import APIRoute

    def live(v: str = "") -> dict[str, Any]:
        return live_payload(controller, title, v, controls_version())

    app.router.routes.insert(0, APIRoute("/mx/live", live, methods=["GET"]))


LIVE_JS = f"""() => {{
  let version = "", busy = false, synced = 0;
  const controls = {{}};
  const shown = new Map();
  async function tick() {{
    if (busy) return;
    busy = true;
    try {{
      const url = new URL("mx/live", window.location.href);
      url.searchParams.set("v", version);
      const r = await fetch(url, {{cache: "no-store"}});
      if (!r.ok) return;
      const d = await r.json();
      version = d.v;
      document.querySelectorAll("[data-live]").forEach((el) => {{
        const html = d.parts[el.dataset.live];
        if (html !== undefined && shown.get(el) !== html) {{ el.innerHTML = html; shown.set(el, html); }}
      }});
      const now = Date.now();
      if (now - synced > {int(CONTROLS_S * 1000)}) {{  // sliders, toggles: only those that moved
        for (const [name, v] of Object.entries(d.cv || {{}})) {{
          if (controls[name] === v) continue;
          const el = document.getElementById("mx-sync-" + name);
          const button = el && (el.tagName === "BUTTON" ? el : el.querySelector("button"));
          if (button) {{ button.click(); controls[name] = v; synced = now; }}
        }}
      }}
    }} catch (e) {{ /* the server is restarting or gone: try again */ }}
    finally {{ busy = false; }}
  }}
  setInterval(tick, {int(REFRESH_S * 1000)});
  tick();
}}"""


def _calm_queue(demo: Any) -> None:
    """Gradio's queue polls for work every 1 ms when idle (0.01 s for progress): a thousand
    wake-ups a second that each take the GIL from the training thread (measured: a digits
    VQ-VAE trained 30% slower with an idle server). Every 100 ms is plenty: every control of the
    page is ``queue=False``, so the queue never has work of ours to start.
    (Private attributes of Gradio 6's queue; left alone if they are not there.)"""
    queue = getattr(demo, "_queue", None)
    if queue is None:
        log.warning("gradio has no _queue: cannot slow its idle polling")
        return
    if hasattr(queue, "sleep_when_free"):
        queue.sleep_when_free = max(queue.sleep_when_free, 0.1)
    if hasattr(queue, "progress_update_sleep_when_free"):
        queue.progress_update_sleep_when_free = max(queue.progress_update_sleep_when_free, 0.1)


def _quiet(_: object) -> None:
    """Drop a control's return value (its effect shows at the next refresh)."""


def launch(
    controller: Controller,
    *,
    title: str = "dopesheet explorer",
    host: str = "127.0.0.1",
    port: int | None = None,
    quiet: bool = True,
) -> Explorer:
    """Serve the page in this process (returns at once; the server runs in threads)."""
    gr = _gradio()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per refresh otherwise
    demo, controls_version = build(controller, title)
    port = port or free_port(host)
    # the page hands out copies of saved dopesheets (from its own temp folder, through Gradio's
    # cache) and nothing else of this machine: no folder is allowed, the runs' folder blocked
    out = controller.trainer.out_dir
    saves = controller.save_dir or (out.parent if out is not None else Path.cwd())
    theme = gr.themes.Default(primary_hue="indigo", neutral_hue="slate")
    app, url, _ = demo.launch(
        server_name=host, server_port=port, share=False, prevent_thread_lock=True, quiet=quiet,
        ssr_mode=False, inbrowser=False, show_error=True, blocked_paths=[str(saves.resolve())],
        footer_links=[], theme=theme, css=CSS, js=LIVE_JS, pwa=False, mcp_server=False,
        enable_monitoring=False,
    )  # fmt: skip
    _serve_live(app, controller, title, controls_version)
    _calm_queue(demo)
    url = url or f"http://{host}:{port}/"
    log.info("explorer serving at %s", url)
    return Explorer(url, demo, controller)
