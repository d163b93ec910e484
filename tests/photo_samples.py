"""Photo samples shared by the photo tests: what a clean file may carry, how exiftool sees a file, and files
that must be refused."""
import functools
import json
import random
import shutil
import struct
import subprocess
import zlib

import pytest

from tests.shared_fixtures import fixture_path

# All that exiftool may report on a clean output: the file itself and its bare image structure.
ALLOWED_TAGS = {
    ("ExifTool", "ExifToolVersion"),
    *(("System", tag) for tag in (
        "FileName", "Directory", "FileSize", "FileModifyDate", "FileAccessDate",
        "FileInodeChangeDate", "FilePermissions",
    )),
    *(("File", tag) for tag in (
        "FileType", "FileTypeExtension", "MIMEType", "ImageWidth", "ImageHeight",
        "EncodingProcess", "BitsPerSample", "ColorComponents", "YCbCrSubSampling",
    )),
    *(("JFIF", tag) for tag in ("JFIFVersion", "ResolutionUnit", "XResolution", "YResolution")),
    *(("PNG", tag) for tag in (
        "ImageWidth", "ImageHeight", "BitDepth", "ColorType", "Compression", "Filter", "Interlace",
    )),
    ("Composite", "ImageSize"),
    ("Composite", "Megapixels"),
}


def exiftool_tags(path) -> dict:
    """{(group, tag): value} for everything exiftool finds in a file, unknown tags included."""
    if shutil.which("exiftool") is None:
        pytest.fail("exiftool is needed to check the cleaned photos (apt-get install libimage-exiftool-perl)")
    out = subprocess.run(
        ["exiftool", "-a", "-u", "-G1", "-s", "-j", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout
    record = json.loads(out)[0]
    record.pop("SourceFile")
    return {tuple(key.split(":", 1)): value for key, value in record.items()}


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


@functools.cache  # a 20000 x 20000 one takes seconds of deflating, and several tests on both set-ups use it
def grey_png(width: int, height: int, extra_chunks: bytes = b"") -> bytes:
    """A hand-made all-black greyscale PNG; big ones are tiny on disk (a decompression bomb)."""
    deflate = zlib.compressobj(9)
    row = bytes(width + 1)  # filter byte + pixels
    idat = b"".join(deflate.compress(row) for _ in range(height)) + deflate.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + extra_chunks
            + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b""))


# Files that must be refused, and the finding each one gets.

def truncated_jpeg():
    data = fixture_path("photos/DSCN0010.jpg").read_bytes()
    return data[: len(data) // 2]


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'
PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
       b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
       b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 100]/Contents 4 0 R"
       b"/Resources<</Font<</F1<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>>>>>>>endobj\n"
       b"4 0 obj<</Length 38>>stream\nBT /F1 12 Tf 20 50 Td (Year 3) Tj ET\nendstream endobj\n"
       b"trailer<</Root 1 0 R>>\n%%EOF\n")

BAD_FILES = {
    "truncated JPEG": (truncated_jpeg, "photo_unreadable"),
    "random bytes": (lambda: random.Random(1).randbytes(4096), "photo_unsupported"),
    "empty file": (lambda: b"", "photo_empty"),
    "20000x20000 PNG bomb": (lambda: grey_png(20000, 20000), "photo_too_many_pixels"),
    "9000x9000 PNG (under Pillow's limit, over ours)": (lambda: grey_png(9000, 9000), "photo_too_many_pixels"),
    "SVG": (lambda: SVG, "photo_unsupported"),
    "PDF": (lambda: PDF, "photo_unsupported"),
    "30 MB file": (lambda: random.Random(2).randbytes(30 * 2**20), "photo_too_large"),
    "PNG with a huge zTXt chunk": (
        lambda: grey_png(10, 10, png_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(bytes(20 * 2**20)))),
        "photo_unreadable"),
    "PNG with a huge compressed iTXt chunk": (
        lambda: grey_png(10, 10, png_chunk(b"iTXt", b"Comment\x00\x01\x00\x00\x00" + zlib.compress(bytes(20 * 2**20)))),
        "photo_unreadable"),
    "text file named like a photo": (lambda: b"IMG_0001.jpg\nthis is not a picture\n", "photo_unsupported"),
}
