# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
# Each creates .venv and installs what it needs (apt packages too) by itself.
PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.installed

.PHONY: demo test venv clean

demo: $(STAMP)
	$(VENV)/bin/callback-emu run scenarios/qa

test: $(STAMP)
	sh scripts/system-deps.sh
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider

venv: $(STAMP)

$(STAMP): pyproject.toml scripts/bootstrap.sh
	PYTHON=$(PYTHON) VENV=$(VENV) sh scripts/bootstrap.sh
	touch $@

clean:
	rm -rf $(VENV) build *.egg-info
