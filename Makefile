# mec — the two commands of the README: `make demo` and `make test`.
# Every target installs what it needs itself (project virtualenv with moto, shellcheck).

SHELL := /bin/bash
.DEFAULT_GOAL := help

# One target folder for the whole workspace, outside the clone, reused across runs and by CI:
# the AWS SDK crates take minutes to compile.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/mec/target

VENV := .venv
PYTHON := $(VENV)/bin/python

.PHONY: help test demo venv tools fmt lint clippy unit documents schema release sizes

help:
	@echo "make test     all checks and tests (installs moto into .venv and shellcheck)"
	@echo "make demo     the end-to-end demo (arrives with the local world, issue #4)"
	@echo "make schema   regenerate the spec's JSON Schema"
	@echo "make sizes    release-build the Lambdas and print their sizes"

## The test command: formatting, lints, SSM document checks, unit and emulator tests.
test: venv tools fmt clippy documents unit

demo:
	@echo "make demo is not there yet: it arrives with the local AWS world (issue #4)."
	@echo "Until then, 'make test' runs every step against a real moto server."
	@exit 2

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

unit: venv
	MEC_MOTO_SERVER=$(CURDIR)/$(VENV)/bin/moto_server cargo test --workspace

schema:
	MEC_UPDATE_SCHEMA=1 cargo test -p mec-shared --test schema

## Release binaries for the host (sizes for the README); the arm64 zips for AWS come with issue #3.
release:
	cargo build --release --workspace --bins

sizes: release
	@for f in validate network master workers install join teardown; do \
		printf '%-14s %s\n' "mec-$$f" "$$(du -h $(CARGO_TARGET_DIR)/release/mec-$$f | cut -f1)"; done
