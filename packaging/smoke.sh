#!/usr/bin/env bash
# Run the HospOps workflow against a built bundle, with no Python environment on PATH:
#   bash packaging/smoke.sh dist/HospOps
# demo hospital, an import, a Prophet and a statsmodels forecast, a roster solve, a bed allocation, an
# encrypted workspace, and the window rendered offscreen to a PNG. Exits non-zero on the first failure.
set -euo pipefail
BUNDLE=$(cd "${1:-dist/HospOps}" && pwd)
EXE="$BUNDLE/hospops"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# A clean environment: no virtualenv, no PYTHONPATH, no python on PATH.
run() {
  env -i PATH=/usr/bin:/bin HOME="$WORK" LANG=C.UTF-8 QT_QPA_PLATFORM=offscreen TMPDIR="$WORK" \
      HOSPOPS_PASSPHRASE="smoke test passphrase" "$EXE" "$@"
}
step() { echo "== $*"; }
if env -i PATH=/usr/bin:/bin command -v python3 >/dev/null 2>&1; then
  echo "note: a system python3 exists on this machine; the bundle does not use it"
fi

step "version";   run --version
step "demo";      run demo "$WORK/demo.hospops" --days 120 --json
step "import";    printf 'visit_id,patient_id,arrival_ts,departure_ts,acuity\nV1,P1,2026-11-20 08:00,2026-11-20 10:00,3\nV2,P2,not a date,,2\n' > "$WORK/ed.csv"
                  run import "$WORK/new.hospops" "$WORK/ed.csv" --table ed_visits --json | tee "$WORK/import.json"
                  grep -q '"rejected": 1' "$WORK/import.json"
step "forecast (statsmodels)"; run forecast "$WORK/demo.hospops" --series ed_arrivals_daily --horizon 14 --models ets --json > "$WORK/f1.json"
step "forecast (prophet)";     run forecast "$WORK/demo.hospops" --series ed_arrivals_daily --horizon 14 --models prophet --json > "$WORK/f2.json"
                  grep -q '"best": "prophet"' "$WORK/f2.json"
step "roster";    run roster solve "$WORK/demo.hospops" --unit M1 --start 2026-11-23 --days 14 --time-limit 10 --json > "$WORK/r.json"
                  grep -Eq '"status": "(OPTIMAL|FEASIBLE)"' "$WORK/r.json"
step "beds";      run beds solve "$WORK/demo.hospops" --at 2026-11-20T08:00 --time-limit 5 --json > "$WORK/b.json"
                  grep -Eq '"status": "(OPTIMAL|FEASIBLE)"' "$WORK/b.json"
step "encrypted"; run demo "$WORK/enc.hospops" --days 30 --encrypt --json > /dev/null
                  run info "$WORK/enc.hospops" --json > /dev/null
step "window";    run app "$WORK/demo.hospops" --screenshot "$WORK/overview.png" --page overview
                  test -s "$WORK/overview.png"
echo "smoke: all steps passed"
