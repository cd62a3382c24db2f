# mec — the two commands of the README: `make demo` and `make test`.
# Every target installs what it needs itself (project virtualenv with moto, shellcheck).

SHELL := /bin/bash
.DEFAULT_GOAL := help

# One target folder for the whole workspace, outside the clone, reused across runs and by CI:
# the AWS SDK crates take minutes to compile.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/mec/target

VENV := .venv
PYTHON := $(VENV)/bin/python
CHECKOV := .venv-checkov/bin/checkov

# Terraform installs the AWS provider from the machine's mirror (/opt/tf-plugins) when there is one.
TF_RC := $(shell local/terraformrc.sh $(CURDIR)/.build/terraformrc)
ifneq ($(TF_RC),)
export TF_CLI_CONFIG_FILE := $(TF_RC)
endif
TF_ROOTS := infra/modules/pipeline infra/examples/aws infra/local

.PHONY: help test demo venv tools fmt lint clippy unit documents iam schema openapi release sizes \
	infra terraform-check terraform-test checkov local-lambdas local-tests lambdas bench sweep acceptance

help:
	@echo "make test     all checks and tests (installs moto into .venv and shellcheck)"
	@echo "make demo     create -> READY -> delete of an environment in the local world, with live progress"
	@echo "make schema   regenerate the spec's JSON Schema and the published time budgets"
	@echo "make catalogue  regenerate the add-on cases of mec-join and the table of docs/addons.md"
	@echo "make sizes    release-build the Lambdas and print their sizes"
	@echo "make bench    time to Ready, cost per environment, cold starts and scale, in the local world"
	@echo "make sweep    find and delete what mec left in an account (needs MEC_SWEEP=1)"
	@echo "make acceptance  the acceptance suite on a real AWS account (needs MEC_ACCEPTANCE=1; REGION=...)"

## The test command: formatting, lints, SSM document and IAM checks, unit and emulator tests,
## then the Terraform module: validate, plan tests, checkov, and a real apply into the emulator.
test: venv tools fmt clippy documents iam unit infra

## The main job: a whole environment created, shown, deleted and audited in the local world.
demo: venv
	# The test command's build (binaries included): one AWS SDK build serves both commands.
	cargo test --workspace --no-run
	local/demo.sh

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

tools:
	@command -v shellcheck >/dev/null || { \
		echo "installing shellcheck"; \
		if [ "$$(id -u)" != 0 ]; then echo "shellcheck missing: run 'sudo apt-get install -y shellcheck'"; exit 1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >/dev/null; }

fmt:
	cargo fmt --all --check

clippy:
	cargo clippy --workspace --all-targets -- -D warnings

documents: venv tools
	$(PYTHON) tests/lint/check_ssm_documents.py
	python3 tests/lint/check_addon_catalogue.py
	python3 tests/lint/check_state_machine_bounds.py

## Regenerate the add-on cases of the mec-join document and the table of docs/addons.md from the catalogue.
catalogue:
	python3 tests/lint/check_addon_catalogue.py --update

iam:
	python3 tests/lint/check_iam_actions.py

unit: venv
	MEC_MOTO_PYTHON=$(CURDIR)/$(VENV)/bin/python cargo test --workspace

## Terraform: fmt and validate on every root, plan-mode tests, checkov, apply/plan/destroy locally.
infra: terraform-check terraform-test checkov local-tests

terraform-check:
	terraform fmt -check -recursive infra
	python3 tests/lint/check_terraform_floor.py
	@for root in $(TF_ROOTS); do \
		echo "terraform validate $$root"; \
		TF_DATA_DIR=$(CURDIR)/.build/tf/$$root terraform -chdir=$$root init -input=false -backend=false -no-color >/dev/null && \
		TF_DATA_DIR=$(CURDIR)/.build/tf/$$root terraform -chdir=$$root validate -no-color || exit 1; done

terraform-test:
	TF_DATA_DIR=$(CURDIR)/.build/tf/infra/modules/pipeline terraform -chdir=infra/modules/pipeline test -no-color

$(CHECKOV): infra/requirements-checkov.txt
	python3 -m venv .venv-checkov
	.venv-checkov/bin/pip install --quiet --disable-pip-version-check -r infra/requirements-checkov.txt
	touch $@

# Zero failed checks; every skip is inline in the Terraform with its reason.
checkov: $(CHECKOV)
	$(CHECKOV) -d infra --framework terraform --quiet --compact --skip-download

## The host-architecture binaries (built by `cargo test`), zipped for the local world, and checked
## as Lambda reads a zip (the arm64 zips too, when `make lambdas` built them).
local-lambdas:
	python3 local/package_lambdas.py $(CARGO_TARGET_DIR)/debug .build/lambdas/local
	python3 tests/lint/check_lambda_zips.py .build/lambdas/local $$(uname -m | sed 's/aarch64/arm64/') \
		.build/lambdas/arm64 arm64 --if-present

node_modules/.installed: package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

local-tests: venv local-lambdas node_modules/.installed
	$(PYTHON) -m pytest -q local/tests bench

## The arm64 zips for AWS (not needed by the tests): cargo-lambda and zig come from PyPI. Only the
## Lambda functions (the crates with an iam-actions.txt), not the CLI or the test kit; then the
## zips are checked the way Lambda reads them.
LAMBDA_PACKAGES := $(patsubst functions/%/iam-actions.txt,-p mec-%,$(wildcard functions/*/iam-actions.txt))
lambdas: venv
	$(VENV)/bin/pip install --quiet --disable-pip-version-check cargo-lambda ziglang
	rustup target add aarch64-unknown-linux-gnu
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH cargo lambda build --release --arm64 --output-format zip \
		--lambda-dir .build/lambdas/arm64 $(LAMBDA_PACKAGES)
	python3 tests/lint/check_lambda_zips.py .build/lambdas/arm64 arm64

## Everything mec left in the account and region the credentials reach (any environment, or those
## older than an age), shown, then deleted on confirmation: through the teardown machine when the
## pipeline is deployed, directly otherwise. Refuses without MEC_SWEEP=1. SWEEP_ARGS: e.g.
## "--older-than 6h", "--yes", "--prefix mec".
sweep:
	cargo build -p mec-cli
	$(CARGO_TARGET_DIR)/debug/mec sweep $(SWEEP_ARGS)

## The acceptance suite on a real account (tests/acceptance/acceptance.py): applies
## infra/examples/aws (workspace mec-acceptance), one environment through the HTTP API with IAM auth,
## kubectl against it, deleted, nothing tagged left (Tagging API), the stack destroyed, a timing table.
## Refuses (exit 2, nothing created) without MEC_ACCEPTANCE=1 and credentials; needs `make lambdas`,
## the mec CLI ($$CARGO_TARGET_DIR/{release,debug}/mec or MEC_CLI), terraform and kubectl. REGION: e.g.
## eu-west-1 (default: the credentials' region). The same suite's local target runs in `make test`
## (local/tests/test_acceptance_local.py, within local-tests).
acceptance: venv
	$(PYTHON) tests/acceptance/acceptance.py --target aws $(if $(REGION),--region $(REGION))

schema:
	MEC_UPDATE_SCHEMA=1 cargo test -p mec-shared --test schema

openapi:
	MEC_UPDATE_OPENAPI=1 cargo test -p mec-api --test openapi schemas_are_the_generated_ones

## Release binaries for the host (sizes for docs/benchmarks.md); the arm64 zips for AWS are `make lambdas`.
release:
	cargo build --release --workspace --bins

sizes: release
	@for f in $$(ls functions | grep -v -e shared -e testkit); do \
		printf '%-14s %s\n' "mec-$$f" "$$(du -h $(CARGO_TARGET_DIR)/release/mec-$$f | cut -f1)"; done

## Benchmarks (bench/run.py): tables printed and written to .build/bench/results.md. Release
## binaries (the cold starts are theirs); a run takes ~25 min (the time-to-Ready runs at time
## scale 1 take the modelled minutes). Never timed assertions.
bench: venv
	nice cargo build --release --workspace --bins
	$(PYTHON) -m pytest -q bench
	$(PYTHON) bench/run.py
