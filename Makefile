# Runwire's entry points. Every target installs what it needs first (scripts/bootstrap.sh).
#   make demo   — the demo: an embedded server streams an agent run with a tool call and an approval
#   make test   — everything CI checks: buf lint, generated-code drift, ruff, mypy, pytest
.PHONY: demo test bootstrap dev generate check-generated lint typecheck pytest breaking serve

PY := .venv/bin/python
BUF := node_modules/.bin/buf

demo: bootstrap
	.venv/bin/runwire demo

serve: bootstrap
	.venv/bin/runwire serve

test: dev lint check-generated typecheck pytest

bootstrap:
	@scripts/bootstrap.sh

dev:
	@scripts/bootstrap.sh --dev

generate: dev
	$(BUF) format -w proto
	$(BUF) generate

# Regenerates the Python code and fails if it differs from what is committed.
check-generated: generate
	@if [ -n "$$(git status --porcelain -- proto clients/python/src)" ]; then \
	  echo "generated code is out of date with proto/ (run 'make generate' and commit):"; \
	  git status --porcelain -- proto clients/python/src; exit 1; \
	fi
	@echo "generated code: up to date"

lint: dev
	$(BUF) lint
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

typecheck: dev
	.venv/bin/mypy

pytest: dev
	.venv/bin/pytest -p no:cacheprovider

breaking: dev
	scripts/buf_breaking.sh
