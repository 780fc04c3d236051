# edgec: two commands on a fresh Debian/Ubuntu machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
APT_PACKAGES := gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm dataset-fashion-mnist \
                chromium chromium-driver valgrind cmake

.PHONY: demo test bench fuzz venv system-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,probes]'
	touch $(STAMP)

venv: $(STAMP)

# Debian packages the emulator, cross-compiler, browser and data tests need (root or sudo).
system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

# Build the bundled example for the generic Cortex-M7 profile.
demo: $(STAMP)
	$(VENV)/bin/edgec build examples/fashion_cnn.keras --target cortex-m7 \
	    --calib examples/fashion_calib.npz -o out/demo

# Two workers (the machine CI runs on has two cores); a test file stays on one worker, so its
# module-scoped builds are made once.
TEST_WORKERS ?= 2
test: system-deps $(STAMP)
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile

bench: system-deps $(STAMP)
	@for script in bench/[!_]*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

# Each fuzz target (fuzz/*.py) for FUZZ_SECONDS, from its seeds (`--write-seeds`: the shipped models,
# profiles...); a crash leaves its input in out/fuzz/<target>/ (add it to tests/data/fuzz-regressions/<target>/).
FUZZ_SECONDS ?= 60
fuzz: $(STAMP)
	@for target in fuzz/[!_]*.py; do name=$$(basename $$target .py); echo "== $$name ($(FUZZ_SECONDS) s)"; \
	  rm -rf out/fuzz/$$name && $(PY) $$target --write-seeds out/fuzz/$$name/corpus && \
	  $(PY) $$target out/fuzz/$$name/corpus -max_total_time=$(FUZZ_SECONDS) -timeout=60 -artifact_prefix=out/fuzz/$$name/ || exit 1; done

clean:
	rm -rf out build .pytest_cache
