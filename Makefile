# The README's two commands:
#   make demo   set up, build the demo hospital workspace and show what is in it (opens the app when a display exists)
#   make test   set up and run the whole test suite (what CI runs)
WS ?= demo.hospops

.PHONY: setup demo test lint bench-quick

setup:
	bash .ci/setup.sh

demo: setup
	test -f $(WS) || .venv/bin/hospops demo $(WS)
	.venv/bin/hospops info $(WS)
	.venv/bin/hospops query $(WS) "SELECT unit_id, round(avg(occupancy) * 100, 1) AS mean_occupancy_pct FROM occupancy_daily GROUP BY unit_id ORDER BY unit_id"

test: setup
	.venv/bin/lint-imports
	QT_QPA_PLATFORM=offscreen .venv/bin/python -m pytest -q

bench-quick: setup
	for b in benchmarks/*.py; do .venv/bin/python $$b --quick --json || exit 1; done
