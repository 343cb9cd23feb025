"""Rendering the shift report: self-contained HTML (inline CSS and SVG) and PDF via WeasyPrint.

Every value is escaped on its way into the page; times are shown in the plant's time zone.
The same HTML is what the browser shows and what WeasyPrint prints (A4, page numbers in the
footer), so the two never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from andon import __version__, mes
from andon.web.report import ShiftReport, StopRow

__all__ = ["render_html", "render_pdf"]

_CSS = """
@page { size: A4; margin: 14mm 12mm 16mm;
  @bottom-right { content: "page " counter(page) " of " counter(pages); font-size: 8pt; }
  @bottom-left { content: "andon shift report"; font-size: 8pt; color: #666; } }
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 9.5pt; color: #1a1a1a;
  margin: 0 auto; max-width: 60rem; }
h1 { font-size: 16pt; margin: 0 0 2pt; } h2 { font-size: 11pt; margin: 14pt 0 4pt;
  border-bottom: 1px solid #ccc; padding-bottom: 2pt; }
.sub { color: #555; margin: 0 0 8pt; } .note { background: #fff4d6; padding: 4pt 6pt; }
.kpis { display: flex; flex-wrap: wrap; gap: 6pt; margin: 8pt 0; }
.kpi { border: 1px solid #ccc; border-radius: 4pt; padding: 4pt 8pt; min-width: 58pt; }
.kpi .k { font-size: 7.5pt; text-transform: uppercase; color: #666; }
.kpi .v { font-size: 15pt; font-weight: bold; }
table { border-collapse: collapse; width: 100%; margin: 4pt 0; }
th, td { border-bottom: 1px solid #ddd; padding: 2.5pt 4pt; text-align: left; }
th { color: #555; font-weight: 600; } td.n, th.n { text-align: right; }
tr { page-break-inside: avoid; } svg { display: block; margin: 4pt 0; }
footer { margin-top: 14pt; color: #777; font-size: 8pt; }
"""
_BAR = "#3b7dd8"
_LOSS = "#d9534f"


def _pct(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio * 100:.1f} %"


def _num(value: float | int | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def _local(ms: int | None, tz: ZoneInfo) -> str:
    if ms is None:
        return "ongoing"
    return datetime.fromtimestamp(ms / 1000, tz).strftime("%Y-%m-%d %H:%M")


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], numeric: set[int]) -> str:
    def cells(values: Sequence[str], tag: str) -> str:
        return "".join(
            f"<{tag}{' class=n' if i in numeric else ''}>{escape(v)}</{tag}>"
            for i, v in enumerate(values)
        )

    body = "".join(f"<tr>{cells(row, 'td')}</tr>" for row in rows)
    return f"<table><thead><tr>{cells(head, 'th')}</tr></thead><tbody>{body}</tbody></table>"


def _bars(items: Sequence[tuple[str, float]], colour: str, unit: str) -> str:
    """Horizontal bars as inline SVG (no script, prints the same everywhere)."""
    if not items:
        return ""
    width, label_w, row_h = 640, 170, 18
    top = max((v for _, v in items), default=0.0) or 1.0
    rows = []
    for i, (label, value) in enumerate(items):
        y = i * row_h
        length = max(0.0, value) / top * (width - label_w - 70)
        rows.append(
            f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end" font-size="10">'
            f"{escape(label)}</text>"
            f'<rect x="{label_w}" y="{y + 3}" width="{length:.1f}" height="{row_h - 6}" '
            f'fill="{colour}"/>'
            f'<text x="{label_w + length + 4:.1f}" y="{y + 13}" font-size="10">'
            f"{value:,.1f} {escape(unit)}</text>"
        )
    height = len(items) * row_h
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img">{"".join(rows)}</svg>'
    )


def _kpis(total: mes.OeeResult) -> str:
    items = [
        ("OEE", _pct(total.oee)),
        ("Availability", _pct(total.availability)),
        ("Performance", _pct(total.performance)),
        ("Quality", _pct(total.quality)),
        ("TEEP", _pct(total.teep)),
        ("Produced", _num(total.produced)),
        ("Good", _num(total.good)),
        ("Scrap", f"{_num(total.scrap)} ({_pct(total.scrap_ratio)})"),
        ("MTBF", _duration(total.mtbf_s)),
        ("MTTR", _duration(total.mttr_s)),
    ]
    cards = "".join(
        f'<div class="kpi"><div class="k">{escape(k)}</div><div class="v">{escape(v)}</div></div>'
        for k, v in items
    )
    return f'<div class="kpis">{cards}</div>'


def _losses(total: mes.OeeResult) -> str:
    pot = total.pot_s or 0.0
    known = [(b.loss.replace("_", " "), b.seconds) for b in total.waterfall]
    rows = [
        (name, _duration(s), _pct(None if s is None or pot == 0 else s / pot)) for name, s in known
    ]
    chart = _bars([(n, s / 60) for n, s in known if s is not None and s > 0], _LOSS, "min")
    head = ("where the planned time went", "time", "of planned")
    return chart + _table(head, rows, {1, 2})


def _machines(machines: Sequence[mes.OeeResult]) -> str:
    head = ("machine", "OEE", "A", "P", "Q", "produced", "scrap", "downtime", "stops")
    rows = [
        (
            m.asset.rsplit("/", 1)[-1],
            _pct(m.oee),
            _pct(m.availability),
            _pct(m.performance),
            _pct(m.quality),
            _num(m.produced),
            _num(m.scrap),
            _duration(m.downtime_s),
            _num(m.stops),
        )
        for m in machines
    ]
    return _table(head, rows, set(range(1, 9)))


def _stops(stops: Sequence[StopRow], tz: ZoneInfo) -> str:
    if not stops:
        return "<p>No stops in this shift.</p>"
    head = ("machine", "from", "to", "minutes", "state", "reason")
    rows = [
        (
            s.asset.rsplit("/", 1)[-1],
            _local(s.start_ms, tz),
            _local(s.end_ms, tz),
            f"{s.seconds / 60:.1f}",
            s.state.replace("_", " "),
            s.reasons,
        )
        for s in stops
    ]
    return _table(head, rows, {3})


def _pareto(report: ShiftReport) -> str:
    if not report.pareto:
        return "<p>No downtime in this shift.</p>"
    top = report.pareto[:12]
    chart = _bars([(r.reason, r.seconds / 60) for r in top], _BAR, "min")
    rows = [(r.reason, _num(r.stops), f"{r.seconds / 60:.1f}") for r in top]
    return chart + _table(("reason", "stops", "minutes"), rows, {1, 2})


def render_html(report: ShiftReport) -> str:
    """The report as one self-contained HTML document."""
    tz = ZoneInfo(report.timezone)
    span = f"{_local(report.start_ms, tz)} to {_local(report.end_ms, tz)} ({report.timezone})"
    notes = "".join(f'<p class="note">{escape(n)}</p>' for n in report.notes)
    title = f"Shift report {report.shift} · {report.asset}"
    counts = f"{report.stops} stops, {report.micro_stops} micro-stops"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<style>{_CSS}</style></head>
<body>
<h1>Shift {escape(report.shift)} · {escape(report.asset)}</h1>
<p class="sub">{escape(span)} · {escape(counts)}</p>
{notes}
{_kpis(report.total)}
<h2>Losses (ISO 22400-2 time model)</h2>
{_losses(report.total)}
<h2>Machines</h2>
{_machines(report.machines)}
<h2>Longest stops</h2>
{_stops(report.top_stops, tz)}
<h2>Downtime by reason</h2>
{_pareto(report)}
<footer>Generated {escape(_local(report.generated_ms, tz))} by andon {escape(__version__)}.
OEE = availability &times; performance &times; quality per ISO 22400-2; a dash is undefined,
never 100 %.
</footer>
</body></html>
"""


def render_pdf(report: ShiftReport) -> bytes:
    """The same page printed to PDF by WeasyPrint (no network: the HTML names no URL)."""
    # Imported here: it loads Pango and fonts (~1 s), only for PDFs. It ships no type hints.
    import weasyprint

    pdf: bytes = weasyprint.HTML(string=render_html(report)).write_pdf()
    return pdf
