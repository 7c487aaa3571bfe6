# Two entry points for a fresh machine with only Python and pip:
#   make report   installs everything into .venv and runs the default capacity report
#   make test     installs everything into .venv and runs the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: report test install lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

report: $(STAMP)
	$(BIN)/simlab report; status=$$?; \
	echo "open reports/redis-cache-service/index.html"; exit $$status

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check engine simlab tests benchmarks
	$(BIN)/mypy engine simlab

clean:
	rm -rf $(VENV) build *.egg-info
