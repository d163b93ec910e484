"""Photo cleaning: nothing but pixels may leave the gateway."""
import io
import random
import struct
import subprocess
import zlib

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageFile

from moderation.findings import verdict
from tests.photo_samples import ALLOWED_TAGS, BAD_FILES, exiftool_tags, grey_png, png_chunk, truncated_jpeg
from tests.shared_fixtures import FIXTURES, fixture_path
from workers.checks.photos import ACCEPTED, PhotoLimits, clean_photo, screen, verify_clean

# Every photo fixture: the known ones (so a missing one is noticed) and whatever else is there.
KNOWN_PHOTOS = [
    "DSCN0010.jpg", "DSCN0012.jpg", "iphone_hdr_YES.jpg", "IMG_5195.HEIC", "Canon_40D.jpg",
    "Canon_PowerShot_S40.jpg", "Nikon_D70.jpg", "long_description.jpg", "corrupted.jpg",
    "image00971.jpg",
    *(f"orientation/{kind}_{n}.jpg" for kind in ("landscape", "portrait") for n in range(1, 9)),
]
PHOTOS_DIR = FIXTURES / "photos"
FOUND_PHOTOS = [
    p.relative_to(PHOTOS_DIR).as_posix() for p in PHOTOS_DIR.rglob("*") if p.is_file()
] if PHOTOS_DIR.is_dir() else []
ALL_FIXTURES = [f"photos/{name}" for name in sorted(set(KNOWN_PHOTOS) | set(FOUND_PHOTOS))]
ALL_FIXTURES.append("faces/rgba_32bit.png")

FORBIDDEN_PREFIXES = (
    "GPS", "Make", "Model", "XMP", "IPTC", "ICC_Profile", "ThumbnailImage", "PreviewImage",
    "MakerNotes", "Comment", "DateTimeOriginal", "CreateDate", "ModifyDate", "Artist",
    "Copyright", "ImageDescription", "Software", "SerialNumber", "Warning",
)


def pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("RGB"), dtype=np.int16)


def encoded(img: Image.Image, fmt: str, **params) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **params)
    return out.getvalue()


def with_jpeg_segment(jpeg: bytes, marker: int, body: bytes) -> bytes:
    """The JPEG with a segment inserted right after SOI."""
    return jpeg[:2] + bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body + jpeg[2:]


def tiff(entries: list[tuple[int, int, int, int]], ifd1: list[tuple[int, int, int, int]] = ()) -> bytes:
    """A little-endian TIFF/EXIF block of (tag, type, count, value) entries: IFD0 and an optional IFD1."""
    def ifd(items, next_offset):
        return (struct.pack("<H", len(items))
                + b"".join(struct.pack("<HHII", *item) for item in items)
                + struct.pack("<I", next_offset))
    ifd0_size = 2 + 12 * len(entries) + 4
    ifd1_offset = 8 + ifd0_size if ifd1 else 0
    return b"II*\x00" + struct.pack("<I", 8) + ifd(entries, ifd1_offset) + (ifd(ifd1, 0) if ifd1 else b"")


def solid_jpeg(colour, size=(64, 48)) -> bytes:
    return encoded(Image.new("RGB", size, colour), "JPEG", quality=95)


# 1. No metadata survives, for every real photo ---------------------------------------------

@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_every_fixture_is_cleaned_to_bare_pixels(name, tmp_path):
    result = clean_photo(fixture_path(name).read_bytes(), f"photo 1 ({name})")
    assert result.data is not None, result.findings
    assert verdict(result.findings) != "block"
    assert verify_clean(result.data, result.format) == []
    out = tmp_path / ("clean.jpg" if result.format == "JPEG" else "clean.png")
    out.write_bytes(result.data)

    tags = exiftool_tags(out)
    leaked = {f"{group}:{tag}": value for (group, tag), value in tags.items() if (group, tag) not in ALLOWED_TAGS}
    assert not leaked, f"{name} leaked metadata: {leaked}"
    forbidden = [f"{g}:{t}" for g, t in tags if g.startswith(FORBIDDEN_PREFIXES) or t.startswith(FORBIDDEN_PREFIXES)]
    assert not forbidden, f"{name} leaked {forbidden}"
    assert tags[("Composite", "ImageSize")] == f"{result.width}x{result.height}"


def test_the_fixtures_really_carry_what_must_be_removed():
    """The leak test above means something only if the inputs hold GPS, names and profiles."""
    nikon = {group for group, _ in exiftool_tags(fixture_path("photos/DSCN0010.jpg"))}
    assert {"GPS", "IFD1", "Nikon", "XMP-x"} <= nikon
    iphone = {group for group, _ in exiftool_tags(fixture_path("photos/IMG_5195.HEIC"))}
    assert {"GPS", "Apple", "ICC_Profile", "XMP-x"} <= iphone


# 2. Orientation -------------------------------------------------------------------------------

# Measured: every orientation differs from its _1 rendition by 4.3–5.2 levels on average (the
# fixtures were re-encoded separately); a mirrored or rotated picture differs by 50–64 levels.
ORIENTATION_TOLERANCE = 6


@pytest.mark.parametrize("kind", ["landscape", "portrait"])
@pytest.mark.parametrize("n", range(1, 9))
def test_every_exif_orientation_comes_out_upright(kind, n):
    reference = pixels(clean_photo(fixture_path(f"photos/orientation/{kind}_1.jpg").read_bytes(), "ref").data)
    result = clean_photo(fixture_path(f"photos/orientation/{kind}_{n}.jpg").read_bytes(), f"{kind}_{n}")
    upright = pixels(result.data)
    assert upright.shape == reference.shape
    assert np.abs(upright - reference).mean() < ORIENTATION_TOLERANCE


def test_an_unreadable_orientation_counts_as_upright_with_a_note():
    orientation_9 = tiff([(0x0112, 3, 1, 9)])
    data = with_jpeg_segment(solid_jpeg((200, 30, 30), (64, 48)), 0xE1, b"Exif\x00\x00" + orientation_9)
    result = clean_photo(data, "photo 3")
    assert result.data is not None and (result.width, result.height) == (64, 48)
    assert [(f.code, f.severity) for f in result.findings] == [("photo_orientation_unknown", "info")]


@pytest.mark.parametrize("name", ["photos/corrupted.jpg", "photos/image00971.jpg"])
def test_damaged_exif_does_not_stop_the_pixels(name):
    result = clean_photo(fixture_path(name).read_bytes(), name)
    assert result.data is not None
    assert verdict(result.findings) == "pass"


# 3. Colour ------------------------------------------------------------------------------------

def test_display_p3_heic_is_converted_to_srgb():
    data = fixture_path("photos/IMG_5195.HEIC").read_bytes()
    result = clean_photo(data, "photo 1 (IMG_5195.HEIC)")
    with Image.open(io.BytesIO(data)) as original:
        original.load()
        icc = original.info["icc_profile"]
        p3 = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        assert "P3" in p3.profile.profile_description
        size = (result.width, result.height)
        managed = ImageCms.profileToProfile(original, p3, ImageCms.createProfile("sRGB"), outputMode="RGB")
        managed = managed.resize(size, Image.Resampling.LANCZOS)
        unmanaged = original.convert("RGB").resize(size, Image.Resampling.LANCZOS)
    out = pixels(result.data)

    # Pixel by pixel (JPEG noise included): measured 1.45 levels managed, 3.03 without the profile.
    assert np.abs(out - np.asarray(managed, dtype=np.int16)).mean() < 2.5
    # Averaged over 16×16 blocks, which leaves the colour and removes the JPEG noise:
    # measured 0.25 levels from the managed reference, 2.49 from the profile-less conversion.
    def blocks(pixels_):
        return np.asarray(Image.fromarray(pixels_.astype(np.uint8)).reduce(16), dtype=float)
    managed_error = np.abs(blocks(out) - blocks(np.asarray(managed))).mean()
    unmanaged_error = np.abs(blocks(out) - blocks(np.asarray(unmanaged))).mean()
    assert managed_error < 1.0
    assert unmanaged_error > 2.0
    assert unmanaged_error > 5 * managed_error


def test_an_unusable_colour_profile_is_noted_and_ignored():
    data = encoded(Image.new("RGB", (40, 30), (10, 120, 200)), "JPEG", icc_profile=b"not a profile" * 20)
    result = clean_photo(data, "photo 4")
    assert result.data is not None
    assert [f.code for f in result.findings] == ["photo_colour_profile_ignored"]
    assert np.abs(pixels(result.data).mean(axis=(0, 1)) - (10, 120, 200)).max() < 3


def test_cmyk_without_profile_becomes_rgb():
    data = encoded(Image.new("CMYK", (40, 30), (0, 255, 255, 0)), "JPEG")  # red in CMYK
    result = clean_photo(data, "photo 5")
    assert result.format == "JPEG"
    assert np.abs(pixels(result.data).mean(axis=(0, 1)) - (255, 0, 0)).max() < 4


def test_transparency_is_flattened_onto_white():
    img = Image.new("RGBA", (40, 30), (0, 0, 0, 0))
    img.paste((0, 0, 255, 255), (0, 0, 20, 30))
    result = clean_photo(encoded(img, "PNG"), "logo.png")
    assert result.format == "PNG"
    out = pixels(result.data)
    assert out[:, :20].tolist() == np.full((30, 20, 3), (0, 0, 255)).tolist()
    assert out[:, 20:].tolist() == np.full((30, 20, 3), 255).tolist()


def test_sixteen_bit_grey_is_scaled_not_clipped():
    data = encoded(Image.new("I;16", (20, 10), 0x8080), "PNG")
    assert pixels(clean_photo(data, "scan.png").data).tolist() == np.full((10, 20, 3), 0x80).tolist()


# 4. Embedded thumbnails ------------------------------------------------------------------------

def test_an_embedded_thumbnail_of_another_picture_is_gone(tmp_path):
    thumbnail = encoded(Image.effect_mandelbrot((160, 120), (-2, -1.5, 1, 1.5), 50).convert("RGB"), "JPEG")
    def ifd1(offset):  # compression: JPEG; JPEGInterchangeFormat (offset) and its length
        return [(0x0103, 3, 1, 6), (0x0201, 4, 1, offset), (0x0202, 4, 1, len(thumbnail))]
    orientation = [(0x0112, 3, 1, 1)]
    exif = tiff(orientation, ifd1(len(tiff(orientation, ifd1(0))))) + thumbnail
    source = with_jpeg_segment(solid_jpeg((30, 160, 60), (320, 240)), 0xE1, b"Exif\x00\x00" + exif)
    source_path = tmp_path / "with_thumbnail.jpg"
    source_path.write_bytes(source)
    embedded = subprocess.run(["exiftool", "-b", "-ThumbnailImage", str(source_path)], capture_output=True).stdout
    assert embedded == thumbnail  # the test input really carries the other picture

    result = clean_photo(source, "photo 6")
    assert result.data is not None
    assert thumbnail not in result.data
    assert thumbnail[-256:] not in result.data
    out_path = tmp_path / "clean.jpg"
    out_path.write_bytes(result.data)
    tags = exiftool_tags(out_path)
    assert not [t for _, t in tags if "Thumbnail" in t or "Preview" in t]
    assert set(tags) <= ALLOWED_TAGS
    assert np.abs(pixels(result.data).mean(axis=(0, 1)) - (30, 160, 60)).max() < 3


# 5. Files that must be refused ------------------------------------------------------------------

@pytest.mark.parametrize("name", BAD_FILES)
def test_bad_files_are_blocked_in_plain_words(name):
    make, code = BAD_FILES[name]
    label = "photo 2 (upload.jpg)"
    result = clean_photo(make(), label)
    assert (result.data, result.format) == (None, None)
    assert [(f.code, f.severity) for f in result.findings] == [(code, "block")]
    finding = result.findings[0]
    assert finding.subject == label and label in finding.message
    if code == "photo_unsupported":
        assert ACCEPTED in finding.message


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP"])
def test_damaged_bytes_never_raise(fmt):
    original = encoded(Image.effect_mandelbrot((64, 48), (-2, -1.5, 1, 1.5), 30).convert("RGB"), fmt)
    rng = random.Random(fmt)
    for _ in range(60):
        damaged = bytearray(original)
        for _ in range(rng.randint(1, 8)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        result = clean_photo(bytes(damaged[: rng.randint(1, len(damaged))]), "photo 2")
        if result.data is None:
            assert verdict(result.findings) == "block"
        else:
            assert verify_clean(result.data, result.format) == []


def test_truncated_jpeg_really_fails_to_decode():
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    with pytest.raises(OSError), Image.open(io.BytesIO(truncated_jpeg())) as img:
        img.load()


def test_a_truncated_photo_is_refused_even_after_face_recognition_is_imported():
    import face_recognition  # noqa: F401  (it sets ImageFile.LOAD_TRUNCATED_IMAGES = True)

    ImageFile.LOAD_TRUNCATED_IMAGES = True
    result = clean_photo(truncated_jpeg(), "photo 1 (cut.jpg)")
    assert [f.code for f in result.findings] == ["photo_unreadable"] and result.data is None


def test_the_size_message_gives_the_size_and_the_limit():
    message = clean_photo(bytes(30 * 2**20), "photo 7").findings[0].message
    assert "is 30 MB" in message and "at most 25 MB" in message


def test_pillows_own_bomb_limit_also_blocks():
    """With our limit raised above Pillow's, Pillow's warning still refuses a 100-megapixel file."""
    pillow_limit = Image.MAX_IMAGE_PIXELS
    assert pillow_limit < 100_000_000
    result = clean_photo(grey_png(10000, 10000), "photo 8", PhotoLimits(max_pixels=10**9))
    assert [f.code for f in result.findings] == ["photo_too_many_pixels"]
    assert f"{pillow_limit / 1e6:.0f} million" in result.findings[0].message
    assert Image.MAX_IMAGE_PIXELS == pillow_limit  # left as it was


def test_a_huge_plain_text_chunk_is_simply_dropped():
    data = grey_png(10, 10, png_chunk(b"tEXt", b"Comment\x00" + b"Jane Doe, Year 3 " * 300_000))
    result = clean_photo(data, "photo 9")
    assert result.data is not None and b"Jane Doe" not in result.data


def test_a_fault_inside_fails_closed():
    result = clean_photo(solid_jpeg((1, 2, 3)), "photo 10", limits=None)
    assert result.data is None
    assert [(f.code, f.severity) for f in result.findings] == [("photo_check_failed", "block")]


def codes(findings):
    return [f.code for f in findings]


def test_the_upload_screen_goes_by_content_only():
    for img, fmt in [(Image.new("RGB", (8, 8)), "JPEG"), (Image.new("RGB", (8, 8)), "PNG"),
                     (Image.new("RGB", (8, 8)), "WEBP"), (Image.new("P", (8, 8)), "GIF")]:
        assert screen(encoded(img, fmt), "photo.bmp") == []
    assert codes(screen(encoded(Image.new("RGB", (8, 8)), "BMP"), "photo.jpg")) == ["photo_unsupported"]
    assert codes(screen(encoded(Image.new("RGB", (8, 8)), "TIFF"), "photo.jpg")) == ["photo_unsupported"]
    assert codes(screen(b"", "photo.jpg")) == ["photo_empty"]
    assert codes(screen(grey_png(20000, 20000), "photo.png")) == ["photo_too_many_pixels"]


def test_the_upload_screen_accepts_heic():
    assert screen(fixture_path("photos/IMG_5195.HEIC").read_bytes(), "IMG_5195.HEIC") == []


def test_webp_is_accepted():
    result = clean_photo(encoded(Image.new("RGB", (30, 20), (250, 200, 0)), "WEBP", quality=95), "photo.webp")
    assert result.format == "JPEG" and not result.findings


# 6. Several pictures in one file ----------------------------------------------------------------

RED, BLUE = (220, 20, 20), (20, 20, 220)


def two_frames(fmt: str) -> bytes:
    first, second = Image.new("RGB", (48, 32), RED), Image.new("RGB", (48, 32), BLUE)
    if fmt == "GIF":
        first, second = first.convert("P"), second.convert("P")
    return encoded(first, fmt, save_all=True, append_images=[second], **({"quality": 95} if fmt != "GIF" else {}))


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "MPO", "HEIF"])
def test_only_the_first_picture_is_used(fmt):
    data = two_frames(fmt)
    with Image.open(io.BytesIO(data)) as img:
        assert img.n_frames == 2
    result = clean_photo(data, f"photo 11 ({fmt.lower()})")
    assert result.data is not None
    assert [(f.code, f.severity) for f in result.findings] == [("photo_multi_frame", "review")]
    assert "first picture" in result.findings[0].message
    assert np.abs(pixels(result.data).mean(axis=(0, 1)) - RED).max() < 8
    with Image.open(io.BytesIO(result.data)) as img:
        assert getattr(img, "n_frames", 1) == 1


# 7. The independent read-back -----------------------------------------------------------------

def clean_jpeg() -> bytes:
    return clean_photo(solid_jpeg((90, 90, 90)), "x").data


def clean_png() -> bytes:
    return clean_photo(encoded(Image.new("P", (16, 16)), "PNG"), "x").data


def jfif_with_thumbnail() -> bytes:
    """A clean JPEG whose JFIF header carries a 1×1 uncompressed thumbnail."""
    data = clean_jpeg()
    assert data[2:4] == b"\xff\xe0"
    app0_end = 4 + struct.unpack(">H", data[4:6])[0]
    jfif = b"JFIF\x00" + struct.pack(">BBBHHBB", 1, 1, 0, 1, 1, 1, 1) + bytes(3)
    return with_jpeg_segment(data[:2] + data[app0_end:], 0xE0, jfif)


def before_iend(png: bytes, chunk: bytes) -> bytes:
    return png[:-12] + chunk + png[-12:]


LEAKY = {
    "JPEG with APP1 EXIF": ("JPEG", lambda: with_jpeg_segment(clean_jpeg(), 0xE1, b"Exif\x00\x00" + tiff([]))),
    "JPEG with APP1 XMP": ("JPEG", lambda: with_jpeg_segment(clean_jpeg(), 0xE1, b"http://ns.adobe.com/xap/1.0/\x00")),
    "JPEG with APP2 ICC": ("JPEG", lambda: with_jpeg_segment(clean_jpeg(), 0xE2, b"ICC_PROFILE\x00\x01\x01")),
    "JPEG with APP13 IPTC": ("JPEG", lambda: with_jpeg_segment(clean_jpeg(), 0xED, b"Photoshop 3.0\x00")),
    "JPEG with COM": ("JPEG", lambda: with_jpeg_segment(clean_jpeg(), 0xFE, b"Jane Doe, Year 3")),
    "JPEG with a JFIF thumbnail": ("JPEG", jfif_with_thumbnail),
    "JPEG with data after EOI": ("JPEG", lambda: clean_jpeg() + solid_jpeg((0, 0, 0))),
    "JPEG cut short": ("JPEG", lambda: clean_jpeg()[:-100]),
    "PNG with tEXt": ("PNG", lambda: before_iend(clean_png(), png_chunk(b"tEXt", b"Author\x00Jane Doe"))),
    "PNG with eXIf": ("PNG", lambda: before_iend(clean_png(), png_chunk(b"eXIf", tiff([])))),
    "PNG with iCCP": ("PNG", lambda: before_iend(clean_png(), png_chunk(b"iCCP", b"p\x00\x00" + zlib.compress(b"x")))),
    "PNG with tIME": ("PNG", lambda: before_iend(clean_png(), png_chunk(b"tIME", bytes(7)))),
    "PNG with data after IEND": ("PNG", lambda: clean_png() + b"Jane Doe"),
    "PNG with a bad CRC": ("PNG", lambda: clean_png()[:-1] + b"\x00"),
    "PNG passed as JPEG": ("JPEG", clean_png),
    "unknown format": ("WEBP", clean_jpeg),
}


@pytest.mark.parametrize("name", LEAKY)
def test_verify_clean_blocks_anything_outside_the_allow_list(name):
    fmt, make = LEAKY[name]
    findings = verify_clean(make(), fmt)
    assert findings and {f.severity for f in findings} == {"block"}


def test_verify_clean_passes_clean_output():
    assert verify_clean(clean_jpeg(), "JPEG") == []
    assert verify_clean(clean_png(), "PNG") == []
    progressive = encoded(Image.effect_noise((64, 64), 50).convert("RGB"), "JPEG", progressive=True)
    assert verify_clean(progressive, "JPEG") == []


def test_verify_clean_sees_metadata_in_a_camera_original():
    findings = verify_clean(fixture_path("photos/DSCN0010.jpg").read_bytes(), "JPEG")
    assert [f.code for f in findings] == ["photo_not_clean"]


# 8. Publication size ---------------------------------------------------------------------------

@pytest.mark.parametrize("size, limits, expected", [
    ((3000, 1000), PhotoLimits(), (2048, 683)),
    ((1000, 3000), PhotoLimits(), (683, 2048)),
    ((300, 200), PhotoLimits(), (300, 200)),
    ((2048, 2048), PhotoLimits(), (2048, 2048)),
    ((1200, 900), PhotoLimits(long_side=600), (600, 450)),
    ((300, 200), PhotoLimits(long_side=600), (300, 200)),
])
def test_the_long_side_is_limited_and_never_enlarged(size, limits, expected):
    result = clean_photo(encoded(Image.effect_noise(size, 40).convert("RGB"), "JPEG"), "photo 12", limits)
    assert (result.width, result.height) == expected
    with Image.open(io.BytesIO(result.data)) as img:
        assert img.size == expected


def test_the_pixel_limit_comes_from_the_limits():
    result = clean_photo(solid_jpeg((0, 0, 0), (100, 100)), "photo 13", PhotoLimits(max_pixels=9_999))
    assert [f.code for f in result.findings] == ["photo_too_many_pixels"]
    assert "100 × 100" in result.findings[0].message
