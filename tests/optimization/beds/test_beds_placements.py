"""Accepted bed placements: stored in one audited transaction, shown as reserved on the board, taken out of
later allocation problems, refused on occupied/reserved beds and read-only workspaces, cancellable; and the
`hospops beds solve --accept` / `placements` / `cancel` commands."""
from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from datasets.errors import HospOpsError
from datasets.metrics.beds import bed_board, board_summary, waiting_list
from datasets.store import Workspace, list_audit
from optimization.beds import (accept_placements, active_placements, cancel_placement, placements_from_solution,
                               problem_from_workspace, solve, validate)

T = "2026-11-16 08:00"


@pytest.fixture
def wpath(demo_ws, tmp_path):
    """A writable copy of the demo hospital (the session's demo stays read-only for the other tests)."""
    dst = tmp_path / "demo.hospops"
    shutil.copy(demo_ws, dst)
    return dst


def _one_boarder_and_a_free_bed(ws):
    """One waiting patient (an elective at 08:00 on the demo) and the free bed the solver gives them."""
    pr = problem_from_workspace(ws, T, allow_transfers=False)
    pl = placements_from_solution(pr, solve(pr, 3.0))
    assert len(pl) and (pl["from_bed"].isna()).all(), "the demo's waiting patients should get beds at 08:00"
    return pl.iloc[[0]]


def test_accept_reserves_the_bed_and_the_patient_stops_waiting(wpath):
    with Workspace.open(wpath) as ws:
        row = _one_boarder_and_a_free_bed(ws)
        bed, stay = row["bed_id"].iloc[0], row["stay_id"].iloc[0]
        assert bed_board(ws, T).set_index("bed_id").loc[bed, "state"] == "free"
        ids = accept_placements(ws, row, T)
        assert len(ids) == 1
        act = active_placements(ws, T)
        assert list(act["placement_id"]) == ids and act["status"].eq("accepted").all()
        b = bed_board(ws, T).set_index("bed_id").loc[bed]
        assert b["state"] == "reserved" and b["stay_id"] == stay and b["placement_id"] == ids[0]
        assert board_summary(bed_board(ws, T))["reserved"].sum() == 1
        assert waiting_list(ws, T).set_index("stay_id").loc[stay, "reserved_bed"] == bed
        pr = problem_from_workspace(ws, T)
        assert stay not in {p.stay_id for p in pr.patients}
        assert not {b.bed_id: b for b in pr.beds}[bed].available
        v = validate(pr, solve(pr, 3.0))
        assert v.hard_violations == 0
        assert [a for a in list_audit(ws) if a["action"] == "accept bed placement"]
        # before the decision's board time the placement did not exist
        assert active_placements(ws, "2026-11-16 07:00").empty
        # once the patient really moved into a bed (the demo's own movements), the placement is fulfilled
        first_in = ws.sql("SELECT min(in_ts) FROM movements WHERE stay_id = ? AND in_ts > CAST(? AS TIMESTAMP)",
                          [stay, T])[0][0]
        assert active_placements(ws, first_in).empty


def test_a_placement_ends_when_its_patient_leaves_hospital_without_moving(wpath):
    # a review found accepted placements listed (and beds shown reserved) days after their patients went home
    with Workspace.open(wpath) as ws:
        board = bed_board(ws, T)
        occupants = board[board["state"] == "occupied"]
        stay, gone = next(
            (r.stay_id, ws.sql("SELECT discharge_ts FROM stays WHERE stay_id = ?", [r.stay_id])[0][0])
            for r in occupants.itertuples()
            if not ws.sql("""SELECT count(*) FROM movements m JOIN stays s USING (stay_id) WHERE m.stay_id = ?
                             AND m.in_ts > CAST(? AS TIMESTAMP) AND m.in_ts <= s.discharge_ts""", [r.stay_id, T])[0][0]
            and ws.sql("SELECT discharge_ts IS NOT NULL FROM stays WHERE stay_id = ?", [r.stay_id])[0][0])
        me = occupants.set_index("stay_id").loc[stay]
        free = board[(board["state"] == "free") & (board["unit_id"] == me["unit_id"])].iloc[0]
        row = pd.DataFrame([{"patient_id": me["patient_id"], "stay_id": stay, "unit_id": free["unit_id"],
                             "bed_id": free["bed_id"]}])
        [pid] = accept_placements(ws, row, T)
        before = pd.Timestamp(gone) - pd.Timedelta(minutes=1)
        assert list(active_placements(ws, before)["placement_id"]) == [pid]
        assert active_placements(ws, gone).empty
        assert bed_board(ws, gone).set_index("bed_id").loc[free["bed_id"], "state"] != "reserved"


def test_accept_refuses_occupied_reserved_and_read_only(wpath):
    with Workspace.open(wpath) as ws:
        row = _one_boarder_and_a_free_bed(ws)
        board = bed_board(ws, T)
        occ = board[board["state"] == "occupied"].iloc[0]
        bad = row.assign(bed_id=occ["bed_id"], unit_id=occ["unit_id"])
        with pytest.raises(HospOpsError, match="occupied"):
            accept_placements(ws, bad, T)
        assert active_placements(ws, T).empty  # nothing stored
        accept_placements(ws, row, T)
        other = waiting_list(ws, T)
        other = other[other["stay_id"] != row["stay_id"].iloc[0]].iloc[0]
        again = row.assign(patient_id=other["patient_id"], stay_id=other["stay_id"])
        with pytest.raises(HospOpsError, match="already reserved"):
            accept_placements(ws, again, T)
        with pytest.raises(HospOpsError, match="column"):
            accept_placements(ws, row.drop(columns=["bed_id"]), T)
    with Workspace.open(wpath, read_only=True) as ws:
        with pytest.raises(HospOpsError, match="read-only"):
            accept_placements(ws, row, T)


def test_cancel_frees_the_bed(wpath):
    with Workspace.open(wpath) as ws:
        row = _one_boarder_and_a_free_bed(ws)
        (pid,) = accept_placements(ws, row, T)
        cancel_placement(ws, pid)
        assert active_placements(ws, T).empty
        assert bed_board(ws, T).set_index("bed_id").loc[row["bed_id"].iloc[0], "state"] == "free"
        assert ws.sql("SELECT status FROM bed_placements WHERE placement_id = ?", [pid])[0][0] == "cancelled"
        assert [a for a in list_audit(ws) if a["action"] == "cancel bed placement"]
        with pytest.raises(HospOpsError, match="already cancelled"):
            cancel_placement(ws, pid)
        with pytest.raises(HospOpsError, match="no placement"):
            cancel_placement(ws, "nope")


def test_transfer_out_of_an_occupied_bed_may_be_accepted_with_its_occupant_move(wpath):
    """A proposal that moves a current patient and puts someone into the bed they leave is accepted whole."""
    with Workspace.open(wpath) as ws:
        board = bed_board(ws, T)
        occ = board[board["state"] == "occupied"].iloc[0]
        free = board[(board["state"] == "free")].iloc[0]
        wl = waiting_list(ws, T).iloc[0]
        pl = pd.DataFrame([
            {"patient_id": occ["patient_id"], "stay_id": occ["stay_id"], "unit_id": free["unit_id"],
             "bed_id": free["bed_id"]},
            {"patient_id": wl["patient_id"], "stay_id": wl["stay_id"], "unit_id": occ["unit_id"],
             "bed_id": occ["bed_id"]},
        ])
        move, into = accept_placements(ws, pl, T)
        # cancelling the move cancels the placement into the bed it was to free (it kept that occupied bed
        # reserved); cancelling the placement into it alone leaves the move
        assert cancel_placement(ws, move) == [move, into]
        assert active_placements(ws, T).empty
        move, into = accept_placements(ws, pl, T)
        assert cancel_placement(ws, into) == [into]
        assert list(active_placements(ws, T)["placement_id"]) == [move]


def _run(capsys, *argv):
    from desktop.cli import main

    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_cli_propose_accept_list_and_cancel(wpath, capsys):
    rc, out, _ = _run(capsys, "beds", "propose", str(wpath), "--at", T, "--time-limit", "3", "--accept", "--json")
    d = json.loads(out)
    assert rc == 0 and d["hard_violations"] == 0 and len(d["accepted"]) == len(d["placements"]) > 0
    rc, out, _ = _run(capsys, "beds", "placements", str(wpath), "--at", T, "--json")
    listed = json.loads(out)["placements"]
    assert rc == 0 and {p["placement_id"] for p in listed} == set(d["accepted"])
    rc, out, _ = _run(capsys, "beds", "board", str(wpath), "--at", T, "--json")
    board = json.loads(out)
    # a bed left by a patient the proposal moves stays 'occupied' until they go; the others are 'reserved'
    occupied_now = {b["bed_id"] for b in board["beds"] if b["state"] == "occupied"}
    assert sum(u["reserved"] for u in board["units"]) == sum(1 for p in listed if p["bed_id"] not in occupied_now)
    rc, out, _ = _run(capsys, "beds", "cancel", str(wpath), d["accepted"][0])
    assert rc == 0 and "cancelled" in out
    rc, out, _ = _run(capsys, "beds", "placements", str(wpath), "--at", T)
    assert rc == 0 and f"{len(listed) - 1}" in out.splitlines()[0]
    # a second proposal at the same time leaves the reserved beds and their patients alone
    rc, out, _ = _run(capsys, "beds", "solve", str(wpath), "--at", T, "--time-limit", "3", "--json")
    d2 = json.loads(out)
    reserved_beds = {p["bed_id"] for p in listed if p["placement_id"] != d["accepted"][0]}
    assert rc == 0 and not reserved_beds & {p["bed"] for p in d2["placements"]}


def test_cli_propose_names_patients_as_the_board_does_and_says_why_a_placement_costs(wpath, capsys):
    rc, out, _ = _run(capsys, "beds", "propose", str(wpath), "--at", T, "--time-limit", "3", "--json")
    d = json.loads(out)
    assert rc == 0 and d["placements"]
    for pl in d["placements"]:
        assert pl["note"].startswith("outlier: ") if pl["outlier"] else pl["note"] == ""
    rc, out, _ = _run(capsys, "beds", "propose", str(wpath), "--at", T, "--time-limit", "3")
    lines = out.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("patient "))
    rows = [line.split()[0] for line in lines[head + 2:] if line and not line.startswith("Not placed")]
    board = json.loads(_run(capsys, "beds", "board", str(wpath), "--at", T, "--json")[1])
    persons = {w["patient_id"] for w in board["waiting"]} | {b["patient_id"] for b in board["beds"] if b["patient_id"]}
    assert rows and set(rows) <= persons, "the first column holds the patient ids the board and waiting list show"
    if d["validated_objective"]:
        assert any(line.startswith("cost by rule: ") for line in lines)
