"""Rosters out and back in: CSV (one row per person per day), XLSX (colour grid with cover totals),
iCalendar (one file per person) and PDF (a text grid, written by hand: no extra dependency, no Qt)."""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Optional

from datasets.errors import HospOpsError

from .problem import RosterProblem, RosterSolution

CSV_COLUMNS = ["employee", "name", "day", "date", "shift", "minutes"]
COLOURS = ["FFD966", "9DC3E6", "A9D18E", "F4B183", "C9A0DC", "D9D9D9", "FF9999", "99FFCC"]


def to_csv(problem: RosterProblem, solution: RosterSolution, path: str | Path) -> Path:
    """One row per person per day (``shift`` empty on a day off). UTF-8 with a byte-order mark, which Excel
    needs to read names such as Zoë (without it, and in the locale's encoding, a name outside cp1252 failed the
    export on Windows)."""
    path = Path(path)
    mins = {s.id: s.minutes for s in problem.shifts}
    with open(path, "w", newline="", encoding="utf-8-sig") as fh:
        w = csv.writer(fh)
        w.writerow(CSV_COLUMNS)
        for e in problem.employees:
            for d in range(problem.days):
                s = solution.assignment.get((e.id, d), "")
                dt = problem.date_of(d)
                w.writerow([e.id, e.label, d, dt.isoformat() if dt else "", s, mins.get(s, 0)])
    return path


def _csv_text(raw: bytes) -> str:
    """A CSV file's text: UTF-8 (with or without a byte-order mark), else the Windows code page that Excel's
    "CSV (comma delimited)" saves in."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y", "%d/%m/%y", "%m/%d/%y", "%d.%m.%Y", "%d-%m-%Y")


def _dates_in(text: str) -> set[date]:
    """Every date ``text`` can be read as: ISO, or as Excel re-saves a date (23/11/2026, 11/23/2026, with or
    without a time after it)."""
    head = text.split()[0] if text.split() else ""
    out = set()
    for fmt in DATE_FORMATS:
        try:
            out.add(datetime.strptime(head, fmt).date())
        except ValueError:
            pass
    return out


def from_csv(problem: RosterProblem, path: str | Path) -> RosterSolution:
    """Read a roster written by :func:`to_csv` (checked against ``problem``'s people, days and shifts), also
    once opened and saved again in Excel (its code page, its date format)."""
    try:
        rows = list(csv.DictReader(io.StringIO(_csv_text(Path(path).read_bytes()))))
    except OSError as exc:
        raise HospOpsError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    if not rows or not {"employee", "day", "shift"} <= set(rows[0]):
        raise HospOpsError(f"{path} is not a roster CSV (columns employee, day, shift expected).")
    emps, sids = {e.id for e in problem.employees}, {s.id for s in problem.shifts}
    a = {}
    for i, r in enumerate(rows, start=2):
        e, s = r["employee"], (r["shift"] or "").strip()
        try:
            d = int(r["day"])
        except ValueError:
            raise HospOpsError(f"{path}, line {i}: day {r['day']!r} is not a whole number.") from None
        if e not in emps or not 0 <= d < problem.days or (s and s not in sids):
            what = f"shift {s!r}" if s else "a day off"
            raise HospOpsError(f"{path}, line {i}: {e} / day {d} / {what} is not part of this roster.")
        when, mine = (r.get("date") or "").strip(), problem.date_of(d)
        if when and mine is not None and mine not in _dates_in(when):
            raise HospOpsError(f"{path}, line {i}: day {d} is {when} in the file but {mine.isoformat()} in this "
                               f"roster, which starts on {problem.start.isoformat()}.",
                               "Was the file exported for another start date? Give that start date.")
        if s:
            a[(e, d)] = s
    return RosterSolution(a, status="FEASIBLE")


def cover_totals(problem: RosterProblem, solution: RosterSolution) -> dict[tuple[str, int], int]:
    out: dict[tuple[str, int], int] = {}
    for (e, d), s in solution.assignment.items():
        out[(s, d)] = out.get((s, d), 0) + 1
    return out


def to_xlsx(problem: RosterProblem, solution: RosterSolution, path: str | Path) -> Path:
    """A grid (people × days), one colour per shift type, staffed-count rows per shift at the bottom."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    path = Path(path)
    wb = Workbook()
    ws = wb.active
    ws.title = "Roster"
    ws.cell(1, 1, "Name").font = Font(bold=True)
    ws.cell(1, 2, "Id").font = Font(bold=True)
    for d in range(problem.days):
        c = ws.cell(1, 3 + d, problem.day_label(d))
        c.font, c.alignment = Font(bold=True), Alignment(text_rotation=90)
    fills = {s.id: PatternFill("solid", fgColor=COLOURS[i % len(COLOURS)]) for i, s in enumerate(problem.shifts)}
    for r, e in enumerate(problem.employees, start=2):
        ws.cell(r, 1, e.label)
        ws.cell(r, 2, e.id)
        for d in range(problem.days):
            s = solution.assignment.get((e.id, d))
            if s:
                c = ws.cell(r, 3 + d, s)
                c.fill, c.alignment = fills[s], Alignment(horizontal="center")
            elif d in problem.days_off.get(e.id, ()):
                ws.cell(r, 3 + d, "lv")
    totals = cover_totals(problem, solution)
    base = len(problem.employees) + 3
    ws.cell(base - 1, 1, "Staffed per shift").font = Font(bold=True)
    for i, s in enumerate(problem.shifts):
        ws.cell(base + i, 1, s.name or s.id).fill = fills[s.id]
        ws.cell(base + i, 2, s.id)
        for d in range(problem.days):
            ws.cell(base + i, 3 + d, totals.get((s.id, d), 0))
    ws.column_dimensions["A"].width = 22
    ws.freeze_panes = "C2"
    wb.save(path)
    return path


def to_ics(problem: RosterProblem, solution: RosterSolution, folder: str | Path,
           timezone: str | None = None) -> list[Path]:
    """One iCalendar file per person with their shifts (needs a dated problem and shift start times).

    ``timezone`` (the workspace's, e.g. Europe/London): shift times carry it (TZID, with its VTIMEZONE), so a
    phone set to another zone still shows the ward's hours; without it they are floating local times."""
    from datetime import timezone as dt_timezone
    from zoneinfo import ZoneInfo

    from icalendar import Calendar, Event

    zone = ZoneInfo(timezone) if timezone else None
    stamp = datetime.now(dt_timezone.utc).replace(microsecond=0)

    if problem.start is None:
        raise HospOpsError("Calendar files need a dated roster (this one has day numbers only).")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for e in problem.employees:
        cal = Calendar()
        cal.add("prodid", "-//HospOps//roster//EN")
        cal.add("version", "2.0")
        for d in range(problem.days):
            sid = solution.assignment.get((e.id, d))
            if not sid:
                continue
            s = problem.shift(sid)
            begin = datetime.combine(problem.date_of(d), datetime.min.time()) + timedelta(minutes=s.start_minute or 0)
            if zone is not None:
                begin = begin.replace(tzinfo=zone)
            ev = Event()
            ev.add("uid", f"{e.id}-{problem.date_of(d).isoformat()}-{sid}@hospops")
            ev.add("summary", f"{s.name or sid} shift" + (f" ({problem.unit})" if problem.unit else ""))
            ev.add("dtstart", begin)
            ev.add("dtend", begin + timedelta(minutes=s.minutes))
            ev.add("dtstamp", stamp)
            cal.add_component(ev)
        if zone is not None and hasattr(cal, "add_missing_timezones"):
            cal.add_missing_timezones()
        p = folder / f"{e.id}.ics"
        p.write_bytes(cal.to_ical())
        out.append(p)
    return out


# ------------------------------------------------------------------------------- a tiny PDF writer
_PDF_ASCII = str.maketrans({"\u2013": "-", "\u2014": "-", "\u2192": "->", "\u2018": "'", "\u2019": "'",
                            "\u201c": '"', "\u201d": '"', "\u2026": "..."})


def _pdf_escape(text: str) -> str:
    # Courier in WinAnsi has no dashes or arrows: write their plain forms instead of '?'
    text = text.translate(_PDF_ASCII).encode("latin-1", "replace").decode("latin-1")
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def write_text_pdf(pages: list[list[str]], path: str | Path, font_size: float = 7.0,
                   landscape: bool = True) -> Path:
    """Write pages of monospaced text lines as a PDF (Courier, one of the 14 standard fonts)."""
    w, h = (842, 595) if landscape else (595, 842)
    objs: list[bytes] = []

    def add(body: bytes) -> int:
        objs.append(body)
        return len(objs)

    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Courier /Encoding /WinAnsiEncoding >>")
    pages_id = len(objs) + 1 + 2 * len(pages) + 1  # placeholder, fixed below
    page_ids = []
    kids_refs = []
    content_objs = []
    for lines in pages:
        ops = [f"BT /F1 {font_size} Tf {font_size * 1.2:.1f} TL 28 {h - 30} Td"]
        for ln in lines:
            ops.append(f"({_pdf_escape(ln)}) '")
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        content_objs.append(add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"))
    pages_id = len(objs) + len(pages) + 1
    for c in content_objs:
        page_ids.append(add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %d %d] /Contents %d 0 R "
                            b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (pages_id, w, h, c, font)))
    kids_refs = " ".join(f"{i} 0 R" for i in page_ids).encode()
    assert add(b"<< /Type /Pages /Kids [" + kids_refs + b"] /Count %d >>" % len(page_ids)) == pages_id
    catalog = add(b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id)
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, catalog, xref)
    Path(path).write_bytes(bytes(out))
    return Path(path)


def to_pdf(problem: RosterProblem, solution: RosterSolution, path: str | Path, days_per_page: int = 28,
           rows_per_page: int = 60) -> Path:
    """The roster as a printable text grid, split across pages by weeks and by people."""
    name_w = min(max((len(e.label) for e in problem.employees), default=4), 20)
    cell = max(max((len(s.id) for s in problem.shifts), default=1), 2) + 1
    pages = []
    for d0 in range(0, problem.days, days_per_page):
        ds = range(d0, min(problem.days, d0 + days_per_page))
        head = " " * (name_w + 1) + "".join(
            (problem.date_of(d).strftime("%d") if problem.start else str(d)).rjust(cell) for d in ds)
        wk = " " * (name_w + 1) + "".join(
            ((problem.date_of(d).strftime("%a")[:cell - 1]) if problem.start else "").rjust(cell) for d in ds)
        title = f"Roster {problem.unit or problem.name}: {problem.day_label(ds[0])} to {problem.day_label(ds[-1])}"
        body = []
        for e in problem.employees:
            body.append(e.label[:name_w].ljust(name_w + 1) + "".join(
                (solution.assignment.get((e.id, d)) or ("lv" if d in problem.days_off.get(e.id, ()) else "."))
                .rjust(cell) for d in ds))
        totals = cover_totals(problem, solution)
        foot = [""] + [f"{s.id:<{name_w}} " + "".join(str(totals.get((s.id, d), 0)).rjust(cell) for d in ds)
                       for s in problem.shifts]
        for r0 in range(0, max(len(body), 1), rows_per_page):
            pages.append([title, "", head, wk] + body[r0:r0 + rows_per_page] + foot)
    return write_text_pdf(pages, path)
