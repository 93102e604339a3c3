"""Placement maps: one kernel's stages drawn on the chip's floor plan, as SVG or as an HTML page.

The picture answers the questions a compiler engineer asks of a placement: which sites does each
stage hold, how far apart are producers and consumers, and which links carry the most streams
(congestion). Stage colours are grouped by unit kind (blues for PCU stages, oranges for PMU
stages, greens for AGCU stages) so the kind reads at a glance, and each stage is listed once with
its id. The HTML page adds what a static picture cannot: hovering a site or a stage row names the
stage and lights up its sites and streams; "link use" draws every routed link by how many streams
share it.
"""

from __future__ import annotations

import colorsys
from collections import Counter
from dataclasses import dataclass

from jinja2 import Environment

from bitstream_format import Bitstream, KernelEntry, StageConfig
from chip_model import ChipSpec

KIND_FILL = {"pcu": "#eef3fb", "pmu": "#f7efe6", "agcu": "#eaf5ea"}
KIND_HUE = {"pcu": (0.55, 0.70), "pmu": (0.03, 0.14), "agcu": (0.25, 0.40)}  # hue range per unit kind
TOP = 28  # room for the title above the grid


def _cell_size(chip: ChipSpec) -> int:
    """Cells big enough to hover and read: 28 px on a small chip, 18 px on a full SN40L grid."""
    return 28 if max(chip.grid.columns, chip.grid.rows) <= 16 else 18


def _stage_colour(kind: str, rank: int, count: int) -> str:
    lo, hi = KIND_HUE[kind]
    hue = lo + (hi - lo) * ((rank * 0.61803) % 1.0)
    value = 0.95 - 0.25 * ((rank * 0.38197) % 1.0)
    r, g, b = colorsys.hsv_to_rgb(hue, 0.65, value)
    return f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}"


@dataclass(frozen=True)
class StageRow:
    id: int
    name: str
    opcode: str
    unit: str
    units: int
    colour: str
    streams: tuple[int, ...]  # every stream it produces or consumes


@dataclass(frozen=True)
class KernelPicture:
    """Everything the templates draw, in pixels: computed once, rendered as SVG or HTML."""

    title: str
    width: int
    height: int
    cell: int
    sites: list[dict]
    streams: list[dict]
    links: list[dict]
    stages: list[StageRow]
    max_link_use: int


def find_kernel(bs: Bitstream, kernel_name: str) -> KernelEntry:
    kernel = next((k for k in bs.kernels if k.name == kernel_name), None)
    if kernel is None:
        names = ", ".join(k.name for k in bs.kernels[:6])
        raise KeyError(f"no kernel named {kernel_name!r} (kernels: {names}{', ...' if len(bs.kernels) > 6 else ''})")
    return kernel


def kernel_picture(bs: Bitstream, chip: ChipSpec, kernel_name: str) -> KernelPicture:
    kernel = find_kernel(bs, kernel_name)
    cell = _cell_size(chip)
    stages: list[StageConfig] = [bs.stage(sid) for sid in kernel.stages]
    ranks: Counter[str] = Counter()
    colour: dict[int, str] = {}
    for st in stages:
        colour[st.id] = _stage_colour(st.unit, ranks[st.unit], 0)
        ranks[st.unit] += 1

    def centre(site: tuple[int, int]) -> tuple[float, float]:
        return site[0] * cell + cell / 2, TOP + site[1] * cell + cell / 2

    owner = {tuple(site): st for st in stages for site in st.sites}
    sites = []
    for s in chip.grid.sites:
        st = owner.get((s.x, s.y))
        sites.append({
            "x": s.x * cell, "y": TOP + s.y * cell,
            "fill": colour[st.id] if st else KIND_FILL[s.kind],
            "stage": st.id if st else -1,
            "tip": f"#{st.id} {st.label} ({st.unit}, site {s.x},{s.y})" if st else f"{s.kind} ({s.x}, {s.y}) free",
        })

    streams, incident = [], {st.id: set() for st in stages}
    link_use: Counter[tuple[int, int, int, int]] = Counter()
    for st in stages:
        for sid in st.outputs:
            stream = bs.stream(sid)
            incident[st.id].add(sid)
            link_use.update(stream.links)
            if not st.sites:
                continue
            x1, y1 = centre(tuple(st.sites[0]))
            for dst_id in stream.dsts:
                dst = bs.stage(dst_id)
                incident.setdefault(dst_id, set()).add(sid)
                if dst.sites:
                    x2, y2 = centre(tuple(dst.sites[0]))
                    streams.append({"id": sid, "src": st.id, "dst": dst_id, "x1": x1, "y1": y1, "x2": x2, "y2": y2,
                                    "tip": f"stream #{sid}: #{st.id} -> #{dst_id}, {stream.nbytes:,} bytes"})
    max_use = max(link_use.values(), default=0)
    links = []
    for (ax, ay, bx, by), use in sorted(link_use.items()):
        (x1, y1), (x2, y2) = centre((ax, ay)), centre((bx, by))
        heat = use / max_use if max_use else 0.0
        r, g, b = colorsys.hsv_to_rgb(0.16 * (1 - heat), 0.9, 0.9)  # yellow (light use) to red (most used)
        links.append({"x1": x1, "y1": y1, "x2": x2, "y2": y2, "use": use, "width": 1.5 + 4 * heat,
                      "colour": f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}"})
    rows = [StageRow(st.id, st.label, st.opcode, st.unit, len(st.sites), colour[st.id], tuple(sorted(incident[st.id])))
            for st in stages]
    units = Counter(st.unit for st in stages for _ in st.sites)
    title = (f"{kernel.name} on {chip.name}: {len(stages)} stages on {units['pcu']} PCUs, {units['pmu']} PMUs, "
             f"{units['agcu']} AGCUs; busiest link carries {max_use} stream{'s' if max_use != 1 else ''}")
    return KernelPicture(title, chip.grid.columns * cell, TOP + chip.grid.rows * cell, cell, sites, streams, links,
                         rows, max_use)


_ENV = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)

_GRID = """\
<svg xmlns="http://www.w3.org/2000/svg" width="{{ p.width }}" height="{{ p.height + extra }}" font-family="monospace" font-size="12">
<rect width="100%" height="100%" fill="white"/>
{% if show_title %}<text x="4" y="16">{{ p.title }}</text>{% endif %}
<g id="sites">
{% for s in p.sites %}
<rect class="site{% if s.stage >= 0 %} s{{ s.stage }}{% endif %}" x="{{ s.x }}" y="{{ s.y }}" width="{{ p.cell - 2 }}" height="{{ p.cell - 2 }}" rx="2" fill="{{ s.fill }}" stroke="#bbb" stroke-width="0.5" data-stage="{{ s.stage }}"><title>{{ s.tip }}</title></rect>
{% endfor %}
</g>
<g id="links" {% if hide_links %}style="display:none"{% endif %}>
{% for l in p.links %}
<line x1="{{ l.x1 }}" y1="{{ l.y1 }}" x2="{{ l.x2 }}" y2="{{ l.y2 }}" stroke="{{ l.colour }}" stroke-width="{{ l.width }}" stroke-linecap="round"><title>link used by {{ l.use }} stream{{ 's' if l.use != 1 }}</title></line>
{% endfor %}
</g>
<g id="streams">
{% for s in p.streams %}
<line class="stream t{{ s.id }}" x1="{{ s.x1 }}" y1="{{ s.y1 }}" x2="{{ s.x2 }}" y2="{{ s.y2 }}" stroke="#333" stroke-opacity="0.35" stroke-width="1.2" data-stream="{{ s.id }}"><title>{{ s.tip }}</title></line>
{% endfor %}
</g>
"""

SVG = _ENV.from_string(_GRID + """\
{% for st in p.stages %}
<rect x="{{ 4 + (loop.index0 % cols) * col_width }}" y="{{ p.height + 8 + (loop.index0 // cols) * 16 }}" width="11" height="11" fill="{{ st.colour }}"/>
<text x="{{ 20 + (loop.index0 % cols) * col_width }}" y="{{ p.height + 18 + (loop.index0 // cols) * 16 }}">#{{ st.id }} {{ st.opcode }} x{{ st.units }}</text>
{% endfor %}
</svg>
""")

HTML = _ENV.from_string("""\
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{ p.title }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 16px; color: #222; }
main { display: flex; gap: 24px; align-items: flex-start; }
table { border-collapse: collapse; font-size: 13px; }
td, th { padding: 2px 8px; text-align: left; white-space: nowrap; }
tr.stage:hover, tr.stage.on { background: #fff4c2; cursor: pointer; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; vertical-align: middle; }
rect.site.on { stroke: #000; stroke-width: 2.5; }
line.stream.on { stroke: #d00; stroke-opacity: 1; stroke-width: 3; }
svg.dim rect.site:not(.on) { opacity: 0.35; }
#panel { max-height: 90vh; overflow-y: auto; }
</style></head>
<body>
<h1 style="font-size:17px">{{ p.title }}</h1>
<p><label><input type="checkbox" id="show-links"> link use (routed links, thicker and redder = shared by more streams)</label>
 &nbsp; <label><input type="checkbox" id="show-streams" checked> streams (producer to consumer)</label>
 &nbsp; Hover a site or a stage to light up its units and streams; click a stage to keep it lit.</p>
<main>
<div id="map">
""" + _GRID + """</svg>
</div>
<div id="panel"><table>
<thead><tr><th></th><th>id</th><th>stage</th><th>unit</th><th>units</th><th>streams</th></tr></thead>
<tbody>
{% for st in p.stages %}
<tr class="stage" data-stage="{{ st.id }}" data-streams="{{ st.streams | join(' ') }}"><td><span class="swatch" style="background:{{ st.colour }}"></span></td><td>#{{ st.id }}</td><td>{{ st.name }}</td><td>{{ st.unit | upper }}</td><td>{{ st.units }}</td><td>{{ st.streams | join(', ') }}</td></tr>
{% endfor %}
</tbody></table></div>
</main>
<script>
const svg = document.querySelector("#map svg");
const rows = new Map([...document.querySelectorAll("tr.stage")].map(r => [r.dataset.stage, r]));
let pinned = null;
function light(stage) {
  document.querySelectorAll(".on").forEach(e => e.classList.remove("on"));
  svg.classList.toggle("dim", stage !== null);
  if (stage === null) return;
  svg.querySelectorAll("rect.s" + stage).forEach(e => e.classList.add("on"));
  const row = rows.get(String(stage));
  if (!row) return;
  row.classList.add("on");
  for (const t of row.dataset.streams.split(" ").filter(Boolean)) {
    svg.querySelectorAll("line.t" + t).forEach(e => e.classList.add("on"));
  }
}
for (const [stage, row] of rows) {
  row.addEventListener("mouseenter", () => light(stage));
  row.addEventListener("mouseleave", () => light(pinned));
  row.addEventListener("click", () => { pinned = pinned === stage ? null : stage; light(pinned); });
}
svg.querySelectorAll("rect.site").forEach(r => {
  if (r.dataset.stage === "-1") return;
  r.addEventListener("mouseenter", () => light(r.dataset.stage));
  r.addEventListener("mouseleave", () => light(pinned));
});
document.getElementById("show-links").addEventListener("change", e => {
  document.getElementById("links").style.display = e.target.checked ? "" : "none";
});
document.getElementById("show-streams").addEventListener("change", e => {
  document.getElementById("streams").style.display = e.target.checked ? "" : "none";
});
document.body.dataset.ready = String(rows.size);
</script>
</body></html>
""")


def placement_svg(bs: Bitstream, chip: ChipSpec, kernel_name: str) -> str:
    """A standalone SVG: the grid, the streams, and each stage listed once under it."""
    p = kernel_picture(bs, chip, kernel_name)
    col_width = 230
    cols = max(1, p.width // col_width)
    extra = 16 + ((len(p.stages) + cols - 1) // cols) * 16
    return SVG.render(p=p, extra=extra, cols=cols, col_width=col_width, hide_links=False, show_title=True)


def placement_html(bs: Bitstream, chip: ChipSpec, kernel_name: str) -> str:
    """A self-contained page (no network): the map, a stage table, hover and highlight."""
    return HTML.render(p=kernel_picture(bs, chip, kernel_name), extra=0, hide_links=True, show_title=False)
