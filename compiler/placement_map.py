"""Placement maps: one kernel's stages drawn on the chip's floor plan, as SVG.

Each site is a square (PCU, PMU, AGCU in their own tint); the sites a stage occupies are filled
with that stage's colour, and each stream is a line from its producer's units to its consumers'.
"""

from __future__ import annotations

import colorsys

from jinja2 import Template

from bitstream_format import Bitstream
from chip_model import ChipSpec

CELL = 14
KIND_FILL = {"pcu": "#eef3fb", "pmu": "#f7efe6", "agcu": "#eaf5ea"}

SVG = Template("""<svg xmlns="http://www.w3.org/2000/svg" width="{{ width }}" height="{{ height }}" font-family="monospace" font-size="11">
<rect width="100%" height="100%" fill="white"/>
<text x="4" y="14">{{ title }}</text>
{% for s in sites %}<rect x="{{ s.x }}" y="{{ s.y }}" width="{{ cell - 2 }}" height="{{ cell - 2 }}" fill="{{ s.fill }}" stroke="#bbb" stroke-width="0.5"><title>{{ s.tip }}</title></rect>
{% endfor %}{% for l in lines %}<line x1="{{ l.x1 }}" y1="{{ l.y1 }}" x2="{{ l.x2 }}" y2="{{ l.y2 }}" stroke="#333" stroke-opacity="0.35" stroke-width="1"/>
{% endfor %}{% for k in legend %}<rect x="{{ k.x }}" y="{{ k.y }}" width="10" height="10" fill="{{ k.fill }}"/><text x="{{ k.x + 14 }}" y="{{ k.y + 9 }}">{{ k.text }}</text>
{% endfor %}</svg>
""")


def _colour(i: int, n: int) -> str:
    r, g, b = colorsys.hsv_to_rgb((i * 0.61803) % 1.0, 0.65, 0.85)
    return f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}"


def placement_svg(bs: Bitstream, chip: ChipSpec, kernel_name: str) -> str:
    kernel = next((k for k in bs.kernels if k.name == kernel_name), None)
    if kernel is None:
        names = ", ".join(k.name for k in bs.kernels[:6])
        raise KeyError(f"no kernel named {kernel_name!r} (kernels: {names}{', ...' if len(bs.kernels) > 6 else ''})")
    top = 24
    owner: dict[tuple[int, int], tuple[str, str]] = {}
    stages = [bs.stage(sid) for sid in kernel.stages]
    colours = {st.id: _colour(i, len(stages)) for i, st in enumerate(stages)}
    for st in stages:
        for site in st.sites:
            owner[tuple(site)] = (colours[st.id], f"{st.label} ({st.unit})")

    def centre(site: tuple[int, int]) -> tuple[float, float]:
        return site[0] * CELL + CELL / 2, top + site[1] * CELL + CELL / 2

    sites = []
    for s in chip.grid.sites:
        fill, tip = owner.get((s.x, s.y), (KIND_FILL[s.kind], f"{s.kind} ({s.x}, {s.y}) free"))
        sites.append({"x": s.x * CELL, "y": top + s.y * CELL, "fill": fill, "tip": tip})
    lines = []
    for st in stages:
        for sid in st.outputs:
            stream = bs.stream(sid)
            src = centre(tuple(st.sites[0]))
            for dst_id in stream.dsts:
                dst = centre(tuple(bs.stage(dst_id).sites[0]))
                lines.append({"x1": src[0], "y1": src[1], "x2": dst[0], "y2": dst[1]})
    grid_h = top + chip.grid.rows * CELL
    legend = [{"x": 4 + (i % 3) * 260, "y": grid_h + 8 + (i // 3) * 14, "fill": colours[st.id],
               "text": f"{st.opcode} x{len(st.sites)}"} for i, st in enumerate(stages)]
    height = grid_h + 20 + ((len(stages) + 2) // 3) * 14
    width = max(chip.grid.columns * CELL, 790)
    title = f"{kernel.name} on {chip.name}: {len(stages)} stages"
    return SVG.render(width=width, height=height, cell=CELL, sites=sites, lines=lines, legend=legend, title=title)
