# Runwire's entry points. Every target installs what it needs first (scripts/bootstrap.sh).
#   make demo   — the demo: an embedded server streams an agent run with a tool call and an approval
#   make test   — everything CI checks: buf lint, generated-code drift, ruff, mypy, docs, pytest
.PHONY: demo test bootstrap dev generate check-generated lint typecheck docs pytest breaking serve ts-deps realmodel

PY := .venv/bin/python
BUF := node_modules/.bin/buf
TS := clients/typescript
JAVA_TOOLS := build/bin/java/.fetched
GENERATED := proto clients/python/src clients/go/runwire/v1 clients/typescript/src/gen clients/java/src/generated

demo: bootstrap
	.venv/bin/runwire demo

serve: bootstrap
	.venv/bin/runwire serve

test: dev lint check-generated typecheck docs pytest

bootstrap:
	@scripts/bootstrap.sh

dev:
	@scripts/bootstrap.sh --dev

# protoc-gen-es for buf.gen.ts.yaml (npm ci only when the lock file changed).
ts-deps:
	@[ -f $(TS)/node_modules/.package-lock.json ] && [ $(TS)/node_modules/.package-lock.json -nt $(TS)/package-lock.json ] || npm ci --prefix $(TS) --no-audit --no-fund --loglevel=error

# protoc + protoc-gen-grpc-java for buf.gen.java.yaml, from Maven Central at the versions
# clients/java/pom.xml pins; refetched when the pom changes.
$(JAVA_TOOLS): clients/java/pom.xml
	mvn -q -B -f clients/java/pom.xml -Pcodegen-tools validate
	@touch $@

# Every language's generated code, from proto/ with buf and local plugins only.
generate: dev ts-deps $(JAVA_TOOLS)
	$(BUF) format -w proto
	$(BUF) generate
	$(BUF) generate --template buf.gen.go.yaml
	$(BUF) generate --template buf.gen.ts.yaml
	$(BUF) generate --template buf.gen.java.yaml

# Regenerates the Python code and fails if it differs from what is committed.
check-generated: generate
	@if [ -n "$$(git status --porcelain -- $(GENERATED))" ]; then \
	  echo "generated code is out of date with proto/ (run 'make generate' and commit):"; \
	  git status --porcelain -- $(GENERATED); exit 1; \
	fi
	@echo "generated code: up to date"

lint: dev
	$(BUF) lint
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

typecheck: dev
	.venv/bin/mypy

# The documentation site, docs/ -> build/site (mkdocs.yml: strict, so a broken link, a missing
# anchor or a page left out of the nav fails; nothing is fetched at build time).
docs: dev
	NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet

pytest: dev
	.venv/bin/pytest -p no:cacheprovider -m "not realmodel"

# End-to-end on a real model (SmolLM2-135M on llama.cpp; the first install builds llama.cpp).
realmodel: dev
	scripts/install_local_model.sh
	RUNWIRE_REQUIRE_LOCAL_MODEL=1 .venv/bin/pytest -p no:cacheprovider -m realmodel tests/realmodel

breaking: dev
	scripts/buf_breaking.sh
