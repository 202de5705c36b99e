# Two commands: `make run` and `make test`. Each makes its own virtual environment.
# Python 3.13, as the Lambdas run it (chalice package takes the runtime from the Python that packages): python3.13
# where it answers, else pyenv's 3.13 by its path (pyenv's shim refuses python3.13 unless PYENV_VERSION selects it).
PYTHON_VERSION := 3.13
PYTHON ?= $(shell if python$(PYTHON_VERSION) -c '' 2>/dev/null; then echo python$(PYTHON_VERSION); \
	elif command -v pyenv >/dev/null 2>&1; then v=$$(pyenv versions --bare 2>/dev/null | grep -E '^$(PYTHON_VERSION)(\.[0-9]+)?$$' | tail -1); \
	[ -n "$$v" ] && echo "$$(pyenv root)/versions/$$v/bin/python$(PYTHON_VERSION)"; fi)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# checkov pins boto3, botocore and more below ours: it gets a venv of its own.
TOOLS := .tools
TOOLS_STAMP := $(TOOLS)/.installed

.PHONY: run test bench load fuzz lint package tools clean

# A venv of another Python (an older checkout's 3.11) has no python3.13 in it: made afresh.
$(BIN)/python$(PYTHON_VERSION):
	@test -n "$(PYTHON)" || { echo "needs Python $(PYTHON_VERSION): python$(PYTHON_VERSION), or pyenv install $(PYTHON_VERSION)"; exit 1; }
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python$(PYTHON_VERSION) requirements.txt requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

$(TOOLS)/bin/python$(PYTHON_VERSION): $(BIN)/python$(PYTHON_VERSION)
	rm -rf $(TOOLS)
	$(BIN)/python -m venv $(TOOLS)

$(TOOLS_STAMP): $(TOOLS)/bin/python$(PYTHON_VERSION) requirements-checkov.txt
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $(TOOLS_STAMP)

tools: $(TOOLS_STAMP)

run: $(STAMP)
	$(BIN)/python -m local.run

# bandit: the deployed code (app.py, chalicelib/) and infra/ with nothing skipped but the lines marked `# nosec`,
# each with its reason above it; the local tools (local/, bench/) without the checks that do not apply to them:
# B404/B603 (they start our own processes with fixed arguments), B105/B106 (moto's fixed fake credentials and demo
# passwords), B311 (random demo and benchmark data), B310 (they call the local server they started), B112 (moto's
# optional internals). tests/infra/test_package.py runs checkov on the packaged stack (its own venv, .tools/).
test: $(STAMP) $(TOOLS_STAMP)
	$(BIN)/ruff check .
	$(BIN)/bandit -q -r app.py chalicelib infra
	$(BIN)/bandit -q -r local bench -s B404,B603,B105,B106,B311,B310,B112
	$(BIN)/python -m pytest -n 2 -q

bench: $(STAMP)
	$(BIN)/python -m bench.run

# locust, headless and bounded, against the local system (started and stopped here), into docs/load.md.
# LOAD_SECONDS (30), LOAD_THREADS (4), LOAD_MAX_REQUESTS (100000), PORT and MOTO_PORT as for make run.
load: $(STAMP)
	$(BIN)/python -m bench.load_runner

# schemathesis against the local system (started and stopped here) with a valid token, into docs/fuzz.md.
# FUZZ_EXAMPLES (15 per operation and phase), FUZZ_SEED (1), FUZZ_WORKERS (1), DEMO_DEVICES (60), PORT, MOTO_PORT.
fuzz: $(STAMP)
	$(BIN)/python -m local.fuzz

# The CloudFormation/SAM stack for STAGE (default prod) in build/package/ (sam.json and the zip), linted by cfn-lint
# and checkov, then the policy tests (each function's grants cover what its code calls; the files are current).
# infra.policy rewrites .chalice/policy-<stage>-<function>.json and their config entries from app.py.
STAGE ?= prod
package: $(STAMP) $(TOOLS_STAMP)
	$(BIN)/python -m infra.policy
	$(BIN)/python -m infra.build_template $(STAGE) build/merge-$(STAGE).json
	rm -rf build/package
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(BIN)/chalice package --stage $(STAGE) \
		--merge-template build/merge-$(STAGE).json build/package
	$(BIN)/cfn-lint --include-checks I -- build/package/sam.json
	$(TOOLS)/bin/checkov -f build/package/sam.json --quiet --compact --skip-download
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/infra/test_template.py tests/infra/test_least_privilege.py

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) $(TOOLS) .local build
