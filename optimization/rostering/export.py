"""Rosters out and back in: CSV (one row per person per day), XLSX (colour grid with cover totals),
iCalendar (one file per person) and PDF (a text grid, written by hand: no extra dependency, no Qt)."""
from __future__ import annotations

import csv
import io
import unicodedata
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Mapping, Optional

from datasets.errors import HospOpsError
from datasets.privacy import neutralize_formula

from .problem import Lock, RosterProblem, RosterSolution, csv_delimiter, decode_text

CSV_COLUMNS = ["employee", "name", "day", "date", "shift", "minutes", "locked"]
#: what a ``locked`` cell of a roster CSV may say for a cell fixed by hand (written "yes")
LOCKED_WORDS = {"yes", "y", "true", "1", "x", "locked"}
COLOURS = ["FFD966", "9DC3E6", "A9D18E", "F4B183", "C9A0DC", "D9D9D9", "FF9999", "99FFCC"]
LEAVE_COLOUR = "EDEDED"  # lighter than the shift greys, so leave reads as "not a shift"
SHORT_COLOUR = "F4A6A6"  # a cover cell below its need


def _text(value: str) -> str:
    """A name, id or label as a spreadsheet cell: a staff name ``=1+2`` (or ``+``, ``-``, ``@``...) would run
    as a formula when the file is opened, so it gets the leading ``'`` every HospOps export gives it."""
    return neutralize_formula(value)


def _long_date(problem: RosterProblem, d: int) -> str:
    """Day ``d`` with its year ("Sun 3 Jan 2027"): a roster over New Year printed "Mon 28 Dec to Sun 03 Jan"."""
    when = problem.date_of(d)
    return f"day {d}" if when is None else f"{when:%a} {when.day} {when:%b %Y}"


def _date_range(problem: RosterProblem, first: int, last: int) -> str:
    return f"{_long_date(problem, first)} to {_long_date(problem, last)}"


def to_csv(problem: RosterProblem, solution: RosterSolution, path: str | Path) -> Path:
    """One row per person per day (``shift`` empty on a day off; ``locked`` "yes" for a cell fixed by hand, so a
    re-roster from the file next week keeps it: the locks lived in the app's memory only). UTF-8 with a
    byte-order mark, which Excel needs to read names such as Zoë (without it, and in the locale's encoding, a
    name outside cp1252 failed the export on Windows). Ids, names and shifts that a spreadsheet would run as
    formulas start with ``'``; :func:`from_csv` reads them back."""
    path = Path(path)
    mins = {s.id: s.minutes for s in problem.shifts}
    locked = {(lk.employee, lk.day) for lk in problem.locks}
    with open(path, "w", newline="", encoding="utf-8-sig") as fh:
        w = csv.writer(fh)
        w.writerow(CSV_COLUMNS)
        for e in problem.employees:
            for d in range(problem.days):
                s = solution.assignment.get((e.id, d), "")
                dt = problem.date_of(d)
                w.writerow([_text(e.id), _text(e.label), d, dt.isoformat() if dt else "", _text(s), mins.get(s, 0),
                            "yes" if (e.id, d) in locked else ""])
    return path


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


def _written_as(ids) -> dict[str, str]:
    """Each id by the text an export writes for it (neutralized), and by itself (a file written by hand);
    the id itself wins where the two meet."""
    out = {neutralize_formula(i): i for i in ids}
    out.update({i: i for i in ids})
    return out


def _who(problem: RosterProblem, eid: str) -> str:
    e = problem.employee(eid)
    return e.id if e.label == e.id else f"{e.label} ({e.id})"


def _csv_rows(path: str | Path) -> tuple[list[str], list[tuple[int, dict]]]:
    """The header and the ``(line, row)`` pairs of a CSV file; a file that is no CSV at all is a
    :class:`HospOpsError` saying where it stops being one."""
    try:
        text = decode_text(Path(path).read_bytes())
    except OSError as exc:
        raise HospOpsError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    nul = text.find("\x00")
    if nul >= 0:  # (a spreadsheet or image saved under .csv: binary, with NUL bytes)
        line = text.count("\n", 0, nul) + 1
        raise HospOpsError(f"{path}, line {line}: binary data, not text; this is not a roster CSV.",
                           "Save the roster from the spreadsheet as CSV (comma or semicolon delimited).")
    # newline="": a carriage return alone (old Mac files, garbage) ends a line instead of failing csv
    first = next(iter(io.StringIO(text, newline="")), "")
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=csv_delimiter(first.rstrip("\r\n")))
    rows = []
    try:
        for r in reader:
            rows.append((reader.line_num, r))
    except csv.Error as exc:
        raise HospOpsError(f"{path}, line {reader.line_num}: not readable as CSV ({exc}); this is not a "
                           "roster CSV.") from None
    return list(reader.fieldnames or []), rows


def from_csv(problem: RosterProblem, path: str | Path) -> RosterSolution:
    """Read a roster written by :func:`to_csv` (checked against ``problem``'s people, days and shifts), also
    once opened and saved again in Excel (its code page, its date format, a semicolon as the delimiter).

    Refused: a row short of fields, two rows for one person and day with different shifts, and a file with
    no rows at all for someone on the roster (read as is, they would be off every day and re-rostered so)."""
    return read_roster_csv(problem, path)[0]


def read_roster_csv(problem: RosterProblem, path: str | Path) -> tuple[RosterSolution, tuple[Lock, ...]]:
    """:func:`from_csv`'s roster and the cells its ``locked`` column marks (a file without the column, or
    written before it existed, has none)."""
    header, rows = _csv_rows(path)
    if not {"employee", "day", "shift"} <= set(header):
        raise HospOpsError(f"{path}, line 1: no columns employee, day and shift, so this is not a roster CSV.")
    if not rows:
        raise HospOpsError(f"{path} has the columns of a roster CSV but no rows.")
    emps, sids = {e.id for e in problem.employees}, {s.id for s in problem.shifts}
    # match on ids as exported (an id "=N1" is written "'=N1"), not on names, which need not be unique
    emp_of, shift_of = _written_as(emps), _written_as(sids)
    fold: dict[str, list[str]] = {}
    for sid in sids:
        fold.setdefault(sid.lower(), []).append(sid)
    a: dict[tuple[str, int], str] = {}
    locks: dict[tuple[str, int], Optional[str]] = {}
    seen: dict[tuple[str, int], tuple[int, str]] = {}
    for i, r in rows:
        cut = [k for k in header if r.get(k) is None and k != "locked"]  # (a row typed in without the last, optional)
        if cut:  # (csv fills a short row with None: a line cut off, or fields lost in an edit)
            have = sum(r.get(k) is not None for k in header)
            raise HospOpsError(f"{path}, line {i} has {have} fields where the header has {len(header)}: no "
                               f"{', '.join(cut)}.")
        if any((v or "").strip() for v in r.get(None) or ()):
            raise HospOpsError(f"{path}, line {i} has {len(header) + len(r[None])} fields where the header has "
                               f"{len(header)}: is a name split by an unquoted delimiter?")
        if not any(v.strip() for k, v in r.items() if k is not None):
            continue  # (Excel saves rows of empty cells that were once formatted as rows of delimiters)
        raw, s_raw = r["employee"], r["shift"].strip()
        e, s = emp_of.get(raw, raw), shift_of.get(s_raw, s_raw)
        if s and s not in sids and len(fold.get(s.lower(), ())) == 1:  # "l" typed for L in Excel, as --lock takes it
            s = fold[s.lower()][0]
        try:
            d = int(r["day"])
        except ValueError:
            raise HospOpsError(f"{path}, line {i}: day {r['day']!r} is not a whole number.") from None
        if e not in emps or not 0 <= d < problem.days or (s and s not in sids):
            what = f"shift {s_raw!r}" if s else "a day off"
            raise HospOpsError(f"{path}, line {i}: {raw} / day {d} / {what} is not part of this roster.")
        when, mine = (r.get("date") or "").strip(), problem.date_of(d)
        if when and mine is not None and mine not in _dates_in(when):
            raise HospOpsError(f"{path}, line {i}: day {d} is {when} in the file but {mine.isoformat()} in this "
                               f"roster, which starts on {problem.start.isoformat()}.",
                               "Was the file exported for another start date? Give that start date.")
        if (e, d) in seen and seen[(e, d)][1] != s:
            j, other = seen[(e, d)]
            day = f"day {d}" + (f" ({mine.isoformat()})" if mine else "")
            raise HospOpsError(f"{path}, lines {j} and {i} both give {_who(problem, e)} on {day}: "
                               f"{other or 'off'} and {s or 'off'}. Which one is the roster?",
                               "Delete the row that is wrong and read the file again.")
        seen[(e, d)] = (i, s)
        if s:
            a[(e, d)] = s
        if (r.get("locked") or "").strip().lower() in LOCKED_WORDS:
            locks[(e, d)] = s or None
    people = {e for e, _ in seen}
    missing = [x.id for x in problem.employees if x.id not in people]
    if missing:
        names = ", ".join(_who(problem, x) for x in missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise HospOpsError(f"{path} has no rows for {names}: read as it is, the roster would have them off every "
                           "day, and a re-roster would fill their shifts.",
                           "Put their rows back (a day off is a row with an empty shift), or take them off "
                           "this roster first.")
    return RosterSolution(a, status="FEASIBLE"), tuple(Lock(e, d, s) for (e, d), s in sorted(locks.items()))


def cover_totals(problem: RosterProblem, solution: RosterSolution) -> dict[tuple[str, int], int]:
    out: dict[tuple[str, int], int] = {}
    for (e, d), s in solution.assignment.items():
        out[(s, d)] = out.get((s, d), 0) + 1
    return out


def to_xlsx(problem: RosterProblem, solution: RosterSolution, path: str | Path) -> Path:
    """A grid (people × days), one colour per shift type, leave in light grey, each person's rostered,
    contracted and difference hours after the days (where contracts are known), staffed-count rows per shift at
    the bottom. Header cells stay short ("Mon 28 Dec"); their comment and the printed page header carry the
    year. Names, ids and shift labels are text cells, never formulas."""
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    def text(row: int, col: int, value: str):
        c = ws.cell(row, col)
        c.value = _text(value)
        c.data_type = "s"  # (openpyxl stores any text starting with "=" as a formula)
        return c

    path = Path(path)
    wb = Workbook()
    ws = wb.active
    ws.title = "Roster"
    ws.cell(1, 1, "Name").font = Font(bold=True)
    ws.cell(1, 2, "Id").font = Font(bold=True)
    for d in range(problem.days):
        c = ws.cell(1, 3 + d, problem.day_label(d))
        c.font, c.alignment = Font(bold=True), Alignment(text_rotation=90)
        if problem.start is not None:
            c.comment = Comment(_long_date(problem, d), "HospOps")
    ws.oddHeader.center.text = f"Roster {problem.unit or problem.name}: {_date_range(problem, 0, problem.days - 1)}"
    fills = {s.id: PatternFill("solid", fgColor=COLOURS[i % len(COLOURS)]) for i, s in enumerate(problem.shifts)}
    leave = PatternFill("solid", fgColor=LEAVE_COLOUR)
    for r, e in enumerate(problem.employees, start=2):
        text(r, 1, e.label)
        text(r, 2, e.id)
        for d in range(problem.days):
            s = solution.assignment.get((e.id, d))
            if s:
                c = text(r, 3 + d, s)
                c.fill, c.alignment = fills[s], Alignment(horizontal="center")
            elif d in problem.days_off.get(e.id, ()):
                c = ws.cell(r, 3 + d, "lv")
                c.fill, c.alignment = leave, Alignment(horizontal="center")
    if any(e.contract_minutes is not None for e in problem.employees):  # hours against the contract, as numbers
        from .validate import hours_table

        col = 3 + problem.days
        for j, name in enumerate(("Rostered h", "Contracted h", "Difference h")):
            ws.cell(1, col + j, name).font = Font(bold=True)
        for r, h in enumerate(hours_table(problem, solution).itertuples(), start=2):
            for j, v in enumerate((h.rostered_h, h.contracted_h, h.difference_h)):
                ws.cell(r, col + j, None if v != v else float(v))  # (NaN: no contract, an empty cell)
    totals = cover_totals(problem, solution)
    base = len(problem.employees) + 3
    ws.cell(base - 1, 1, "Staffed per shift").font = Font(bold=True)
    for i, s in enumerate(problem.shifts):
        text(base + i, 1, s.name or s.id).fill = fills[s.id]
        text(base + i, 2, s.id)
        for d in range(problem.days):
            ws.cell(base + i, 3 + d, totals.get((s.id, d), 0))
    # cover against need, per shift and skill ("L charge 0/1"): what a ward manager checks on the sheet pinned up.
    # The all-roles totals above read 3 for a Late with no registered nurse and no nurse in charge
    rows = cover_need_rows(problem, solution)
    if rows:
        top = base + len(problem.shifts) + 1
        short = PatternFill("solid", fgColor=SHORT_COLOUR)
        ws.cell(top, 1, "Cover: rostered / needed (short in red)").font = Font(bold=True)
        for i, (label, shift, cells) in enumerate(rows, start=1):
            text(top + i, 1, label).fill = fills[shift]
            for d, (have, need) in cells.items():
                c = text(top + i, 3 + d, f"{have}/{need}")  # text: Excel turns 6/2 typed as a number into a date
                c.alignment = Alignment(horizontal="center")
                if have < need:
                    c.fill = short
    ws.column_dimensions["A"].width = 22
    for d in range(problem.days):
        ws.column_dimensions[get_column_letter(3 + d)].width = 5
    ws.freeze_panes = "C2"
    # printed as the pinned-up sheet: landscape, the whole width on one page, names and dates on every page
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.print_title_rows, ws.print_title_cols = "1:1", "A:B"
    wb.save(path)
    return path


def cover_need_rows(problem: RosterProblem, solution: RosterSolution) -> list[tuple[str, str, dict]]:
    """Cover against need, one row per shift and skill in the order the cover first names them: ``(label, shift,
    {day: (rostered, needed)})``, needed being the requirement (or the hard minimum, when higher)."""
    from .construct import rostered_per_cover

    rows: dict[tuple[str, Optional[str]], dict] = {}
    for c, have in zip(problem.cover, rostered_per_cover(problem, solution.assignment)):
        rows.setdefault((c.shift, c.skill), {})[c.day] = (have, max(c.requirement, c.hard_min))
    return [(f"{shift}{' ' + skill if skill else ''}", shift, cells) for (shift, skill), cells in rows.items()]


#: SEQUENCE counts seconds from here: it grows with each export without a record of the last one, and stays
#: within the 32-bit integer that RFC 5545 allows until 2088
_SEQUENCE_EPOCH = datetime(2020, 1, 1)


def to_ics(problem: RosterProblem, solution: RosterSolution, folder: str | Path,
           timezone: str | None = None, *,
           published: RosterSolution | Mapping[tuple[str, int], str] | None = None) -> list[Path]:
    """One iCalendar file per person with their shifts (needs a dated problem and shift start times).

    ``timezone`` (the workspace's, e.g. Europe/London): shift times carry it (TZID, with its VTIMEZONE), so a
    phone set to another zone still shows the ward's hours; without it they are floating local times.

    Each event's UID names the person and the day, not the shift: a calendar that imports the file of a
    re-roster replaces a changed shift (its SEQUENCE and DTSTAMP are newer) instead of showing both.
    ``published`` (the roster these people already have in their calendars): each of its shifts that the new
    roster takes away, with no shift that day, is written as a cancelled event (STATUS:CANCELLED, same UID),
    so that it leaves their calendars too; someone in ``published`` who is no longer on the roster gets a file
    of cancellations."""
    from datetime import timezone as dt_timezone
    from zoneinfo import ZoneInfo

    from icalendar import Calendar, Event

    zone = ZoneInfo(timezone) if timezone else None
    stamp = datetime.now(dt_timezone.utc).replace(microsecond=0)
    sequence = int((stamp.replace(tzinfo=None) - _SEQUENCE_EPOCH).total_seconds())

    if problem.start is None:
        raise HospOpsError("Calendar files need a dated roster (this one has day numbers only).")
    old = dict(getattr(published, "assignment", published) or {})
    sids = {s.id for s in problem.shifts}
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)

    def event(eid: str, d: int, sid: str, cancelled: bool) -> Event:
        ev = Event()
        ev.add("uid", f"{eid}-{problem.date_of(d).isoformat()}@hospops")
        what = f"{problem.shift(sid).name or sid} shift" if sid in sids else f"{sid} shift"
        ev.add("summary", ("Cancelled: " if cancelled else "") + what + (f" ({problem.unit})" if problem.unit else ""))
        if sid in sids:
            s = problem.shift(sid)
            begin = datetime.combine(problem.date_of(d), datetime.min.time()) + timedelta(minutes=s.start_minute or 0)
            if zone is not None:
                begin = begin.replace(tzinfo=zone)
            ev.add("dtstart", begin)
            ev.add("dtend", begin + timedelta(minutes=s.minutes))
        else:  # (a published shift type this roster no longer has: its hours are unknown, its day is not)
            ev.add("dtstart", problem.date_of(d))
        ev.add("dtstamp", stamp)
        ev.add("last-modified", stamp)
        ev.add("sequence", sequence)
        if cancelled:
            ev.add("status", "CANCELLED")
        return ev

    people = [e.id for e in problem.employees]
    on_roster = set(people)
    people += sorted({e for e, _ in old} - on_roster)
    out = []
    for eid in people:
        cal = Calendar()
        cal.add("prodid", "-//HospOps//roster//EN")
        cal.add("version", "2.0")
        # the calendar's name in the apps that import it (the file is named by staff id, for a mail merge)
        who = problem.employee(eid).label if eid in on_roster else eid
        cal.add("x-wr-calname", f"Roster {problem.unit or problem.name}: {who}")
        if published is not None:
            cal.add("method", "PUBLISH")  # (new and cancelled events in one file: an update, not an invitation)
        for d in range(problem.days):
            sid, was = solution.assignment.get((eid, d)), old.get((eid, d))
            if sid:
                cal.add_component(event(eid, d, sid, cancelled=False))
            elif was:
                cal.add_component(event(eid, d, was, cancelled=True))
        if zone is not None and hasattr(cal, "add_missing_timezones"):
            cal.add_missing_timezones()
        p = folder / f"{eid}.ics"
        p.write_bytes(cal.to_ical())
        out.append(p)
    return out


# ------------------------------------------------------------------------------- a tiny PDF writer
_PDF_ASCII = str.maketrans({"\u2013": "-", "\u2014": "-", "\u2192": "->", "\u2018": "'", "\u2019": "'",
                            "\u201c": '"', "\u201d": '"', "\u2026": "..."})
#: letters that Unicode does not decompose into a base letter and a mark (Ł is not L + a stroke)
_PDF_LETTERS = {"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Ħ": "H", "ħ": "h", "ı": "i",
                "Ŀ": "L", "ŀ": "l", "Ŧ": "T", "ŧ": "t", "Ŋ": "N", "ŋ": "n", "ĸ": "k", "ſ": "s", "Ə": "E",
                "ə": "e", "Ɓ": "B", "ɓ": "b", "Ɗ": "D", "ɗ": "d", "Ƙ": "K", "ƙ": "k", "Ɲ": "N", "ɲ": "n"}


def _encodable(text: str) -> bool:
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def _pdf_char(ch: str) -> str:
    """The closest character(s) to ``ch`` in Windows-1252: ``ch`` itself, else it with its accents taken off
    one at a time (Vietnamese ễ → ê, Polish ą → a), else a plain letter (Ł → L); '?' for anything else."""
    if _encodable(ch):
        return ch
    if ch in _PDF_LETTERS:
        return _PDF_LETTERS[ch]
    parts = unicodedata.normalize("NFKD", ch)
    while parts:
        if _encodable(whole := unicodedata.normalize("NFC", parts)):
            return whole
        if not unicodedata.combining(parts[-1]):
            break
        parts = parts[:-1]
    plain = "".join(c for c in parts if not unicodedata.combining(c))
    return plain if plain and _encodable(plain) else "?"


def _pdf_text(text: str) -> str:
    """``text`` in the characters the PDF's font can show (Windows-1252, as WinAnsiEncoding): letters outside
    it as their closest plain letter ("Łucja Wąs" → "Lucja Was", where it printed "?ucja W?s")."""
    text = text.translate(_PDF_ASCII)
    return text if text.isascii() else "".join(_pdf_char(ch) for ch in text)


def _pdf_escape(text: str) -> str:
    # Courier in WinAnsi has no dashes or arrows: write their plain forms instead of '?'. The result holds one
    # character per WinAnsi byte (Š, Ž, Œ are in it, at 0x8A, 0x8E, 0x8C), for the stream's latin-1 encoding
    text = _pdf_text(text).encode("cp1252", "replace").decode("latin-1")
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


#: what one page of write_text_pdf's defaults holds (A4 landscape, Courier 7 pt: 0.6 em a character, 1.2 em a
#: line, from 30 pt below the top to 20 pt above the bottom, 28 pt from the left to 14 pt from the right)
PDF_LINES_PER_PAGE = int((595 - 30 - 20) / (7.0 * 1.2)) + 1
PDF_CHARS_PER_LINE = int((842 - 28 - 14) / (7.0 * 0.6))


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


def to_pdf(problem: RosterProblem, solution: RosterSolution, path: str | Path, days_per_page: Optional[int] = None,
           rows_per_page: Optional[int] = None) -> Path:
    """The roster as a printable text grid, split across pages by weeks and by people: as many whole weeks as the
    page's width holds (six weeks of a ward fit; the grid was cut at 28 days), as many people as its height
    leaves under the header and above the footer (the staffed count per shift, then cover against need per shift
    and skill with each short cell marked "!"). A 90-person unit printed 60 people a page and lost the footer's
    last rows below the page's edge."""
    # (names in the font's characters before measuring them: "ﬁ" becomes "fi", two columns wide)
    labels = {e.id: _pdf_text(e.label) for e in problem.employees}
    name_w = min(max((len(x) for x in labels.values()), default=4), 20)
    totals = cover_totals(problem, solution)
    needs = cover_need_rows(problem, solution)
    widest = max([len(str(v)) for v in totals.values()] + [len(str(h)) + 1 for _, _, c in needs for h, _ in c.values()]
                 + [len(s.id) for s in problem.shifts] + [2])
    cell = widest + 1
    if days_per_page is None:
        fit = (PDF_CHARS_PER_LINE - name_w - 1) // cell
        days_per_page = max(7, fit - fit % 7) if fit < problem.days else problem.days
    label_w = max([name_w] + [len(label) for label, _, _ in needs])
    pages = []
    for d0 in range(0, problem.days, days_per_page):
        ds = range(d0, min(problem.days, d0 + days_per_page))
        head = " " * (label_w + 1) + "".join(
            (problem.date_of(d).strftime("%d") if problem.start else str(d)).rjust(cell) for d in ds)
        wk = " " * (label_w + 1) + "".join(
            ((problem.date_of(d).strftime("%a")[:cell - 1]) if problem.start else "").rjust(cell) for d in ds)
        title = f"Roster {problem.unit or problem.name}: {_date_range(problem, ds[0], ds[-1])}"
        body = []
        for e in problem.employees:
            body.append(labels[e.id][:name_w].ljust(label_w + 1) + "".join(
                (solution.assignment.get((e.id, d)) or ("lv" if d in problem.days_off.get(e.id, ()) else "."))
                .rjust(cell) for d in ds))
        foot = [""] + [f"{s.id:<{label_w}} " + "".join(str(totals.get((s.id, d), 0)).rjust(cell) for d in ds)
                       for s in problem.shifts]
        if needs:
            foot += ["", "Cover against need (! short):"] + [
                f"{label:<{label_w}} " + "".join(
                    (f"{c[d][0]}{'!' if c[d][0] < c[d][1] else ''}" if d in c else "").rjust(cell) for d in ds)
                for label, _, c in needs]
        per_page = rows_per_page or max(PDF_LINES_PER_PAGE - 4 - len(foot), 10)
        for r0 in range(0, max(len(body), 1), per_page):
            pages.append([title, "", head, wk] + body[r0:r0 + per_page] + foot)
    return write_text_pdf(pages, path)
