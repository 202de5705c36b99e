# Two commands: `make run` and `make test`. Each makes its own virtual environment.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench lint package clean

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

# The CloudFormation/SAM stack for STAGE (default prod) in build/package/ (sam.json and the zip).
STAGE ?= prod
package: $(STAMP)
	$(BIN)/python -m infra.policy $(STAGE)
	$(BIN)/python -m infra.build_template $(STAGE) build/merge-$(STAGE).json
	rm -rf build/package
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(BIN)/chalice package --stage $(STAGE) \
		--merge-template build/merge-$(STAGE).json build/package

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .local build
