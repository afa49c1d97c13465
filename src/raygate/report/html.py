"""The HTML report: one self-contained page that *draws* every exposed Ray route.

Each lane (Dashboard, Client, Serve... of one Ray cluster) is an inline SVG of its hops,
client -> gateway node -> controller -> Service -> endpoints -> Ray head pod, each green or red
with the finding that breaks it beside the picture (and in the hop's hover title). Below, the
findings table by layer, as in the text report. No external assets: the page can be attached
to a ticket or opened offline. Lanes come from ``raygate.doctor`` (``result.lanes`` or the
``lanes=`` keyword); without them only the table is drawn.
"""

from __future__ import annotations

from html import escape
from typing import Any, Sequence

from raygate import __version__
from raygate.findings import Layer, Result

STATUS_TEXT = {"ok": "ok", "warn": "warning", "fail": "broken", "unknown": "not checked"}
LAYER_TITLE = {
    Layer.SECURITY: "Security layer",
    Layer.PROTOCOL: "Protocol layer",
    Layer.INFRASTRUCTURE: "Infrastructure layer",
}

CSS = """
:root { --ok:#1a7f37; --okbg:#dafbe1; --fail:#cf222e; --failbg:#ffebe9; --warn:#9a6700;
        --warnbg:#fff8c5; --unk:#6e7781; --unkbg:#f6f8fa; --ink:#1f2328; --line:#d0d7de; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink);
       margin: 0 auto; padding: 24px; max-width: 1180px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
.summary { color: #57606a; margin-bottom: 16px; }
.badge { display:inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; }
.badge.ok { background: var(--okbg); color: var(--ok); } .badge.fail { background: var(--failbg); color: var(--fail); }
.badge.warn { background: var(--warnbg); color: var(--warn); } .badge.unknown { background: var(--unkbg); color: var(--unk); }
.lane { border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; margin: 12px 0; }
.lane header { display: flex; gap: 10px; align-items: baseline; flex-wrap: wrap; }
.lane .role { font-weight: 700; } .lane .route { font-family: ui-monospace, monospace; color: #57606a; }
svg.path { width: 100%; height: auto; margin-top: 8px; }
svg .hop rect { stroke-width: 2; rx: 8; }
svg .hop.ok rect { fill: var(--okbg); stroke: var(--ok); }
svg .hop.fail rect { fill: var(--failbg); stroke: var(--fail); }
svg .hop.warn rect { fill: var(--warnbg); stroke: var(--warn); }
svg .hop.unknown rect { fill: var(--unkbg); stroke: var(--unk); stroke-dasharray: 4 3; }
svg text { font: 12px system-ui, sans-serif; fill: var(--ink); }
svg text.label { font-weight: 700; } svg text.mark { font-size: 14px; font-weight: 700; }
svg .hop.fail text.mark { fill: var(--fail); } svg .hop.ok text.mark { fill: var(--ok); }
svg .hop.warn text.mark { fill: var(--warn); } svg .hop.unknown text.mark { fill: var(--unk); }
svg line.arrow { stroke: #8c959f; stroke-width: 2; marker-end: url(#arrowhead); }
svg line.arrow.cut { stroke: var(--fail); stroke-dasharray: 5 4; }
ol.why { margin: 8px 0 0; padding-left: 20px; }
ol.why li { margin: 4px 0; } ol.why .hopname { font-weight: 600; }
.symptom { font-family: ui-monospace, monospace; font-size: 12px; background: #f6f8fa; padding: 1px 4px; }
table { border-collapse: collapse; width: 100%; margin-top: 6px; }
th, td { text-align: left; vertical-align: top; padding: 6px 8px; border-bottom: 1px solid var(--line); }
th { background: #f6f8fa; font-weight: 600; }
td.sev-error { color: var(--fail); font-weight: 700; } td.sev-warning { color: var(--warn); font-weight: 700; }
td code { font-size: 12px; }
.muted { color: #57606a; }
"""

BOX_W, BOX_H, GAP, TOP = 150, 78, 36, 8


def format(result: Result, *, lanes: Sequence[Any] | None = None,  # noqa: A001
           title: str = "raygate doctor") -> str:
    lanes = list(lanes if lanes is not None else getattr(result, "lanes", None) or [])
    counts = result.counts()
    broken = sum(1 for lane in lanes if lane.status == "fail")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="summary">{result.objects} objects, {len(result.rules)} rules: '
        f'{counts["error"]} errors, {counts["warning"]} warnings, {counts["info"]} info'
        + (f"; {broken} of {len(lanes)} routes broken" if lanes else "")
        + f" &middot; raygate {escape(__version__)}</p>",
    ]
    if lanes:
        parts.append("<h2>Exposed routes</h2>")
        parts += [_lane_html(lane, i) for i, lane in enumerate(lanes)]
    parts.append(_findings_html(result))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _lane_html(lane: Any, index: int) -> str:
    status = lane.status
    head = (f'<header><span class="role">{escape(lane.role)}</span>'
            f'<span class="route">{escape(lane.route)}</span>'
            f'<span class="muted">{escape(lane.target)}</span>'
            f'<span class="badge {status}">{STATUS_TEXT[status]}</span></header>')
    why = []
    for hop in lane.hops:
        for f in hop.findings:
            symptom = (f' <span class="muted">symptom:</span> <span class="symptom">{escape(f.symptom)}</span>'
                       if f.symptom else "")
            why.append(f'<li data-hop="{hop.key}"><span class="hopname">{escape(hop.label)}</span>: '
                       f"<b>{escape(f.code)}</b> {escape(f.name)} &mdash; {escape(f.message)}{symptom}"
                       f' <span class="muted">fix:</span> {escape(f.fix)}</li>')
    listing = f'<ol class="why">{"".join(why)}</ol>' if why else ""
    return (f'<section class="lane" data-lane="{index}" data-role="{escape(lane.role)}" '
            f'data-status="{status}">{head}{_svg(lane, index)}{listing}</section>')


def _svg(lane: Any, index: int) -> str:
    n = len(lane.hops)
    width = n * BOX_W + (n - 1) * GAP + 2
    height = BOX_H + 2 * TOP
    out = [f'<svg class="path" viewBox="0 0 {width} {height}" role="img" '
           f'aria-label="{escape(lane.role)} route {escape(lane.route)}">',
           '<defs><marker id="arrowhead" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
           'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#8c959f"/>'
           "</marker></defs>"]
    for i, hop in enumerate(lane.hops):
        x = 1 + i * (BOX_W + GAP)
        tip = "; ".join(f"{f.code} " + (f"{f.symptom} -> " if f.symptom else "") + f.message
                        for f in hop.findings) or \
            f"{hop.label}: {STATUS_TEXT[hop.status]}"
        mark = {"ok": "\u2713", "fail": "\u2717", "warn": "!", "unknown": "?"}[hop.status]
        out.append(
            f'<g class="hop {hop.status}" data-hop="{hop.key}" data-status="{hop.status}" '
            f'data-codes="{escape(",".join(f.code for f in hop.findings))}">'
            f"<title>{escape(tip)}</title>"
            f'<rect x="{x}" y="{TOP}" width="{BOX_W}" height="{BOX_H}"/>'
            f'<text class="label" x="{x + 10}" y="{TOP + 20}">{escape(hop.label)}</text>'
            f'<text class="mark" x="{x + BOX_W - 20}" y="{TOP + 20}">{mark}</text>'
            f'<text x="{x + 10}" y="{TOP + 40}">{escape(_clip(hop.name, 22))}</text>'
            f'<text x="{x + 10}" y="{TOP + 58}" class="muted">'
            f'{escape(_clip(",".join(f.code for f in hop.findings) or hop.detail, 22))}</text></g>')
        if i < n - 1:
            cut = " cut" if hop.status == "fail" else ""
            out.append(f'<line class="arrow{cut}" x1="{x + BOX_W + 2}" y1="{TOP + BOX_H / 2}" '
                       f'x2="{x + BOX_W + GAP - 4}" y2="{TOP + BOX_H / 2}"/>')
    out.append("</svg>")
    return "".join(out)


def _findings_html(result: Result) -> str:
    parts = ["<h2>Findings by layer</h2>"]
    if not result.findings:
        parts.append('<p><span class="badge ok">no findings</span></p>')
    for layer in Layer:
        found = [f for f in result.findings if f.layer is layer]
        if not found:
            continue
        rows = "".join(
            f'<tr data-code="{escape(f.code)}"><td class="sev-{f.severity.value}">{f.severity.value}</td>'
            f"<td><b>{escape(f.code)}</b><br>{escape(f.name)}</td>"
            f"<td>{escape(str(f.object))}<br><code>{escape(f.field)}</code><br>"
            f'<span class="muted">{escape(f.file if f.file.startswith("cluster:") else f"{f.file}:{f.line}")}</span></td>'
            f"<td>{(f'<span class=symptom>{escape(f.symptom)}</span><br>' if f.symptom else '')}"
            f"{escape(f.message)}</td><td>{escape(f.fix)}</td></tr>"
            for f in found)
        parts.append(f"<h3>{LAYER_TITLE[layer]} ({len(found)})</h3><table><thead><tr><th>severity</th>"
                     "<th>rule</th><th>object</th><th>symptom &rarr; cause</th><th>fix</th></tr></thead>"
                     f"<tbody>{rows}</tbody></table>")
    if result.not_checked:
        items = "".join(f"<li><b>{escape(k)}</b>: {escape(v)}</li>"
                        for k, v in sorted(result.not_checked.items()))
        parts.append(f"<h3>Not checked</h3><ul>{items}</ul>")
    if result.notices:
        parts.append("<h3>Notices</h3><ul>" + "".join(f"<li>{escape(n)}</li>" for n in result.notices)
                     + "</ul>")
    return "\n".join(parts)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"
