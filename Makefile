# The README's two commands:
#   make demo   set up, build the demo hospital workspace, show what is in it, and open the app on it
#               (with no display: render the Overview page to demo-overview.png instead)
#   make test   set up and run the whole test suite, then build the bundle and smoke-test it (what CI runs;
#               SKIP_BUNDLE=1 make test skips the bundle for a quicker local run)
WS ?= demo.hospops

.PHONY: setup demo app test bundle lint bench-quick

setup:
	bash .ci/setup.sh

demo: setup
	test -f $(WS) || .venv/bin/hospops demo $(WS)
	.venv/bin/hospops info $(WS)
	.venv/bin/hospops query $(WS) "SELECT unit_id, round(avg(occupancy) * 100, 1) AS mean_occupancy_pct FROM occupancy_daily GROUP BY unit_id ORDER BY unit_id"
	$(MAKE) --no-print-directory app

app:
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ]; then .venv/bin/hospops app $(WS); \
	else QT_QPA_PLATFORM=offscreen .venv/bin/hospops app $(WS) --screenshot demo-overview.png --page overview \
	  && echo "No display here: rendered the app's Overview page to demo-overview.png (run 'make app' on a desktop to open it)."; fi

test: setup
	.venv/bin/lint-imports
	QT_QPA_PLATFORM=offscreen .venv/bin/python -m pytest -q
	@if [ -z "$$SKIP_BUNDLE" ]; then $(MAKE) --no-print-directory bundle; \
	else echo "SKIP_BUNDLE set: not building the PyInstaller bundle"; fi

# The PyInstaller bundle (dist/HospOps), then its smoke workflow with no Python on PATH (CI runs both).
bundle: setup
	bash packaging/build.sh
	bash packaging/smoke.sh dist/HospOps

bench-quick: setup
	for b in benchmarks/*.py; do .venv/bin/python $$b --quick --json || exit 1; done
