# Two commands: `make run` and `make test`. Each makes its own virtual environment.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench load fuzz lint package clean

$(STAMP): requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null || { echo "needs $(PYTHON)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m local.run

test: $(STAMP)
	$(BIN)/ruff check .
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

# The CloudFormation/SAM stack for STAGE (default prod) in build/package/ (sam.json and the zip), linted.
# infra.policy rewrites .chalice/policy-<stage>-<function>.json and their config entries from app.py.
STAGE ?= prod
package: $(STAMP)
	$(BIN)/python -m infra.policy
	$(BIN)/python -m infra.build_template $(STAGE) build/merge-$(STAGE).json
	rm -rf build/package
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(BIN)/chalice package --stage $(STAGE) \
		--merge-template build/merge-$(STAGE).json build/package
	$(BIN)/cfn-lint --include-checks I -- build/package/sam.json

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .local build
