"""cover_shortfalls: shifts that will be short whatever the roster, said before anyone blames the solver."""
import dataclasses

from optimization.rostering import cover_shortfalls, cover_surplus, solve, stopped_short_note, validate

from roster_helpers import E8, need, person, tiny


def test_too_few_skilled_hours_are_named_with_the_shifts_that_will_be_short():
    # a charge nurse on every Early for 7 days; the only charge nurse may work 3 shifts (24 h): 4 will be short
    p = tiny(7, [person("A", skills=frozenset({"charge"}), max_minutes=3 * 480), person("B")],
             cover=[need(d, "E", 1, skill="charge") for d in range(7)])
    out = cover_shortfalls(p)
    assert len(out) == 1 and "charge staff" in out[0] and "56 hours" in out[0] and "24 hours" in out[0]
    assert "about 4 shift(s) will be short" in out[0]
    # and the solver indeed leaves exactly that many short: the bound is the truth here
    sol = solve(p, time_limit_s=5)
    assert validate(p, sol).by_rule().get("cover_under") == 4


def test_enough_hours_say_nothing_and_leave_counts_against_capacity():
    cover = [need(d, "E", 1) for d in range(7)]
    assert cover_shortfalls(tiny(7, [person("A"), person("B")], cover=cover)) == []
    # both away 4 of the 7 days: 6 person-days left for 7 shifts
    away = {"A": frozenset(range(4)), "B": frozenset(range(3, 7))}
    out = cover_shortfalls(tiny(7, [person("A"), person("B")], cover=cover, days_off=away))
    assert len(out) == 2 and "about 1 shift(s)" in out[0]
    assert out[1] == "day 3: 1 shift(s) ask for staff, but only 0 of the 2 can work that day (on leave: A, B): " \
                     "1 short whatever the roster."


def test_a_day_or_a_week_with_too_few_people_is_named_though_the_hours_suffice():
    """Every nurse in charge on leave one day, most support workers one week: the hours over the whole roster
    hid both, and the note said a longer search might fill those shifts."""
    charge = [person(f"C{i}", skills=frozenset({"charge"})) for i in range(3)]
    hca = [person(f"H{i}", skills=frozenset({"HCA"})) for i in range(4)]
    cover = [need(d, s, 1, skill="charge") for d in range(14) for s in ("E", "L")]
    cover += [need(d, "E", 3, skill="HCA") for d in range(14)]
    away = {c.id: frozenset({2}) for c in charge} | {h.id: frozenset(range(7, 11)) for h in hca[:2]}
    out = cover_shortfalls(tiny(14, charge + hca, cover=cover, days_off=away))
    assert "day 2: 2 shift(s) ask for charge staff, but only 0 of the 3 can work that day" in out[-1]
    assert out[0].startswith("day 7 to day 10: each day 3 shift(s) ask for HCA staff, but only 2 of the 4")
    assert "(on leave: H0, H1): 1 short whatever the roster." in out[0]


def test_a_search_stopped_with_avoidable_gaps_says_a_longer_one_may_fill_them():
    note = stopped_short_note("FEASIBLE", 26, [])
    assert note and "26 shift(s) still short" in note and "longer search" in note
    assert "when asked" in stopped_short_note("CANCELLED", 3, [])
    # nothing to say: proven optimal, nothing short, or the gaps are the ward's (a counting bound says so)
    assert stopped_short_note("OPTIMAL", 26, []) is None
    assert stopped_short_note("FEASIBLE", 0, []) is None
    assert stopped_short_note("FEASIBLE", 4, ["Ward 7: about 4 shift(s) will be short whatever the roster."]) is None


def test_contracts_far_over_the_cover_are_said_with_the_over_cover_they_force():
    # one Early a day for 7 days (56 h); three people who must each work at least 4 shifts (96 h in all)
    cover = [need(d, "E", 1) for d in range(7)]
    staff = [person(x, min_minutes=4 * 480, max_minutes=5 * 480) for x in "ABC"]
    p = tiny(7, staff, cover=cover, shifts=(E8,))
    note = cover_surplus(p)
    assert note and "at least 96 hours" in note and "about 56" in note and "40 hours over it" in note
    assert "costs least" in note  # a flat price piles them up; a rising one spreads them, and says so
    rising = tiny(7, staff, cover=[dataclasses.replace(c, over_step=5) for c in cover], shifts=(E8,))
    assert "spread over the shifts and days" in cover_surplus(rising)
    assert validate(p, solve(p, time_limit_s=5)).by_rule().get("cover_over", 0) > 0  # more worked than asked
    assert cover_surplus(tiny(7, [person("A", min_minutes=4 * 480)], cover=cover)) is None  # within the cover


def test_weekend_cover_is_weighed_against_the_weekend_rule(demo_ws):
    """The demo's wards: every short shift a weekend's, and the advice was about hours over cover. The weekend
    rule (at most half the weekends) bounds weekend shifts; tight weekends are named, impossible ones counted."""
    import dataclasses
    from datetime import date

    from datasets.store import Workspace
    from optimization.rostering import cover_shortfalls, problem_from_workspace
    from optimization.rostering.explain import weekend_cover, weekend_tight

    with Workspace.open(demo_ws, read_only=True) as ws:
        p = problem_from_workspace(ws, "M5", date(2026, 11, 23), 28)  # four weekends
    everyone = dict((k, (n, cap)) for k, n, cap in weekend_cover(p))["RN"]
    need = sum(c.requirement for c in p.cover if c.skill == "RN" and p.weekday(c.day) >= 5)
    cap = 0
    for e in (x for x in p.employees if "RN" in x.skills):
        free = sorted((sum(d not in p.days_off.get(e.id, ()) for d in b) for b in p.weekend_blocks((5, 6))),
                      reverse=True)
        cap += sum(free[:e.max_weekends])
    assert everyone == (need, cap) and all(e.max_weekends == 2 for e in p.employees)
    # half the staff allowed one weekend: weekend cover cannot be met, and that is said with a count
    fewer = dataclasses.replace(p, employees=tuple(dataclasses.replace(e, max_weekends=1) if i % 2 else e
                                                   for i, e in enumerate(p.employees)))
    lines = [x for x in cover_shortfalls(fewer) if "weekend rule" in x]
    n, c = dict((k, (n, cap)) for k, n, cap in weekend_cover(fewer))["RN"]
    assert c < n and any(f"about {n - c:,} weekend shift(s) will be short whatever the roster" in x for x in lines)
    assert not any("RN staff" in x for x in weekend_tight(fewer))  # (said once, as a shortfall)
    # some room, but little: tight, named with the share
    roomier = dataclasses.replace(p, cover=tuple(dataclasses.replace(c, requirement=max(0, c.requirement - 1))
                                                 if c.skill == "RN" else c for c in p.cover))
    n, c = dict((k, (n, cap)) for k, n, cap in weekend_cover(roomier))["RN"]
    tight = [x for x in weekend_tight(roomier) if "RN staff" in x]
    assert (len(tight) == 1) == (0.85 <= n / c <= 1) and all(f"({n / c:.0%})" in x for x in tight)


def test_two_locks_breaking_the_rest_rule_are_refused_before_solving(demo_ws):
    import dataclasses
    from datetime import date

    from datasets.store import Workspace
    from optimization.rostering import Lock, problem_from_workspace, solve
    from optimization.rostering.explain import precheck

    with Workspace.open(demo_ws, read_only=True) as ws:
        p = problem_from_workspace(ws, "M5", date(2026, 11, 23), 7)
    e = next(x for x in p.employees if not p.days_off.get(x.id) and x.max_shifts.get("N", 1))
    bad = dataclasses.replace(p, locks=(Lock(e.id, 2, "N"), Lock(e.id, 3, "E")))
    said = precheck(bad)
    assert any(f"{e.label} is locked to N on {p.day_label(2)} and to E on {p.day_label(3)}" in x for x in said)
    sol = solve(bad, 5, num_workers=1)
    # refused by the counting checks before any search (the solver's own explanation took 6.5 s on a ward)
    assert sol.status == "INFEASIBLE" and list(sol.conflicts) == said
