"""Working copies derived from evidentiary originals (Berkeley Protocol: the original is never altered).

``release_copy`` makes what an external audience may receive: a file rebuilt from its decoded content
(image pixels, rendered PDF pages) with nothing of the original container, checked after it is made.

``strip_metadata`` re-encodes an image with Pillow without any metadata block: no EXIF (so no GPS, serial
numbers or owner names), no XMP, no IPTC, no comments, no text chunks. The picture is kept as it looks:
the EXIF orientation is applied to the pixels, the colour profile is kept, and a JPEG keeps its
quantisation tables (quality "keep") when no rotation was needed.
"""

from __future__ import annotations

import io
import warnings
from typing import BinaryIO

import PIL
import pypdfium2 as pdfium
from PIL import Image, ImageCms, ImageOps
from pypdf import PdfReader

from api.evidence.errors import ReleaseRefused
from api.problems import ValidationProblem

#: Derivation tool, named in the custody record of every derivation.
TOOL = f"Pillow {PIL.__version__}"
#: The tool that renders PDF pages for release copies.
PDF_TOOL = f"PDFium via pypdfium2 {pdfium.PYPDFIUM_INFO}"
#: Formats a metadata-free copy can be made of, by sniffed media type.
STRIPPABLE = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
#: Largest picture decoded for a copy (pixels); a larger one is refused rather than risk memory.
MAX_PIXELS = 80_000_000


def strip_metadata(original: BinaryIO, media_type: str) -> bytes:
    """Return the image re-encoded in its own format with every metadata block left out."""
    image_format = STRIPPABLE.get(media_type)
    if image_format is None:
        raise ValidationProblem.single(
            "body.method", "strip_metadata needs a JPEG, PNG or WebP image", "unsupported_media_type"
        )
    with Image.open(original) as image:
        if image.width * image.height > MAX_PIXELS:
            raise ValidationProblem.single(
                "body.method", f"the image has more than {MAX_PIXELS} pixels", "too_large"
            )
        orientation = image.getexif().get(0x0112, 1)
        options: dict[str, object] = {}
        icc_profile = image.info.get("icc_profile")
        if icc_profile:
            options["icc_profile"] = icc_profile
        if image_format == "JPEG":
            options["comment"] = b""  # Pillow would otherwise copy the original's COM segment
        if image_format == "JPEG" and orientation in (None, 1):
            picture: Image.Image = image
            options["quality"] = "keep"
        else:
            picture = ImageOps.exif_transpose(image)
            if image_format == "JPEG":
                options["quality"] = 95
        if image_format == "WEBP":
            options["lossless"] = image.info.get("lossless", False)
            if not options["lossless"]:
                options["quality"] = 95
        out = io.BytesIO()
        # No exif=, xmp= or pnginfo= given: Pillow writes none of those blocks.
        picture.save(out, format=image_format, **options)
    return out.getvalue()


# ---- release copies: what an external audience may receive ----------------------------------------------

#: Image types Pillow decodes whose pixels a release copy is made from (by sniffed media type).
DECODABLE_IMAGES = frozenset(
    {"image/jpeg", "image/png", "image/webp", "image/gif", "image/tiff", "image/bmp"}
)
#: Types a release copy can be made of: decoded images, and PDFs rendered page by page.
RELEASABLE = DECODABLE_IMAGES | {"application/pdf"}
#: Sniffed types whose release copy is re-encoded from decoded sound and pictures (``api.evidence.media``).
MEDIA_PREFIXES = ("audio/", "video/")
#: Pages of a PDF rendered for release; a longer document is refused (withheld), not cut short.
MAX_PDF_PAGES = 300
#: Rendering resolution of PDF pages: readable print, no more.
PDF_DPI = 150
#: What a re-opened release image may say about itself: geometry and encoding, never a text or a profile.
_SAFE_IMAGE_INFO = frozenset(
    {"jfif", "jfif_version", "jfif_unit", "jfif_density", "dpi", "progressive", "progression", "adobe",
     "adobe_transform", "transparency", "gamma", "aspect", "interlace", "loop", "duration", "background",
     "lossless", "compression"}
)  # fmt: skip
#: Members of a release PDF's Info dictionary: the two dates Pillow writes, nothing about the original.
_SAFE_PDF_INFO = frozenset({"/CreationDate", "/ModDate"})


def release_copy(original: BinaryIO, media_type: str) -> tuple[bytes, str]:
    """Return (bytes, media type) of a copy made from the decoded content, checked to carry no metadata.

    Nothing of the original's container survives: an image is rebuilt from its pixels (orientation applied,
    colours converted to sRGB, no profile, no EXIF/XMP/IPTC/comment/text chunk); a PDF is rendered page by
    page with PDFium and the pages written as a new image-only PDF (no text layer, no XMP, no document
    information beyond two dates). The copy is then re-opened and refused unless it says nothing more.
    Audio and video are re-made by ``api.evidence.media``, and leave only once a person approved the copy.
    """
    # Hostile files make decoders warn (a broken EXIF block, say); what counts is whether the copy is made.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if media_type in DECODABLE_IMAGES:
            made, made_type = _image_from_pixels(original, media_type)
        elif media_type == "application/pdf":
            made, made_type = _pdf_from_pixels(original), "application/pdf"
        else:
            raise ReleaseRefused(
                f"no release copy can be made of {media_type}: only images and PDFs are re-made"
            )
        check_release_copy(made, made_type)
    return made, made_type


def is_media(media_type: str) -> bool:
    """Whether a release copy of this type is a recording re-encoded by ``api.evidence.media``."""
    return media_type.startswith(MEDIA_PREFIXES)


def _pixels(image: Image.Image) -> Image.Image:
    """Return a new image holding only the picture as seen: orientation applied, sRGB, no info at all."""
    if image.width * image.height > MAX_PIXELS:
        raise ReleaseRefused(f"the image has more than {MAX_PIXELS} pixels")
    upright = ImageOps.exif_transpose(image)
    profile = image.info.get("icc_profile")
    alpha = upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info
    mode = "RGBA" if alpha else ("L" if upright.mode in ("1", "L", "I;16") else "RGB")
    converted = upright.convert(mode)
    if profile and mode != "L":
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
            srgb = ImageCms.createProfile("sRGB")
            converted = ImageCms.profileToProfile(converted, source, srgb, outputMode=mode) or converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # an unreadable profile is dropped; the pixels stay as decoded
    # frombytes builds a fresh image: no info dictionary, no palette, nothing of the original object.
    return Image.frombytes(mode, converted.size, converted.tobytes())


def _image_from_pixels(original: BinaryIO, media_type: str) -> tuple[bytes, str]:
    """Rebuild an image from its pixels: JPEG stays JPEG (quality 92), everything else becomes PNG."""
    try:
        with Image.open(original) as image:
            image.load()
            picture = _pixels(image)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ReleaseRefused(f"the image could not be decoded ({type(exc).__name__})") from exc
    out = io.BytesIO()
    if media_type == "image/jpeg" and picture.mode != "RGBA":
        picture.save(out, format="JPEG", quality=92, comment=b"")
        return out.getvalue(), "image/jpeg"
    picture.save(out, format="PNG")
    return out.getvalue(), "image/png"


def _pdf_from_pixels(original: BinaryIO) -> bytes:
    """Render every page with PDFium and write the pages as a new PDF of images (JPEG, quality 85)."""
    try:
        document = pdfium.PdfDocument(original.read())
    except pdfium.PdfiumError as exc:
        raise ReleaseRefused(f"the PDF could not be opened ({exc})") from exc
    try:
        if len(document) == 0 or len(document) > MAX_PDF_PAGES:
            raise ReleaseRefused(f"the PDF has {len(document)} pages (1 to {MAX_PDF_PAGES} are rendered)")
        pages = []
        for index in range(len(document)):
            bitmap = document[index].render(scale=PDF_DPI / 72)
            rendered = bitmap.to_pil()
            if rendered.width * rendered.height > MAX_PIXELS:
                raise ReleaseRefused(f"page {index + 1} renders to more than {MAX_PIXELS} pixels")
            pages.append(Image.frombytes("RGB", rendered.size, rendered.convert("RGB").tobytes()))
    except pdfium.PdfiumError as exc:
        raise ReleaseRefused(f"a page of the PDF could not be rendered ({exc})") from exc
    finally:
        document.close()
    out = io.BytesIO()
    pages[0].save(out, format="PDF", save_all=True, append_images=pages[1:], resolution=PDF_DPI, quality=85)
    return out.getvalue()


def check_release_copy(data: bytes, media_type: str) -> None:
    """Refuse a made copy that carries anything but its content: re-open it and list what it says."""
    if media_type == "application/pdf":
        _check_pdf(data)
        return
    with Image.open(io.BytesIO(data)) as image:
        extra = set(image.info) - _SAFE_IMAGE_INFO
        if extra or len(image.getexif()):
            raise ReleaseRefused(f"the copy still carries {sorted(extra) or ['EXIF']}")


def _check_pdf(data: bytes) -> None:
    """Refuse a release PDF with metadata, text, fonts or anything but one image per page."""
    reader = PdfReader(io.BytesIO(data))
    info = set(reader.metadata or {})
    if info - _SAFE_PDF_INFO or "/Metadata" in reader.root_object:
        raise ReleaseRefused(f"the PDF copy carries document metadata {sorted(info - _SAFE_PDF_INFO)}")
    for number, page in enumerate(reader.pages, 1):
        resources = page.get("/Resources") or {}
        objects = resources.get("/XObject") or {}
        kinds = {objects[name].get_object().get("/Subtype") for name in objects}
        if "/Font" in resources or kinds != {"/Image"}:
            raise ReleaseRefused(f"page {number} of the PDF copy holds more than one picture")
