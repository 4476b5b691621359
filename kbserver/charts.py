"""Small server-rendered SVG line charts for the dashboard: no front-end build, no chart library."""

from __future__ import annotations

from html import escape


def line_chart(points: list[tuple[str, float | None]], title: str, percent: bool = False,
               width: int = 320, height: int = 120) -> str:
    """An inline SVG line chart of (label, value) points; None values leave a gap."""
    pad_l, pad_r, pad_t, pad_b = 34, 8, 22, 18
    values = [v for _, v in points if v is not None]
    top = 1.0 if percent else max(values or [1]) * 1.1 or 1
    inner_w, inner_h = width - pad_l - pad_r, height - pad_t - pad_b
    step = inner_w / max(1, len(points) - 1)

    def xy(i, v):
        return pad_l + i * step, pad_t + inner_h * (1 - v / top)

    segments, current = [], []
    for i, (_, v) in enumerate(points):
        if v is None:
            if current:
                segments.append(current)
            current = []
        else:
            current.append(xy(i, v))
    if current:
        segments.append(current)
    paths = "".join(
        f'<polyline fill="none" stroke="#4051b5" stroke-width="2" points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in seg)}"/>'
        for seg in segments)
    dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2" fill="#4051b5"><title>{escape(points[i][0])}: '
                   f'{_fmt(v, percent)}</title></circle>'
                   for i, (_, v) in enumerate(points) if v is not None for x, y in [xy(i, v)])
    last = next((v for _, v in reversed(points) if v is not None), None)
    first_label = escape(points[0][0][5:]) if points else ""
    last_label = escape(points[-1][0][5:]) if points else ""
    return (f'<svg class="kb-chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">'
            f'<text x="{pad_l}" y="14" font-size="12" fill="#333">{escape(title)}'
            f'{"" if last is None else " · " + _fmt(last, percent)}</text>'
            f'<line x1="{pad_l}" y1="{pad_t + inner_h}" x2="{width - pad_r}" y2="{pad_t + inner_h}" stroke="#ccc"/>'
            f'<text x="2" y="{pad_t + 8}" font-size="10" fill="#777">{_fmt(top, percent)}</text>'
            f'<text x="{pad_l}" y="{height - 4}" font-size="10" fill="#777">{first_label}</text>'
            f'<text x="{width - pad_r}" y="{height - 4}" font-size="10" fill="#777" text-anchor="end">{last_label}</text>'
            f'{paths}{dots}</svg>')


def _fmt(v: float, percent: bool) -> str:
    return f"{v * 100:.0f}%" if percent else f"{v:.0f}"
