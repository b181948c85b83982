"""Working copies derived from evidentiary originals (Berkeley Protocol: the original is never altered).

``strip_metadata`` re-encodes an image with Pillow without any metadata block: no EXIF (so no GPS, serial
numbers or owner names), no XMP, no IPTC, no comments, no text chunks. The picture is kept as it looks:
the EXIF orientation is applied to the pixels, the colour profile is kept, and a JPEG keeps its
quantisation tables (quality "keep") when no rotation was needed.
"""

from __future__ import annotations

import io
from typing import BinaryIO

import PIL
from PIL import Image, ImageOps

from api.problems import ValidationProblem

#: Derivation tool, named in the custody record of every derivation.
TOOL = f"Pillow {PIL.__version__}"
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
