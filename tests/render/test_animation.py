"""The latent-evolution animation: blitted frames match a full redraw, points and cursor move."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mini.render import (
    Curve,
    CurvePanel,
    FollowView,
    LatentAnimation,
    ScatterLayer,
    VideoError,
    iter_frames,
    probe,
    schedule_panels,
    schedule_phases,
)
from mini.render.stamps import StampedText
from mini.temporal import Dopesheet, realize

SIZE = (640, 360)
STEPS = np.array([0, 10, 40, 90, 160])
SCHEDULE = """\
STEP,PHASE,ACTION,lr:log,weight
0,Warm-up,,1e-2,0.0
60,Main,,,1.0
160,,,1e-4,
"""


def moving_red_point(n: int = len(STEPS)) -> ScatterLayer:
    """One big red point sliding from left to right along y = 0."""
    x = np.linspace(-0.7, 0.7, n)
    positions = np.stack([x, np.zeros(n)], axis=-1)[:, None, :]
    return ScatterLayer(positions, colors=np.array([[0.9, 0.0, 0.0]]), size=400.0)


def panels() -> list[CurvePanel]:
    schedule = realize(Dopesheet.from_text(SCHEDULE))
    losses = pd.DataFrame({"step": np.arange(161), "loss": np.exp(-np.arange(161) / 40)})
    return [
        *schedule_panels(schedule, ["lr", "weight"], log=["lr"]),
        CurvePanel.from_frame(losses, ["loss"], x="step", log=True, title="loss"),
    ]


def animation(**overrides) -> LatentAnimation:
    kwargs = dict(
        steps=STEPS,
        layers=[moving_red_point()],
        panels=panels(),
        phases=["Warm-up", "Warm-up", "Warm-up", "Main", "Main"],
        phase_starts=[(0, "Warm-up"), (60, "Main")],
        title="test",
        xlim=(-1.0, 1.0),
        ylim=(-1.0, 1.0),
        size=SIZE,
    )
    kwargs.update(overrides)
    return LatentAnimation(**kwargs)


def red_mask(frame: np.ndarray) -> np.ndarray:
    r, g, b = (frame[..., c].astype(int) for c in range(3))
    return (r > 150) & (g < 90) & (b < 90)


def cursor_columns(frames: list[np.ndarray]) -> list[float]:
    """Mean x of the pixels in the curve panels that are much darker than the median frame
    (the cursor and its dots: they sit at a different x in every frame)."""
    h, w = frames[0].shape[:2]
    stack = np.stack([f[int(0.15 * h) : int(0.85 * h), w // 2 :, :3].mean(-1) for f in frames])
    median = np.median(stack, axis=0)
    xs = []
    for grey in stack:
        _, cols = np.nonzero(grey < median - 80)
        xs.append(float(cols.mean()) if cols.size else float("nan"))
    return xs


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[np.ndarray]]:
    path = tmp_path_factory.mktemp("anim") / "latent-evolution.mp4"
    stats = animation().render(path, fps=10, progress=False)
    assert stats.frames == len(STEPS)
    assert stats.frames_per_second > 0
    assert stats.draw_seconds > 0
    return path, list(iter_frames(path))


def test_render_writes_a_decodable_mp4_with_one_frame_per_step(rendered) -> None:
    path, frames = rendered
    info = probe(path)
    assert (info.frames, info.width, info.height) == (len(STEPS), *SIZE)
    assert len(frames) == len(STEPS)


def test_blitting_updates_the_points(rendered) -> None:
    _, frames = rendered
    centres = []
    for frame in frames:
        ys, xs = np.nonzero(red_mask(frame[:, : SIZE[0] // 2]))
        assert xs.size > 50, "the red point should be visible in every frame"
        centres.append((xs.mean(), ys.mean()))
    cx = np.array([c[0] for c in centres])
    cy = np.array([c[1] for c in centres])
    assert np.all(np.diff(cx) > 10)  # moves right every frame...
    assert np.ptp(cy) < 2  # ...and not up or down
    # Even spacing in data gives even spacing in pixels.
    assert np.diff(cx) == pytest.approx(np.full(len(cx) - 1, np.diff(cx).mean()), abs=2)
    # The point's old position is repainted with the background, not left behind.
    x0, y0 = round(cx[0]), round(cy[0])
    assert red_mask(frames[0])[y0, x0]
    assert not red_mask(frames[-1])[y0, x0]


def test_cursor_moves_with_the_step(rendered) -> None:
    _, frames = rendered
    xs = np.array(cursor_columns(frames))
    assert np.all(np.isfinite(xs))
    assert np.all(np.diff(xs) > 3)
    # Panels span steps 0..160, so the cursor's pixel x is linear in the step.
    expected = (STEPS - STEPS[0]) / (STEPS[-1] - STEPS[0])
    assert (xs - xs[0]) / (xs[-1] - xs[0]) == pytest.approx(expected, abs=0.03)


def blitted_frames_matching_a_full_redraw(anim) -> list[np.ndarray]:
    """Every blitted frame, each checked against a full redraw of the same frame."""
    blitted = [np.array(buf).reshape(SIZE[1], SIZE[0], 4).copy() for buf in anim.iter_rgba()]
    fig, update = anim.figure(animated=False)
    for i, frame in enumerate(blitted):
        update(i)
        fig.canvas.draw()
        full = np.asarray(fig.canvas.buffer_rgba())
        differs = np.any(np.abs(full.astype(int) - frame.astype(int)) > 8, axis=-1)
        assert differs.mean() < 0.002, f"frame {i}: {differs.sum()} pixels differ"
    return blitted


def test_blitted_frames_match_a_full_redraw() -> None:
    blitted = blitted_frames_matching_a_full_redraw(animation())
    assert not np.array_equal(blitted[0], blitted[1])


def test_per_frame_visibility_fill_and_colour() -> None:
    n = len(STEPS)
    layer = moving_red_point()
    colors = np.zeros((n, 1, 3))
    colors[:, 0, 0] = 0.9
    colors[3, 0] = (0.0, 0.0, 0.9)  # blue in frame 3
    visible = np.ones((n, 1), dtype=bool)
    visible[1] = False
    filled = np.ones((n, 1), dtype=bool)
    filled[2] = False  # a ring in frame 2
    layer.colors, layer.visible, layer.filled, layer.linewidth = colors, visible, filled, 2.0
    anim = animation(layers=[layer], panels=())
    frames = [
        np.array(buf).reshape(SIZE[1], SIZE[0], 4)[..., :3].copy() for buf in anim.iter_rgba()
    ]
    counts = [int(red_mask(f).sum()) for f in frames]
    assert counts[0] > 100 and counts[4] > 100
    assert counts[1] == 0  # invisible
    assert 0 < counts[2] < counts[0] / 2  # only the ring is red
    blue = (frames[3][..., 2] > 150) & (frames[3][..., 0] < 90)
    assert counts[3] == 0 and blue.sum() > 100


def test_phase_label_and_step_text_change() -> None:
    anim = animation(layers=[], panels=panels())
    frames = [
        np.array(buf).reshape(SIZE[1], SIZE[0], 4)[..., :3].copy() for buf in anim.iter_rgba()
    ]
    top = slice(0, int(0.09 * SIZE[1]))
    left, right = slice(0, SIZE[0] // 3), slice(2 * SIZE[0] // 3, SIZE[0])
    # The phase label (top left) changes only when the phase does.
    assert np.array_equal(frames[0][top, left], frames[2][top, left])
    assert not np.array_equal(frames[2][top, left], frames[3][top, left])
    # The step label (top right) changes every frame.
    for a, b in itertools.pairwise(frames):
        assert not np.array_equal(a[top, right], b[top, right])


def test_legend_stays_above_the_points() -> None:
    # A big point parked under the legend (upper right) must not show through it.
    def point(label: str | None) -> ScatterLayer:
        at = np.array([[0.85, 0.9]])
        return ScatterLayer(at, colors=np.array([[0.9, 0.0, 0.0]]), size=300.0, label=label)

    anim = animation(layers=[point("red")], panels=())
    frame = np.array(next(anim.iter_rgba())).reshape(SIZE[1], SIZE[0], 4)[..., :3]
    fig, update = anim.figure(animated=False)
    update(0)
    fig.canvas.draw()
    full = np.asarray(fig.canvas.buffer_rgba())[..., :3]
    box = fig.axes[0].get_legend().get_window_extent()
    inside = (
        slice(SIZE[1] - int(box.y1) + 2, SIZE[1] - int(box.y0) - 2),  # image rows run down
        slice(int(box.x0) + 2, int(box.x1) - 2),
    )
    no_legend = np.array(next(animation(layers=[point(None)], panels=()).iter_rgba()))
    no_legend = no_legend.reshape(SIZE[1], SIZE[0], 4)[..., :3]
    covered = red_mask(no_legend[inside]).sum()
    assert covered > 150  # the point does lie under the legend
    shown = red_mask(frame[inside]).sum()
    assert shown == pytest.approx(red_mask(full[inside]).sum(), abs=5)  # just the legend's marker
    assert shown < covered / 2
    assert red_mask(frame).sum() > shown  # the rest of the point is drawn


def test_curve_panels_from_frames() -> None:
    df = pd.DataFrame({"step": [0, 1, 2, 3], "a": [1.0, np.nan, 3.0, 4.0], "b": [1, 2, 3, 4]})
    panel = CurvePanel.from_frame(df, ["a", "b"], x="step", log=True, title="t")
    assert panel.log and panel.title == "t"
    assert [c.label for c in panel.curves] == ["a", "b"]
    assert panel.curves[0].x.tolist() == [0, 2, 3]  # the missing value is dropped
    schedule = realize(Dopesheet.from_text(SCHEDULE))
    per_column = schedule_panels(schedule, log=["lr"])
    assert [(p.title, p.log) for p in per_column] == [("lr", True), ("weight", False)]
    grouped = schedule_panels(schedule, groups={"all": ["lr", "weight"]}, log=["lr"])
    assert len(grouped) == 1 and not grouped[0].log
    assert [c.label for c in grouped[0].curves] == ["lr", "weight"]


def test_static_points_and_curve_only_figures() -> None:
    still = ScatterLayer(np.array([[0.0, 0.0]]), colors="tab:red", size=300.0)
    frames = [
        np.array(buf).reshape(SIZE[1], SIZE[0], 4).copy()
        for buf in animation(layers=[still], panels=[]).iter_rgba()
    ]
    plot = (slice(int(0.1 * SIZE[1]), None), slice(None))  # below the phase and step labels
    assert red_mask(frames[0][plot][..., :3]).sum() > 100
    assert np.array_equal(frames[0][plot], frames[-1][plot])
    only_curves = animation(layers=[], panels=[CurvePanel([Curve(STEPS, STEPS**2, "sq")])])
    assert len(list(only_curves.iter_rgba())) == len(STEPS)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"steps": []}, "at least one frame"),
        ({"layers": [], "panels": []}, "nothing to draw"),
        ({"phases": ["a"]}, "phases has 1 entries"),
        ({"size": (641, 360)}, "even"),
        ({"layers": [ScatterLayer(np.zeros((3, 1, 2)))]}, "3 frames for 5 steps"),
        ({"layers": [ScatterLayer(np.zeros((5, 1, 3)))]}, "positions must be"),
    ],
)
def test_rejects_inconsistent_inputs(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        animation(**overrides)


def test_rejects_bad_layer_arrays() -> None:
    bad_colors = ScatterLayer(np.zeros((5, 2, 2)), colors=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="colors must be"):
        next(animation(layers=[bad_colors]).iter_rgba())
    bad_mask = ScatterLayer(np.zeros((5, 2, 2)), filled=np.ones((4, 2), dtype=bool))
    with pytest.raises(ValueError, match="filled must be"):
        next(animation(layers=[bad_mask]).iter_rgba())


def test_schedule_phases_match_the_dopesheet() -> None:
    dopesheet = Dopesheet.from_text(SCHEDULE)
    phases, starts = schedule_phases(realize(dopesheet), [0, 59, 60, 160])
    assert phases == ["Warm-up", "Warm-up", "Main", "Main"]
    assert starts == [(p.start, p.name) for p in dopesheet.phases] == [(0, "Warm-up"), (60, "Main")]
    unnamed = realize(Dopesheet.from_text("STEP,w\n0,1\n10,2\n"))
    assert schedule_phases(unnamed, [0, 10]) == ([None, None], [(0, None)])
    with pytest.raises(ValueError, match="before"):
        schedule_phases(realize(dopesheet).iloc[5:], [0])


def first_frame(layer: ScatterLayer) -> np.ndarray:
    anim = animation(layers=[layer], panels=())
    return np.array(next(anim.iter_rgba())).reshape(SIZE[1], SIZE[0], 4)[..., :3].copy()


def test_colour_forms_and_default_ring_edge() -> None:
    at = np.array([[0.0, 0.0]])
    disc = red_mask(first_frame(ScatterLayer(at, colors=(0.9, 0.0, 0.0), size=400.0))).sum()
    named = red_mask(first_frame(ScatterLayer(at, colors=["#e60000"], size=400.0))).sum()
    ring = red_mask(first_frame(ScatterLayer(at, colors="#e60000", size=400.0, filled=False)))
    assert disc > 100 and named == pytest.approx(disc, rel=0.05)
    assert 0 < ring.sum() < disc / 2  # hollow markers get a visible edge by default


def test_render_with_a_broken_ffmpeg_raises_video_error_and_keeps_the_old_video(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "latent-evolution.mp4"
    animation().render(path, progress=False)
    before = path.read_bytes()
    monkeypatch.setenv("IMAGEIO_FFMPEG_EXE", "/bin/false")
    with pytest.raises(VideoError, match="'/bin/false' exited with code 1"):
        animation().render(path, progress=False)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["latent-evolution.mp4"]


def following(n: int = 40) -> LatentAnimation:
    """A cloud drifting right and growing, followed by the view; three far points that do not
    steer it (off-screen in the early frames, on screen at the end)."""
    rng = np.random.default_rng(0)
    t = np.linspace(0, 1, n)[:, None, None]
    cloud = rng.normal(size=(1, 60, 2)) * (0.05 + t) + np.array([5.0, 0.0]) * t
    far = np.broadcast_to(np.array([[6.0, 1.0], [6.5, -1.0], [-30.0, 0.0]]), (n, 3, 2))
    layers = [
        ScatterLayer(cloud, colors="tab:blue", size=20.0, label="cloud"),
        ScatterLayer(far, colors="crimson", size=60.0, filled=False, follow=False,
                     offscreen="{n} far points off-screen", label="far"),
    ]  # fmt: skip
    steps = np.arange(n) * 4
    return animation(steps=steps, phases=None, layers=layers, view=FollowView())


def test_following_view_moves_the_axes_and_counts_points_off_screen() -> None:
    anim = following()
    fig, update = anim.figure(animated=False)
    ax = fig.axes[0]
    limits, notes = [], []
    for i in range(len(anim)):
        update(i)
        limits.append((ax.get_xlim(), ax.get_ylim()))
        notes.append(
            [a.get_text() for a in ax.artists if isinstance(a, StampedText) and a.get_visible()]
        )
    x0 = [lim[0] for lim in limits]
    assert x0[0][1] - x0[0][0] < 1.5  # zoomed in on the small early cloud
    assert x0[-1][0] > 0.5 * (x0[0][0] + x0[0][1]) + 1  # ...and followed it to the right
    assert notes[0] == ["3 far points off-screen"]
    assert notes[-1] == ["1 far points off-screen"]  # two came into view; (-30, 0) never does


def test_following_view_blitted_frames_match_a_full_redraw() -> None:
    blitted = blitted_frames_matching_a_full_redraw(following(n=8))
    # The tick labels move with the view: the area left of and below the panel changes.
    assert not np.array_equal(blitted[0][-40:, : SIZE[0] // 2], blitted[-1][-40:, : SIZE[0] // 2])


def test_render_saves_the_last_frame_as_png(tmp_path: Path) -> None:
    anim = following(n=4)
    last = np.array(list(anim.iter_rgba())[-1]).reshape(SIZE[1], SIZE[0], 4)[..., :3].copy()
    png = tmp_path / "latest.png"
    anim.render(tmp_path / "video.mp4", progress=False, last_frame=png)
    from matplotlib.image import imread

    saved = (imread(png) * 255).round().astype(np.uint8)
    assert saved.shape == (SIZE[1], SIZE[0], 3)
    assert np.array_equal(saved, last)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.png", "video.mp4"]
