"""The explorer page's stylesheet (plain CSS; no web fonts, nothing fetched)."""

CSS = """
.gradio-container { max-width: 1480px !important; }
.mx-hidden { display: none !important; }
.mx-status { display: flex; align-items: center; gap: 26px; flex-wrap: wrap; padding: 12px 18px 16px;
  border: 1px solid var(--border-color-primary); border-radius: 12px; position: relative;
  background: var(--background-fill-secondary); }
.mx-title { font-size: 1.25rem; font-weight: 650; margin-right: auto; letter-spacing: -0.01em; }
.mx-run { font-size: 0.8rem; font-weight: 500; color: var(--body-text-color-subdued); margin-left: 10px; }
.mx-stat { display: flex; flex-direction: column; min-width: 70px; }
.mx-stat label { font-size: 0.7rem; text-transform: uppercase; letter-spacing: 0.06em;
  color: var(--body-text-color-subdued); }
.mx-stat b { font-size: 1.35rem; font-variant-numeric: tabular-nums; font-weight: 650; }
.mx-of { font-size: 0.8rem; color: var(--body-text-color-subdued); }
.mx-progress { position: absolute; left: 0; right: 0; bottom: 0; height: 4px; border-radius: 0 0 12px 12px;
  overflow: hidden; background: var(--border-color-primary); }
.mx-progress i { display: block; height: 100%; background: #6366f1; }
.mx-pill { display: inline-block; padding: 3px 12px; border-radius: 999px; font-size: 0.85rem; font-weight: 600;
  background: #e2e8f0; color: #334155; }
.mx-running { background: #dcfce7; color: #166534; }
.mx-running::before { content: "● "; }
.mx-paused { background: #fef3c7; color: #92400e; }
.mx-finished { background: #e0e7ff; color: #3730a3; }
.mx-failed { background: #fee2e2; color: #991b1b; }
.mx-controls { align-items: center; gap: 8px !important; margin: 4px 0; }
.mx-controls button { white-space: nowrap; }
.mx-action { border-style: dashed !important; }
#mx-error-box:has([data-live="error"]:empty) { display: none; }
.mx-error { border: 1px solid #fca5a5; background: #fef2f2; color: #7f1d1d; border-radius: 10px; padding: 10px 14px; }
.mx-error pre { white-space: pre-wrap; margin: 4px 0 0; font-size: 0.85rem; }
.mx-panels { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 12px; }
.mx-lower { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 12px;
  margin-top: 12px; align-items: start; }
.mx-stack { display: flex; flex-direction: column; gap: 12px; }
.mx-card { contain: layout paint; border: 1px solid var(--border-color-primary); border-radius: 12px; padding: 10px 12px 8px;
  background: var(--background-fill-primary); }
.mx-card h3 { margin: 0 0 6px; font-size: 0.8rem; text-transform: uppercase; letter-spacing: 0.06em;
  color: var(--body-text-color-subdued); font-weight: 650; }
.mx-chart { width: 100%; height: auto; display: block; font-family: inherit; }
.mx-plot { fill: #fbfcfe; stroke: #cbd5e1; stroke-width: 1; }
.mx-grid { stroke: #e8edf3; stroke-width: 1; }
.mx-axis { stroke: #94a3b8; }
.mx-tick { font-size: 10px; fill: #64748b; }
.mx-ring { fill: none; stroke: #94a3b8; stroke-dasharray: 4 3; stroke-width: 1; }
.mx-cursor { stroke: #ef4444; stroke-width: 1.5; }
.mx-band { fill: #eef2ff; opacity: 0.55; }
.mx-band-odd { fill: #f8fafc; }
.mx-band-label { font-size: 9.5px; fill: #6366f1; font-weight: 600; }
.mx-legend { display: flex; flex-wrap: wrap; gap: 4px 12px; font-size: 0.78rem; margin-top: 4px;
  color: var(--body-text-color-subdued); }
.mx-key i { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: 5px;
  vertical-align: -1px; box-sizing: border-box; }
.mx-strip { margin-bottom: 2px; }
.mx-strip-head { display: flex; gap: 8px; align-items: baseline; font-size: 0.8rem; }
.mx-strip-head span:last-child { margin-left: auto; font-variant-numeric: tabular-nums; }
.mx-tag { font-size: 0.68rem; padding: 1px 7px; border-radius: 999px; background: #fef3c7; color: #92400e;
  font-weight: 600; }
.mx-tag-auto { background: #e0e7ff; color: #3730a3; }
.mx-tag-back { background: #dcfce7; color: #166534; }
.mx-hint { font-size: 0.72rem; color: var(--body-text-color-subdued); margin-top: 4px; }
.mx-empty { color: var(--body-text-color-subdued); font-size: 0.85rem; padding: 24px 0; text-align: center; }
.mx-side-title { margin: 2px 0 0; font-size: 0.8rem; text-transform: uppercase; letter-spacing: 0.06em;
  color: var(--body-text-color-subdued); }
.mx-prop { border-radius: 10px !important; }
.mx-readout { display: flex; gap: 8px; align-items: baseline; padding: 8px 10px 0; font-size: 0.9rem; }
.mx-val { margin-left: auto; font-variant-numeric: tabular-nums; }
.mx-notes ul { margin: 0; padding-left: 16px; font-size: 0.8rem; }
.mx-notes li { margin: 2px 0; }
.mx-pixels { image-rendering: pixelated; max-width: 100%; height: auto; border-radius: 4px; }
.mx-metrics { font-size: 0.88rem; font-variant-numeric: tabular-nums; }
.mx-row { display: grid; grid-template-columns: 4.5em 1fr auto; gap: 2px 10px; align-items: baseline;
  padding: 6px 2px; border-bottom: 1px solid var(--border-color-primary); }
.mx-row:last-child { border-bottom: none; }
.mx-row span:nth-child(3) { text-align: right; color: var(--body-text-color-subdued); }
.mx-row .mx-bar { grid-column: 1 / -1; }
.mx-bar { display: block; height: 5px; border-radius: 3px; background: #e2e8f0; overflow: hidden; }
.mx-bar b { display: block; height: 100%; background: #6366f1; }
.mx-bar b.mx-off { background: #ef4444; }
.mx-row2 { grid-template-columns: 1fr auto; }
.mx-row2 span:nth-child(2) { text-align: right; color: inherit; }
.mx-gap { display: grid; grid-template-columns: 3em 1fr 3em; gap: 8px; align-items: center; font-size: 0.8rem;
  padding: 2px 0; }
.mx-gap .mx-bar { height: 8px; }
.mx-gap span:last-child { text-align: right; font-variant-numeric: tabular-nums; }
.mx-scale { font-size: 0.7rem; color: var(--body-text-color-subdued); }
.mx-metrics td:last-child { text-align: right; }
.mx-sub { font-size: 0.75rem; color: var(--body-text-color-subdued); margin: 2px 0 6px; }
.mx-ok { color: #166534; font-weight: 600; }
.mx-bad { color: #991b1b; font-weight: 600; }
"""
