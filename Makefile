# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
# Each creates .venv and installs what it needs (apt packages too) by itself.
PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.installed

.PHONY: demo test bench venv native clean

demo: native
	$(VENV)/bin/callback-emu run scenarios/qa

test: native
	sh scripts/system-deps.sh
	VENV=$(VENV) sh scripts/test.sh

# The benchmarks' extra (Ciw, for sim_speed.py's reference) into .venv, then a
# quick run of each benchmark (about 3 minutes in all; benchmarks/README.md has
# the full runs). The SIP one needs SIPp (Debian sip-tester; `make test`
# installs it): without it that run is skipped with a note.
bench: native
	$(VENV)/bin/python -m pip install -q -e '.[bench]'
	$(VENV)/bin/python benchmarks/sim_speed.py --callbacks 10000 --repeats 1
	$(VENV)/bin/python benchmarks/sim_memory.py --callbacks 100000
	@if command -v sipp >/dev/null 2>&1; then \
		echo "$(VENV)/bin/python benchmarks/sip_throughput.py --quick"; \
		$(VENV)/bin/python benchmarks/sip_throughput.py --quick; \
	else \
		echo "bench: SIPp is missing, sip_throughput.py skipped (apt-get install sip-tester)"; \
	fi
	$(VENV)/bin/python benchmarks/web_load.py --quick

venv: $(STAMP)

# The hot modules compiled with mypyc (about a minute, again only when one of
# them changed). Should it fail, the pure-Python modules run the same numbers,
# slower; tests/test_native.py then says the build is not live.
native: $(STAMP)
	-$(VENV)/bin/python scripts/build_native.py

$(STAMP): pyproject.toml scripts/bootstrap.sh
	PYTHON=$(PYTHON) VENV=$(VENV) sh scripts/bootstrap.sh
	touch $@

clean:
	-$(VENV)/bin/python scripts/build_native.py --clean
	rm -rf $(VENV) build *.egg-info
