# bulksms: development, test and build entry points.

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
CFN_LINT := $(SAM_VENV)/bin/cfn-lint
# checkov pins an older boto3 and packaging: it gets a virtualenv of its own too.
CHECKOV_VENV := .venv-checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov

# With pyenv, put every interpreter the build needs on PATH: `sam build` looks for the runtime's
# python3.12 by name. Only versions that are installed are named, so this is harmless elsewhere.
PYENV_WANTED := 3.11.7 3.12.1 3.13.0
ifneq ($(shell command -v pyenv 2>/dev/null),)
PYENV_INSTALLED := $(shell pyenv versions --bare 2>/dev/null)
PYENV_FOUND := $(foreach v,$(PYENV_WANTED),$(filter $(v),$(PYENV_INSTALLED)))
ifneq ($(PYENV_FOUND),)
empty :=
space := $(empty) $(empty)
export PYENV_VERSION := $(subst $(space),:,$(strip $(PYENV_FOUND)))
endif
endif

# The virtualenvs need Python 3.12 or newer (the Lambda runtime is python3.12): the first such
# interpreter on PATH, unless PYTHON=/path/to/python is given.
PYTHON_CANDIDATES := python3.12 python3.13 python3.14 python3
NEEDS_PYTHON := import sys; sys.exit(sys.version_info < (3, 12))
ifeq ($(origin PYTHON),undefined)
PYTHON := $(shell $(if $(PYENV_VERSION),PYENV_VERSION=$(PYENV_VERSION)) sh -c 'for p in $(PYTHON_CANDIDATES); do \
	"$$p" -c "$(NEEDS_PYTHON)" 2>/dev/null && { command -v "$$p"; exit 0; }; done')
endif
define check_python
	@$(if $(PYTHON),"$(PYTHON)" -c "$(NEEDS_PYTHON)" 2>/dev/null || { echo "make: $(PYTHON) is not Python 3.12 or newer" >&2; exit 1; },\
		{ echo "make: no Python 3.12 or newer on PATH (tried $(PYTHON_CANDIDATES)); install one or run make PYTHON=/path/to/python3.12" >&2; exit 1; })
endef

# sam and cfn-lint run offline: a region but no credentials, no telemetry.
export AWS_DEFAULT_REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0

.PHONY: help venv sam-venv test lint lint-template build clean distclean local demo bench lock

help: ## List the targets.
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements-dev.txt layers/core/requirements.txt
	$(check_python)
	"$(PYTHON)" -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet --require-hashes -r layers/core/requirements.txt
	$(VENV)/bin/python -m pip install --quiet -r requirements-dev.txt
	touch $@

$(SAM_VENV)/.installed: requirements-sam.txt
	$(check_python)
	"$(PYTHON)" -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet -r requirements-sam.txt
	touch $@

venv: $(VENV)/.installed ## Create the dev virtualenv (.venv).

sam-venv: $(SAM_VENV)/.installed ## Create the SAM CLI virtualenv (.venv-sam).

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	$(check_python)
	"$(PYTHON)" -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements-checkov.txt
	touch $@

test: $(VENV)/.installed $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed ## Every test, then every static check.
	$(VENV)/bin/python -m pytest -n 2 --dist loadfile
	@$(MAKE) --no-print-directory lint

lint: $(VENV)/.installed $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed ## ruff, mypy, bandit, checkov, cfn-lint, sam validate, OpenAPI drift, layer contents.
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	MYPYPATH=layers/core $(VENV)/bin/mypy --strict --explicit-package-bases layers/core/bulksms functions
	MYPYPATH=layers/core $(VENV)/bin/mypy --explicit-package-bases local
	$(VENV)/bin/bandit -q -c pyproject.toml -r layers/core/bulksms functions
	BC_SKIP_MAPPING=TRUE $(CHECKOV) -f template.yaml --config-file .checkov.yaml --quiet
	$(VENV)/bin/python scripts/generate_openapi.py --check
	@$(MAKE) --no-print-directory lint-template

lock: $(VENV)/.installed ## Recompile layers/core/requirements.txt (with hashes) from requirements.in.
	$(VENV)/bin/pip-compile --generate-hashes --no-emit-index-url --no-emit-find-links --strip-extras \
		--annotation-style line --no-header -q -o layers/core/requirements.txt layers/core/requirements.in

bench: $(VENV)/.installed ## Throughput, cold start, memory and cost against baselines (a few minutes).
	$(VENV)/bin/python -m bench

# make local: where it serves, and template parameter overrides (PARAMETERS="Name=Value Name2=Value2").
API_PORT ?= 3000
MOTO_PORT ?= 5000
SIM_PORT ?= 8099
PARAMETERS ?=

local: $(VENV)/.installed ## Run the whole system here (Ctrl-C stops it); API_PORT MOTO_PORT SIM_PORT PARAMETERS SIM_FAULTS.
	SIM_FAULTS='$(SIM_FAULTS)' $(VENV)/bin/python -m local.run --api-port $(API_PORT) \
		--moto-port $(MOTO_PORT) --sim-port $(SIM_PORT) $(foreach p,$(PARAMETERS),--parameter '$(p)')

demo: $(VENV)/.installed ## Send a 10,000-recipient job through the local stack (starts it if needed).
	$(VENV)/bin/python -m local.demo --api-url http://127.0.0.1:$(API_PORT)

lint-template: $(SAM_VENV)/.installed ## cfn-lint and sam validate --lint on template.yaml.
	$(CFN_LINT) --include-checks I --ignore-checks I4010 -- template.yaml
	$(SAM) validate --lint --template-file template.yaml

build: $(SAM_VENV)/.installed ## sam build (no container) into .aws-sam/.
	$(SAM) build --template-file template.yaml

clean: ## Remove build output and caches.
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -path ./$(VENV) -prune -o -path ./$(SAM_VENV) -prune -o -name __pycache__ -type d -print0 \
		| xargs -0 rm -rf

distclean: clean ## Also remove the virtualenvs.
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV)
