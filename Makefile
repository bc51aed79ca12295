# The two commands: `make run` (the whole system) and `make test` (everything CI checks).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

LOCK   := requirements/lock.txt
DEVLOCK := requirements/dev-lock.txt

.PHONY: run test test-fast lint typecheck install clean bench browser lock

# Every version from the lock, each file checked against its hash; then the project itself, without
# resolving anything again. The dev lock holds the runtime lock's pins plus the embedded servers and tools.
$(STAMP): pyproject.toml $(DEVLOCK)
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r $(DEVLOCK)
	$(BIN)/pip install --quiet --no-deps -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# `exec`: make's SIGTERM (timeout N make run) and Ctrl-C reach the launcher itself, which stops every service.
run: $(STAMP)
	exec $(BIN)/antibully run

# Regenerate the locks from pyproject.toml (kept pins stay unless needed; `make lock UPGRADE=--upgrade` for newest).
# Universal (any OS) for Python 3.11, the image's; the runtime lock constrains the dev one so both agree.
UV_COMPILE = $(BIN)/uv pip compile --no-config --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command 'make lock' $(UPGRADE) pyproject.toml
lock: $(STAMP)
	$(UV_COMPILE) -o $(LOCK)
	$(UV_COMPILE) --extra dev -c $(LOCK) -o $(DEVLOCK)

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck browser
	$(BIN)/pytest

# The console's page tests drive a real Chromium from the OS packages (Playwright's own browser download
# is never used) and need CJK fonts. Installed here when missing, where we can (root with apt-get).
browser:
	@if [ -n "$$CHROMIUM" ] && [ -x "$$CHROMIUM" ]; then exit 0; fi; \
	if [ -n "$$CHROMIUM" ]; then echo "CHROMIUM=$$CHROMIUM is not an executable file." >&2; exit 1; fi; \
	if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	     { ! fc-list :lang=zh 2>/dev/null | grep -q . || [ ! -e /usr/lib/chromium/locales/zh-CN.pak ]; }; then \
	    echo "Installing CJK fonts and Chromium's Chinese UI (fonts-noto-cjk, chromium-l10n) with apt-get."; \
	    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y fonts-noto-cjk chromium-l10n; } \
	      || echo "warning: could not install fonts-noto-cjk chromium-l10n; screenshots may lack Chinese glyphs." >&2; \
	  elif command -v fc-list >/dev/null 2>&1 && ! fc-list :lang=zh | grep -q .; then \
	    echo "warning: no CJK font found (fc-list :lang=zh); install fonts-noto-cjk for readable screenshots." >&2; fi; \
	  exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "Chromium is missing: installing chromium and fonts-noto-cjk with apt-get."; \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-l10n fonts-noto-cjk && \
	  command -v chromium >/dev/null; \
	else \
	  echo "The console's tests need Chromium and CJK fonts, and they could not be installed here" >&2; \
	  echo "(that needs root and apt-get). Install them from your OS packages, e.g." >&2; \
	  echo "  sudo apt-get install chromium fonts-noto-cjk      (Debian/Ubuntu)" >&2; \
	  echo "  sudo dnf install chromium google-noto-sans-cjk-fonts   (Fedora)" >&2; \
	  echo "  brew install --cask chromium                      (macOS)" >&2; \
	  echo "and, if the binary is not on PATH as chromium, point to it: make test CHROMIUM=/path/to/chromium" >&2; \
	  exit 1; \
	fi

# Only the tests that need no I/O (marked `pure`): seconds, no broker, database or network.
test-fast: $(STAMP)
	$(BIN)/pytest -m pure -q

clean:
	rm -rf $(VENV) .run .pytest_cache .mypy_cache .ruff_cache
