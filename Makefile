# The two commands a new user runs: `make demo` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint format venv clean

venv: $(STAMP)

# The pinned requirements, then the toolkit itself, editable (benchmarks import it; `handkit` runs it).
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@command -v $(PY) >/dev/null 2>&1 || { echo "Python 3.11 is required (bpy 5.0.1 is built for exactly 3.11): install python3.11, or run make PY=/path/to/python3.11"; exit 1; }
	@$(PY) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' || { echo "$(PY) is Python $$($(PY) -c 'import platform; print(platform.python_version())'), but bpy 5.0.1 needs exactly Python 3.11: run make PY=/path/to/python3.11"; exit 1; }
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet -e .
	touch $(STAMP)

# The whole pipeline on built-in defaults, small enough for a laptop CPU (a few minutes). Reruns resume.
DEMO := out/demo
demo: $(STAMP)
	$(BIN)/python cli.py assets info
	$(BIN)/python cli.py assets preview $(DEMO)/hands.png --resolution 256
	$(BIN)/python cli.py sample-poses --out $(DEMO)/poses.npz --num 16 --copies 4 --iters 40 --seed 0
	$(BIN)/python cli.py render --poses $(DEMO)/poses.npz --out $(DEMO)/renderih --num 8 --resolution 128 --cycles-samples 16
	$(BIN)/python cli.py preview $(DEMO)/renderih --out $(DEMO)/preview.png --num 8 --columns 4
	$(BIN)/python cli.py interhand mini-release --out $(DEMO)/ih_release
	$(BIN)/python cli.py interhand prepare --data_path $(DEMO)/ih_release --out $(DEMO)/interhand --split train
	$(BIN)/python cli.py train --config training/configs/tiny.yaml --data renderih=$(DEMO)/renderih \
		--data interhand=$(DEMO)/interhand --mix renderih:0.5,interhand:0.5 --max-steps 40 --out $(DEMO)/run --device cpu \
		$(if $(wildcard $(DEMO)/run/checkpoints/last.pt),--resume $(DEMO)/run)
	$(BIN)/python cli.py eval --checkpoint $(DEMO)/run --data $(DEMO)/renderih --json $(DEMO)/run/metrics.json
	$(BIN)/python cli.py demo --checkpoint $(DEMO)/run --img_path $(DEMO)/renderih/images --out $(DEMO)/overlays
	@echo "demo outputs in $(DEMO)/: hands.png, poses.report/, preview.png, run/, overlays/"

test: $(STAMP) lint
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) out
