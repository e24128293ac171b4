# Set-up and everyday commands. `make demo` and `make test` each work from a fresh clone.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	@echo "==> Creating the virtual environment in $(VENV)/"
	$(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip 2>/dev/null || true
	@echo "==> Installing geomatch, vvol and their dependencies into $(VENV)/ (a few minutes the first time)"
	@$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]' > $(VENV)/install.log 2>&1 \
		|| { cat $(VENV)/install.log; echo "pip install failed: see $(VENV)/install.log"; exit 1; }
	@echo "==> Compiling the kernels of matching, scoring and evidence packs (numba, once per machine: about a minute on 2 cores)"
	@$(PY) -c "import geomatch, vvol, cli; from geomatch.match import _kernels" && $(PY) -m geomatch.scoring.warmup \
		&& $(PY) -m geomatch.evidence.warmup
	@touch $(STAMP)
	@echo "==> Installed. Use the commands as .venv/bin/geomatch and .venv/bin/vvol, or run '. .venv/bin/activate' first."

DEMO := out/demo
BIN := $(VENV)/bin

demo: $(STAMP)
	@echo "==> Running the demo on sample_data/ into $(DEMO)/"
	rm -rf $(DEMO) && mkdir -p $(DEMO)
	$(BIN)/geomatch match --trails sample_data/trails.parquet --crimes sample_data/crimes.csv --out $(DEMO)/match \
		--db sqlite:///$(DEMO)/geomatch.db --evidence --evidence-top 25 --evidence-workers 2 \
		--basemap sample_data/basemap.gpkg
	$(BIN)/geomatch verify $(DEMO)/match
	$(BIN)/geomatch audit --month $$(date +%Y-%m) --out $(DEMO)/audit.xlsx --db sqlite:///$(DEMO)/geomatch.db
	echo "demo-password-2026" | $(BIN)/geomatch users add demo --role supervisor --password-stdin \
		--db sqlite:///$(DEMO)/geomatch.db
	$(BIN)/vvol score --crimes sample_data/vvol/crimes.csv --people sample_data/vvol/people.csv --as-of 2026-10-31 \
		--period 90d --out $(DEMO)/vvol --no-progress
	@echo
	@echo "Demo results in $(DEMO)/:"
	@echo "  match/hits.csv, hits.parquet      hits of the sample week, scored, with reasons"
	@echo "  match/evidence/index.html         evidence packs of the 25 highest-scored hits, on the town's streets"
	@echo "  match/quarantine/                 rows set aside, with reasons; match/manifest.json"
	@echo "  geomatch.db, audit.xlsx           review store and this month's MoJ audit (hits are received today)"
	@echo "  vvol/index.html, vvol/tasking.xlsx  V-VOL tasking pack"
	@echo
	@echo "Review the hits in a browser (user demo, password demo-password-2026), then open http://127.0.0.1:8765/ :"
	@echo "  $(BIN)/geomatch serve --db sqlite:///$(DEMO)/geomatch.db --evidence-dir $(DEMO)/match/evidence"

test: $(STAMP)
	$(PY) -m pytest -q

BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP)
	@echo "==> Installing the benchmarks' baselines (the bench extra: DuckDB)"
	@$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,bench]' 2>&1 | grep -v "is ignored: it is neither" || true
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) out bench_out .pytest_cache
