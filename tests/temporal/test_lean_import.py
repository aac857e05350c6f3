"""`from mini.temporal import Timeline` loads the timeline and what it needs, not the parser, the
gates, the overrides or the plotting and data libraries (those load when first used); the lazily
exported names still resolve to the same objects."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# loaded on first use only: parsing a CSV, gates, runtime overrides, the CLI, plots, DataFrames
NOT_ON_IMPORT = (
    "mini.temporal.parse",
    "mini.temporal.grammar",
    "mini.temporal.header",
    "mini.temporal.read",
    "mini.temporal.resolve",
    "mini.temporal.search_cells",
    "mini.temporal.errors",
    "mini.temporal.gates",
    "mini.temporal.gate_rows",
    "mini.temporal.conditions",
    "mini.temporal.gated",
    "mini.temporal.overrides",
    "mini.temporal.sheet_io",
    "mini.temporal.rescale",
    "mini.temporal.steering",
    "mini.temporal.gate_openings",
    "mini.temporal.cli",
    "mini.temporal.plot",
    "mini.temporal.frame",
    "mini.temporal.bake",
    "mini.temporal.realize",
    "mini.temporal.sheet_forms",
    "mini.temporal.memory_guard",
    "pandas",
    "matplotlib",
    "scipy",
    "torch",
)


def _loaded_after(code: str) -> set[str]:
    """The modules a fresh interpreter (in this checkout) has loaded after running ``code``."""
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


def test_importing_timeline_loads_none_of_the_other_paths() -> None:
    loaded = _loaded_after("from mini.temporal import Timeline")
    assert "mini.temporal.timeline" in loaded  # the check can see our modules
    assert sorted(set(NOT_ON_IMPORT) & loaded) == []


# standard-library modules that cost milliseconds to import, which numpy alone does not need
HEAVY_STDLIB = ("dataclasses", "inspect", "copy", "re", "ast", "dis", "tokenize", "pickle", "json")


def test_importing_timeline_loads_nothing_but_numpy_and_our_modules() -> None:
    """No ``dataclasses``, ``copy``, ``re``, ...: the value types are hand-written records
    (``mini/temporal/records.py``), because ``@dataclass`` costs ~1 ms a class at import. Small
    C-backed standard modules (``bisect``) are allowed: whether numpy already loaded them
    depends on the environment."""
    extra = _loaded_after("from mini.temporal import Timeline") - _loaded_after("import numpy")
    assert "mini.temporal.timeline" in extra
    others = {m for m in extra if m not in ("mini", "mini.temporal") and ".temporal." not in m}
    top = {m.split(".")[0].lstrip("_") for m in others}
    assert sorted(t for t in top if t not in sys.stdlib_module_names) == []
    assert sorted(top & set(HEAVY_STDLIB)) == []


def test_a_timeline_from_rows_needs_no_parser() -> None:
    code = (
        "from mini.temporal import Timeline\n"
        "from mini.temporal.spec import PropSpec, Row\n"
        "from mini.temporal.dopesheet import Dopesheet\n"
        "tl = Timeline(Dopesheet([PropSpec('lr')], [Row(0, values={'lr': 1.0}),"
        " Row(10, values={'lr': 2.0})]))\n"
        "assert tl[10].props['lr'] == 2.0"
    )
    loaded = _loaded_after(code)
    assert sorted({"mini.temporal.parse", "mini.temporal.gates", "pandas"} & loaded) == []


def test_parsing_and_overriding_load_what_they_need() -> None:
    code = (
        "from mini.temporal import Dopesheet, Timeline\n"
        "tl = Timeline(Dopesheet.from_text('STEP,lr,GATE\\n0,1,\\n10,2,\\\"when loss < 1\\\"\\n'))\n"
        "tl.set('lr', 3.0, duration=2)"
    )
    loaded = _loaded_after(code)
    assert {"mini.temporal.parse", "mini.temporal.gates", "mini.temporal.overrides"} <= loaded


def test_lazy_exports_resolve_and_bake_realize_stay_functions() -> None:
    import mini.temporal as temporal
    import mini.temporal.bake
    import mini.temporal.realize  # noqa: F401  (the submodules share the functions' names)

    for name in temporal.__all__:
        assert getattr(temporal, name) is not None
    from mini.temporal import bake, realize
    from mini.temporal.timeline import Timeline

    assert callable(bake) and bake.__module__ == "mini.temporal.bake"
    assert callable(realize) and realize.__module__ == "mini.temporal.realize"
    assert temporal.Timeline is Timeline
    assert set(temporal.__all__) <= set(dir(temporal))
