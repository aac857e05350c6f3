"""The explorer page (Gradio, imported here only): controls, property sliders, panels.

Every control calls the :class:`~mini.explore.Controller` and never waits behind the 2 Hz
refresh (``queue=False``); the refresh reads one snapshot and renders it (inline SVG, drawn by
the browser). Every open tab shows the same run; closing them does not stop training. The page
binds 127.0.0.1 by default, makes no share link, sends no analytics and loads nothing from the
internet (the default theme's fonts are bundled; only basic components are used).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mini.explore import views
from mini.explore.controller import Controller
from mini.explore.style import CSS

log = logging.getLogger(__name__)

REFRESH_S = 0.5
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


def _gradio():
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before the import reads it
    try:
        import gradio as gr
    except ImportError as e:
        raise ImportError(
            "the explorer needs Gradio: pip install 'dopesheet[explore]' (or pip install gradio)"
        ) from e
    return gr


def build(controller: Controller, title: str = "dopesheet explorer"):
    """The Gradio Blocks of the explorer page for ``controller``."""
    gr = _gradio()
    c = controller
    infos = c.properties
    touched: dict[str, float] = {}

    with gr.Blocks(title=title, analytics_enabled=False) as demo:
        status = gr.HTML(elem_id="mx-status-box")
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
        error = gr.HTML(elem_id="mx-error-box", visible=False)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=520):
                panels = gr.HTML(elem_id="mx-panels")
                with gr.Row(equal_height=False):
                    with gr.Column(min_width=300):
                        losses = gr.HTML(elem_id="mx-losses")
                        notes = gr.HTML(elem_id="mx-notes")
                        saved_file = gr.File(label="saved dopesheet", visible=False, elem_id="mx-saved-file")  # fmt: skip
                    with gr.Column(min_width=300):
                        schedule = gr.HTML(elem_id="mx-schedule")
            with gr.Column(scale=1, min_width=290, elem_classes="mx-side"):
                gr.HTML('<h3 class="mx-side-title">Properties</h3>')
                transition = gr.Number(c.transition, label="smooth moves over (steps)", precision=0, minimum=0, elem_id="mx-transition")  # fmt: skip
                readouts, sliders, follows = {}, {}, {}
                for name, info in infos.items():
                    with gr.Group(elem_classes="mx-prop"):
                        readouts[name] = gr.HTML(elem_id=f"mx-read-{name}")
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
        session = gr.State(None)  # per tab: what its last refresh sent
        outputs = [status, error, panels, losses, schedule, notes]
        outputs += (
            [readouts[n] for n in names] + [sliders[n] for n in names] + [follows[n] for n in names]
        )

        def refresh(sent: dict | None):
            """One tick for one tab: what changed since this tab's last tick."""
            sent = dict(sent or {})
            snap = c.snapshot()
            now = time.monotonic()
            fresh = sent.get("version") != (snap.run, snap.version)
            sent["version"] = (snap.run, snap.version)
            skip = gr.skip()
            out = [
                views.status_bar(snap, title),
                gr.update(value=views.error_box(snap), visible=bool(snap.error)),
                views.panel_cards(c.panels, snap.panels) if fresh else skip,
                views.losses_chart(c.history, snap) if fresh else skip,
                views.schedule_chart(snap, infos, snap.written) if fresh else skip,
                views.notes(snap),
            ]
            out += [views.readout(n, snap, infos[n].log) if fresh else skip for n in names]
            for kind in ("slider", "follow"):
                for n in names:
                    if n not in snap.props or now - touched.get(n, -1e9) < TOUCH_S:
                        out.append(skip)  # the user is moving it: leave it alone,
                        sent.pop((kind, n), None)  # and send it afresh afterwards
                        continue
                    if kind == "slider":
                        value = snap.targets.get(n, snap.props[n])
                        want: object = round(infos[n].to_slider(value), infos[n].decimals)
                    else:
                        want = n not in snap.overridden or n in snap.returning
                    if sent.get((kind, n)) == want:
                        out.append(skip)  # this tab shows it already
                    else:
                        sent[(kind, n)] = want
                        out.append(gr.update(value=want))
            return [*out, sent]

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

        def do_save():
            try:
                saved = c.save_dopesheet().result(timeout=60)
            except Exception as e:
                c.notes.append(f"could not save the dopesheet: {e}")
                return gr.update(visible=False)
            return gr.update(value=str(saved.path), visible=True)

        save.click(do_save, None, saved_file, queue=False, show_progress="minimal")
        timer = gr.Timer(REFRESH_S)
        timer.tick(
            refresh,
            session,
            [*outputs, session],
            show_progress="hidden",
            trigger_mode="always_last",
        )
        demo.load(refresh, session, [*outputs, session], show_progress="hidden")
    return demo


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
    demo = build(controller, title)
    port = port or free_port(host)
    folders = {str(p) for p in (controller.save_dir, controller.trainer.out_dir, Path.cwd()) if p}
    theme = gr.themes.Default(primary_hue="indigo", neutral_hue="slate")
    _, url, _ = demo.launch(
        server_name=host, server_port=port, share=False, prevent_thread_lock=True, quiet=quiet,
        ssr_mode=False, inbrowser=False, show_error=True, allowed_paths=sorted(folders),
        footer_links=[], theme=theme, css=CSS, pwa=False, mcp_server=False,
        enable_monitoring=False,
    )  # fmt: skip
    url = url or f"http://{host}:{port}/"
    log.info("explorer serving at %s", url)
    return Explorer(url, demo, controller)
