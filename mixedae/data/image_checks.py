"""What is wrong with an encoded image, found before (or besides) decoding it.

* Size: the header's width x height against a pixel budget, before any decoder allocates
  the image (a 629-byte JPEG can claim 20000x20000: 1.2 GB of BGR pixels, seconds of
  decoding). JPEG headers are read with simplejpeg (libjpeg-turbo), other formats with
  Pillow (which keeps its own decompression-bomb limit, ``PIL.Image.MAX_IMAGE_PIXELS``).
* Truncation: libjpeg-turbo, which OpenCV and Pillow decode with, only *warns* when the
  entropy-coded data ends early ("premature end of data segment") and fills the rest of
  the image with grey, even more so when an end-of-image marker was appended to the cut
  data. simplejpeg's ``strict`` decoding turns libjpeg's warnings into errors; it decodes
  at 1/8 scale (the DCT's own scaling), which still reads every coefficient. Only the
  warnings that mean the data ended early count; others (e.g. "extraneous bytes before
  marker", common in web images that decode fine) are left to the decoder, as upstream
  does. PNG needs no such check: libpng fails on a cut stream, and the checked loader
  names the file.
"""
import io
import warnings

import simplejpeg
from PIL import Image

JPEG_MAGIC = b'\xff\xd8\xff'
# Far above the largest images of ImageNet-1K (about 6e7 px), COCO (640 px sides) and
# ADE20K (a few 1e7 px); a 1e8 px image decodes to 300 MB of BGR pixels.
DEFAULT_MAX_PIXELS = 100_000_000


def header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the header, or ``None`` if it cannot be read (the decoder
    then reports the file).

    Raises:
        ValueError: Pillow's own decompression-bomb limit refuses the header.
    """
    if data.startswith(JPEG_MAGIC):
        try:
            height, width, _, _ = simplejpeg.decode_jpeg_header(data)
            return width, height
        except ValueError:
            return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                return image.size
    except Image.DecompressionBombError as e:
        raise ValueError(str(e)) from None
    except Exception:   # noqa: BLE001  (unidentified or damaged: the decoder will say)
        return None


def size_problem(data: bytes, max_pixels: int) -> str:
    """Why the image is too large to decode ('' if it is not, or its header is unread)."""
    try:
        size = header_size(data)
    except ValueError as e:
        return f'image too large to decode ({e})'
    if size is None or size[0] * size[1] <= max_pixels:
        return ''
    width, height = size
    return (f'image header claims {width}x{height} = {width * height:,} pixels, more than '
            f'max_pixels={max_pixels:,}; not decoded')


def jpeg_data_problem(data: bytes) -> str:
    """Why a JPEG's entropy-coded data is cut short ('' if it is not, or not a JPEG)."""
    if not data.startswith(JPEG_MAGIC):
        return ''
    try:
        colorspace = simplejpeg.decode_jpeg_header(data)[2]
        simplejpeg.decode_jpeg(data, min_factor=8, strict=True, colorspace=(
            'CMYK' if colorspace in ('CMYK', 'YCCK') else 'GRAY'))
    except ValueError as e:
        if 'premature end' in str(e).lower():
            return f'truncated JPEG: the image data ends early ({e})'
    return ''
