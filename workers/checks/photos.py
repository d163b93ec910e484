"""Photo cleaning: accept an upload, rebuild it without any metadata, and check the result.

Every accepted photo is decoded, turned upright, converted to sRGB, flattened onto white,
resized, copied into a fresh image and re-encoded with no EXIF, GPS, XMP, IPTC, comments,
thumbnails or ICC profile. The output is then read back by a marker/chunk walker that does
not use Pillow; anything outside its allow-list blocks the photo.
"""
from __future__ import annotations

import io
import logging
import struct
import zlib
from dataclasses import dataclass, replace

import pillow_heif
from PIL import Image, ImageCms, ImageFile

from moderation.findings import BLOCK, INFO, REVIEW, Finding

log = logging.getLogger("workers.checks.photos")

pillow_heif.register_heif_opener()

ACCEPTED = "JPEG, PNG, WebP, HEIC/HEIF or a still GIF"

_OPENERS = ["JPEG", "PNG", "WEBP", "HEIF", "GIF"]  # the only Pillow plugins tried on an upload
# Pillow's format name -> accepted kind; the JPEG plugin opens MPO (a JPEG with more pictures appended).
_KINDS = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "WEBP": "WEBP", "HEIF": "HEIF", "GIF": "GIF"}
_ORIENTATION = 0x0112
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_PROFILE_MODES = {"RGB ": "RGB", "GRAY": "L", "CMYK": "CMYK"}
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@dataclass(frozen=True)
class PhotoLimits:
    max_bytes: int = 25 * 1024 * 1024
    max_pixels: int = 60_000_000
    long_side: int = 2048
    jpeg_quality: int = 88

    @classmethod
    def from_settings(cls, settings) -> "PhotoLimits":
        return cls(max_bytes=settings.max_photo_mb * 2**20)


@dataclass
class CleanPhoto:
    data: bytes | None  # the clean rendition, None when the photo is blocked
    format: str | None  # "JPEG" or "PNG"
    width: int
    height: int
    findings: list[Finding]


def _open(data: bytes) -> Image.Image:
    """Parse the header only, trying nothing but the accepted formats."""
    return Image.open(io.BytesIO(data), formats=_OPENERS)


def clean_photo(data: bytes, label: str, limits: PhotoLimits = PhotoLimits()) -> CleanPhoto:
    """label is how a teacher knows the photo, e.g. 'photo 2 (IMG_5195.HEIC)'; used as Finding.subject and in messages."""
    try:
        return _clean(data, label, limits)
    except Exception as exc:  # fail closed: a bug must never let a photo through
        log.exception("cleaning %s failed unexpectedly", label)
        return _blocked(
            label, "photo_check_failed",
            f"{label} could not be checked because of a fault in the gateway, so it will not be "
            "published. Please tell the school's IT support.",
            error=type(exc).__name__,
        )


def _finding(label: str, code: str, message: str, **evidence) -> Finding:
    return Finding(code, BLOCK, message, label, evidence)


def _blocked(label: str, code: str, message: str, **evidence) -> CleanPhoto:
    return CleanPhoto(None, None, 0, 0, [_finding(label, code, message, **evidence)])


def screen(data: bytes, label: str, limits: PhotoLimits = PhotoLimits(), size: int | None = None) -> list[Finding]:
    """The checks that need no decoding (empty, too large, not an accepted kind, too many pixels), for the upload form.

    size is the file's full size when only its first bytes were read."""
    size = len(data) if size is None else size
    if not size:
        return [_finding(label, "photo_empty", f"{label} is an empty file. Please upload the photo again.")]
    if size > limits.max_bytes:
        return [_finding(
            label, "photo_too_large",
            f"{label} is {size / 2**20:.0f} MB; photos can be at most "
            f"{limits.max_bytes / 2**20:.0f} MB. Please upload a smaller copy.",
            bytes=size, limit_bytes=limits.max_bytes,
        )]
    try:
        with _open(data) as img:  # reads the header only; safe in the web app's threads
            width, height = img.size
    except Image.DecompressionBombError:
        return [_too_many_pixels(label, None, limits)]
    except Image.UnidentifiedImageError:
        return [_finding(label, "photo_unsupported", f"{label} is not a kind of picture we can publish. Please use {ACCEPTED}.")]
    except Exception as exc:
        return [_unreadable(label, exc)]
    # Pillow only warns between its own limit and twice that; here its limit refuses too (checked rather than
    # turning the warning into an error: warning filters are process-wide, and photos are cleaned side by side)
    if width * height > min(limits.max_pixels, Image.MAX_IMAGE_PIXELS or limits.max_pixels):
        return [_too_many_pixels(label, (width, height), limits)]
    return []


def _unreadable(label: str, exc: Exception) -> Finding:
    log.warning("%s could not be decoded: %s", label, type(exc).__name__)
    return _finding(label, "photo_unreadable",
                    f"{label} could not be read; it may be damaged or cut short. Please upload it again.",
                    error=type(exc).__name__)


def _too_many_pixels(label: str, size, limits: PhotoLimits) -> Finding:
    # Pillow's own limit may strike first, before the size is known
    allowed = min(limits.max_pixels, Image.MAX_IMAGE_PIXELS or limits.max_pixels)
    pixels = f"{size[0]} × {size[1]} pixels," if size else "a picture with"
    return _finding(
        label, "photo_too_many_pixels",
        f"{label} is {pixels} more than the {allowed / 1e6:.0f} million pixels allowed. Please upload a smaller copy.",
        size=size, limit_pixels=allowed,
    )


def _clean(data: bytes, label: str, limits: PhotoLimits) -> CleanPhoto:
    refused = screen(data, label, limits)
    if refused:
        return CleanPhoto(None, None, 0, 0, refused)
    # face_recognition switches this on for the whole process when it is imported: a cut-short
    # file would then decode with its missing part filled in grey instead of being refused.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    findings: list[Finding] = []
    size = None
    try:
        with _open(data) as img:
            kind, size = _KINDS[img.format], img.size
            # Only the frame Pillow opens on (the first; for HEIF the primary picture) is loaded.
            if getattr(img, "n_frames", 1) > 1:
                findings.append(Finding(
                    "photo_multi_frame", REVIEW,
                    f"{label} holds several pictures (an animation or a multi-picture file); "
                    "only the first picture will be published.",
                    label, {"frames": img.n_frames},
                ))
            img.load()
            rgb = _srgb(_upright(img, label, findings), label, findings)
    except Image.DecompressionBombError:
        return CleanPhoto(None, None, 0, 0, [_too_many_pixels(label, size, limits)])
    except Exception as exc:
        return CleanPhoto(None, None, 0, 0, [_unreadable(label, exc)])

    graphic = kind in ("PNG", "GIF") and rgb.getcolors(256) is not None
    fmt = "PNG" if graphic else "JPEG"
    return rebuild(_fit(rgb, limits.long_side), fmt, label, limits, findings)


def rebuild(rgb: Image.Image, fmt: str, label: str, limits: PhotoLimits, findings: list[Finding]) -> CleanPhoto:
    """Copy the pixels into a fresh image, encode it with no metadata and verify the result independently."""
    fresh = Image.frombytes("RGB", rgb.size, rgb.tobytes())  # no info dict carries over
    out = io.BytesIO()
    if fmt == "PNG":
        fresh.save(out, "PNG", pnginfo=None)
    else:
        fresh.save(out, "JPEG", quality=limits.jpeg_quality)
    leaks = verify_clean(out.getvalue(), fmt)
    if leaks:
        log.error("%s: cleaned output failed verification: %s", label, [f.evidence for f in leaks])
        return CleanPhoto(None, None, 0, 0, findings + [
            replace(f, subject=label, message=f"{label}: {f.message}") for f in leaks
        ])
    return CleanPhoto(out.getvalue(), fmt, fresh.width, fresh.height, findings)


def _upright(img: Image.Image, label: str, findings: list[Finding]) -> Image.Image:
    """Apply the EXIF orientation; an unreadable one counts as 1 (as stored)."""
    try:
        orientation = img.getexif().get(_ORIENTATION, 1)
    except Exception as exc:
        log.info("%s: EXIF unreadable: %s", label, type(exc).__name__)
        orientation = None
    if orientation not in range(1, 9):
        findings.append(Finding(
            "photo_orientation_unknown", INFO,
            f"{label} does not say clearly which way up it is; it is shown as stored.",
            label,
        ))
        return img
    return img.transpose(_TRANSPOSE[orientation]) if orientation != 1 else img


def _srgb(img: Image.Image, label: str, findings: list[Finding]) -> Image.Image:
    """An RGB image in sRGB, converted through the embedded ICC profile and flattened onto white."""
    icc = img.info.get("icc_profile")
    alpha = img.convert("RGBA").getchannel("A") if img.has_transparency_data else None
    if img.mode.startswith("I"):  # 16-bit grey: scale, not clip, to 8 bits
        img = img.convert("I").point(lambda v: v / 256)
    base = "CMYK" if img.mode == "CMYK" else "L" if img.mode in ("1", "L", "LA", "I") else "RGB"
    if img.mode != base:
        img = img.convert(base)
    rgb = None
    if icc:
        try:
            profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            if _PROFILE_MODES.get(profile.profile.xcolor_space) == base:
                rgb = ImageCms.profileToProfile(img, profile, _SRGB, outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError) as exc:
            log.info("%s: colour profile unusable: %s", label, type(exc).__name__)
        if rgb is None:
            findings.append(Finding(
                "photo_colour_profile_ignored", INFO,
                f"{label} has a colour profile that could not be used; its colours may look slightly different.",
                label,
            ))
    if rgb is None:
        rgb = img if img.mode == "RGB" else img.convert("RGB")
    if alpha is not None:
        flat = Image.new("RGB", rgb.size, "white")
        flat.paste(rgb, mask=alpha)
        rgb = flat
    return rgb


def _fit(img: Image.Image, long_side: int) -> Image.Image:
    """Shrink so the long side is at most long_side; never enlarge."""
    scale = long_side / max(img.size)
    if scale >= 1:
        return img
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    return img.resize(size, Image.Resampling.LANCZOS)


def _leak(what: str, **evidence) -> Finding:
    return Finding(
        "photo_not_clean", BLOCK,
        f"the cleaned copy still contained {what}, so it will not be published.",
        "photo", evidence,
    )


def verify_clean(data: bytes, fmt: str) -> list[Finding]:
    """Independent read-back: walk JPEG markers / PNG chunks of the output and return block findings for anything outside an allow-list."""
    if fmt == "JPEG":
        return _verify_jpeg(data)
    if fmt == "PNG":
        return _verify_png(data)
    return [_leak(f"an unexpected format ({fmt})", format=fmt)]


_JPEG_ALLOWED = {0xDB, 0xC0, 0xC2, 0xC4, 0xDD, 0xDA}  # DQT, SOF0, SOF2, DHT, DRI, SOS (APP0: below)
_JFIF_APP0_LENGTH = 16  # a JFIF header without a thumbnail


def _verify_jpeg(data: bytes) -> list[Finding]:
    if not data.startswith(b"\xff\xd8"):
        return [_leak("no JPEG start marker")]
    pos = 2
    while pos < len(data):
        if data[pos] != 0xFF:
            return [_leak("bytes outside any segment", offset=pos)]
        while pos < len(data) and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= len(data):
            break
        marker, pos = data[pos], pos + 1
        if marker == 0xD9:  # EOI
            if pos != len(data):
                return [_leak("data after the end of the picture", extra_bytes=len(data) - pos)]
            return []
        if pos + 2 > len(data):
            break
        length = struct.unpack(">H", data[pos:pos + 2])[0]
        payload = data[pos + 2:pos + length]
        if length < 2 or pos + length > len(data):
            break
        if marker == 0xE0:
            if length != _JFIF_APP0_LENGTH or not payload.startswith(b"JFIF\0") or payload[12:14] != b"\0\0":
                return [_leak("an APP0 segment other than a plain JFIF header", marker="APP0")]
        elif marker not in _JPEG_ALLOWED:
            return [_leak(f"a JPEG segment 0x{marker:02X} that is not allowed", marker=f"0x{marker:02X}")]
        pos += length
        if marker == 0xDA:  # entropy-coded data runs to the next marker that is not RSTn or a stuffed 0xFF00
            while True:
                pos = data.find(b"\xff", pos)
                if pos < 0 or pos + 1 >= len(data):
                    return [_leak("a picture cut short (no end marker)")]
                following = data[pos + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
                    pos += 1 if following == 0xFF else 2
                    continue
                break
    return [_leak("a picture cut short (no end marker)")]


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_ALLOWED = {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"}


def _verify_png(data: bytes) -> list[Finding]:
    if not data.startswith(_PNG_SIGNATURE):
        return [_leak("no PNG signature")]
    pos, first = len(_PNG_SIGNATURE), True
    while pos + 12 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        end = pos + 12 + length
        if end > len(data):
            break
        name = kind.decode("latin-1")
        if kind not in _PNG_ALLOWED or first != (kind == b"IHDR"):
            return [_leak(f"a PNG chunk {name!r} that is not allowed", chunk=name)]
        if zlib.crc32(data[pos + 4:end - 4]) != struct.unpack(">I", data[end - 4:end])[0]:
            return [_leak(f"a damaged PNG chunk {name!r}", chunk=name)]
        if kind == b"IEND":
            if end != len(data):
                return [_leak("data after the end of the picture", extra_bytes=len(data) - end)]
            return []
        pos, first = end, False
    return [_leak("a picture cut short (no end chunk)")]
