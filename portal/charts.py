"""Server-rendered SVG bar charts: no script, no CDN, readable without colour
(each series also appears in the legend and in each bar's tooltip)."""

from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 560, 180
PAD_LEFT, PAD_BOTTOM, PAD_TOP = 44, 22, 10


def _nice_max(value: int) -> int:
    if value <= 4:
        return 4
    magnitude = 10 ** (len(str(value)) - 1)
    for step in (1, 2, 2.5, 5, 10):
        top = int(step * magnitude)
        if top >= value:
            return top
    return value


def bar_chart(
    *,
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[int]]],
    stacked: bool,
    label_every: int = 1,
) -> SafeString:
    """`series` is (name, colour, values per label). Stacked bars (one bar per
    label) or grouped bars (one bar per series per label)."""
    count = max(len(labels), 1)
    if stacked:
        peak = max((sum(values[i] for _, _, values in series) for i in range(len(labels))), default=0)
    else:
        peak = max((v for _, _, values in series for v in values), default=0)
    top = _nice_max(peak)
    plot_w, plot_h = WIDTH - PAD_LEFT - 4, HEIGHT - PAD_BOTTOM - PAD_TOP
    slot = plot_w / count
    parts = [
        f'<svg class="ts-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    for fraction in (0, 0.5, 1):
        y = PAD_TOP + plot_h * (1 - fraction)
        parts.append(
            f'<line x1="{PAD_LEFT}" y1="{y:.1f}" x2="{WIDTH - 4}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{PAD_LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" class="axis">{int(top * fraction)}</text>'
        )
    for i, label in enumerate(labels):
        x0 = PAD_LEFT + i * slot
        if stacked:
            bottom = 0
            for name, colour, values in series:
                value = values[i]
                if value:
                    h = plot_h * value / top
                    y = PAD_TOP + plot_h * (1 - (bottom + value) / top)
                    parts.append(
                        f'<rect x="{x0 + slot * 0.15:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}" '
                        f'fill="{colour}"><title>{escape(label)}: {value} {escape(name)}</title></rect>'
                    )
                bottom += value
        else:
            width = slot * 0.8 / max(len(series), 1)
            for j, (name, colour, values) in enumerate(series):
                value = values[i]
                h = plot_h * value / top
                parts.append(
                    f'<rect x="{x0 + slot * 0.1 + j * width:.1f}" y="{PAD_TOP + plot_h - h:.1f}" width="{width:.1f}" '
                    f'height="{h:.1f}" fill="{colour}"><title>{escape(label)}: {value} {escape(name)}</title></rect>'
                )
        if (len(labels) - 1 - i) % label_every == 0:  # always label the latest
            last = i == len(labels) - 1 and slot < 40
            x, anchor = (WIDTH - 4, "end") if last else (x0 + slot / 2, "middle")
            parts.append(
                f'<text x="{x:.1f}" y="{HEIGHT - 6}" text-anchor="{anchor}" class="axis">{escape(label)}</text>'
            )
    parts.append("</svg>")
    legend = "".join(
        f'<span class="ts-legend-item"><span class="ts-swatch" style="background:{colour}"></span>{escape(name)}</span>'
        for name, colour, _ in series
    )
    # Every interpolated text above is escaped; the rest is markup built here.
    return mark_safe(  # noqa: S308
        f'<figure class="ts-figure">{"".join(parts)}<figcaption>{escape(title)} {legend}</figcaption></figure>'
    )
