"""Image decoding/encoding with Pillow: every mode to RGB, EXIF orientation, bomb/truncation checks."""

from __future__ import annotations

import io
import math
import warnings

import torch
from PIL import Image, ImageChops, ImageOps, UnidentifiedImageError
from torch import Tensor
from torch.nn import functional as F

from .errors import FieldError, OverPixelLimit

DEFAULT_MAX_PIXELS = 64_000_000  # decoded pixels per image: a 50 MP phone photo fits, an 8K x 8K square just does
FORMATS = {"png": "PNG", "jpeg": "JPEG", "jpg": "JPEG", "webp": "WEBP"}


def decode(data: bytes, field_name: str = "image", max_pixels: int = DEFAULT_MAX_PIXELS, fit: int | None = None) -> Image.Image:
    """Bytes -> upright RGB PIL image. Animated images use their first frame. ``fit``: a longest side the
    caller needs at most; a bigger picture is shrunk on arrival (a JPEG decoded at a reduced scale already,
    so a 50 MP photo never lives at full size beside the job's tensors)."""
    img = to_rgb(_open(data, field_name, max_pixels, fit))
    if fit is not None and max(img.size) > fit:
        img = img.resize(fit_size(img.width, img.height, fit, minimum=1), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return img


def decode_mask(data: bytes, field_name: str = "mask", max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Bytes -> upright greyscale ("L") region mask, with the same checks as :func:`decode`."""
    return to_grey(_open(data, field_name, max_pixels))


def _open(data: bytes, field_name: str, max_pixels: int, fit: int | None = None) -> Image.Image:
    if not data:
        raise FieldError(field_name, "is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            # Only the header is read so far: refuse bombs before decoding any pixel data.
            width, height = img.size
            if width < 1 or height < 1:
                raise FieldError(field_name, "has no pixels")
            if width * height > max_pixels:
                raise OverPixelLimit(field_name, f"is {width}x{height} = {width * height / 1e6:.1f} megapixels, over the limit of "
                                             f"{max_pixels / 1e6:g} megapixels")
            img.seek(0)
            if fit is not None and max(width, height) > fit and img.format == "JPEG":
                # the DCT scales by 1/2, 1/4 or 1/8 while decoding, never below the size asked for
                scale = fit / max(width, height)
                img.draft(img.mode, (math.ceil(width * scale), math.ceil(height * scale)))
            img.load()
            img = ImageOps.exif_transpose(img)
    except FieldError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow's own guard fired while parsing the header (far beyond any sane size).
        raise OverPixelLimit(field_name, f"declares more pixels than the limit of {max_pixels} (decompression bomb refused)") from None
    except UnidentifiedImageError:
        raise FieldError(field_name, "is not a supported image (PNG, JPEG, WebP, GIF, BMP or TIFF)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        # Pillow reports truncated or corrupt data as OSError/SyntaxError; never echo file contents.
        raise FieldError(field_name, f"could not be decoded ({_reason(exc)})") from None
    return img


def _reason(exc: Exception) -> str:
    text = str(exc).lower()
    if "truncated" in text or "broken" in text or isinstance(exc, EOFError):
        return "truncated or corrupt data"
    return "corrupt data"


def to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode to RGB; transparency is composited on white."""
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16/32-bit greyscale: scale to 8 bits by the type's range instead of clipping at 255.
        peak = 65535.0 if img.mode.startswith("I;16") or (img.getextrema()[1] or 0) > 255 else 255.0
        img = img.point(lambda v: v * (255.0 / peak)).convert("L")
    if img.mode == "F":
        img = img.convert("L")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return img.convert("RGB") if img.mode != "RGB" else img


def to_grey(img: Image.Image) -> Image.Image:
    """Any Pillow mode to a greyscale mask ("L"). Transparency counts as black: a mask painted on a
    transparent canvas covers only what was painted (luminance x alpha)."""
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        return ImageChops.multiply(rgba.convert("RGB").convert("L"), rgba.getchannel("A"))
    return img if img.mode == "L" else to_rgb(img).convert("L")


def to_tensor(img: Image.Image) -> Tensor:
    """RGB PIL image -> float tensor 1x3xHxW in [0, 1]."""
    data = torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8)
    return data.view(img.height, img.width, 3).permute(2, 0, 1).unsqueeze(0).float().div_(255)


def to_pil(image: Tensor) -> Image.Image:
    """Tensor (1x)3xHxW in [0, 1] -> RGB PIL image."""
    if image.dim() == 4:
        image = image[0]
    array = image.detach().float().clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().contiguous()
    return Image.frombuffer("RGB", (array.shape[1], array.shape[0]), array.numpy().tobytes(), "raw", "RGB", 0, 1)


def encode(image: Tensor | Image.Image, fmt: str = "png", quality: int = 90) -> bytes:
    """Encode as PNG, JPEG or WebP."""
    pil = image if isinstance(image, Image.Image) else to_pil(image)
    key = fmt.lower()
    if key not in FORMATS:
        raise ValueError(f"format must be one of {sorted(FORMATS)}, got {fmt!r}")
    buffer = io.BytesIO()
    options = {"quality": quality} if FORMATS[key] in ("JPEG", "WEBP") else {"compress_level": 6}
    pil.save(buffer, FORMATS[key], **options)
    return buffer.getvalue()


def fit_size(width: int, height: int, longest: int, minimum: int = 16) -> tuple[int, int]:
    """(w, h) with the longest side == ``longest`` and the aspect ratio kept (short side >= minimum)."""
    scale = longest / max(width, height)
    return max(minimum, round(width * scale)), max(minimum, round(height * scale))


def resize(image: Tensor, size: tuple[int, int]) -> Tensor:
    """Resize a 1x3xHxW tensor to (w, h); antialiased when shrinking."""
    w, h = size
    if image.shape[-1] == w and image.shape[-2] == h:
        return image
    shrinking = w < image.shape[-1] or h < image.shape[-2]
    return F.interpolate(image, size=(h, w), mode="bicubic", align_corners=False, antialias=shrinking).clamp_(0, 1)


def rgb_to_ycbcr(image: Tensor) -> Tensor:
    """ITU-R BT.601 full-range YCbCr, channels on dim -3, values in [0, 1]."""
    r, g, b = image.unbind(-3)
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = 0.5 + (b - y) * 0.564
    cr = 0.5 + (r - y) * 0.713
    return torch.stack((y, cb, cr), dim=-3)


def ycbcr_to_rgb(image: Tensor) -> Tensor:
    y, cb, cr = image.unbind(-3)
    r = y + 1.403 * (cr - 0.5)
    g = y - 0.714 * (cr - 0.5) - 0.344 * (cb - 0.5)
    b = y + 1.773 * (cb - 0.5)
    return torch.stack((r, g, b), dim=-3).clamp(0, 1)


def keep_colors(stylised: Tensor, content: Tensor) -> Tensor:
    """Luminance from ``stylised``, chroma from ``content`` (jcjohnson's -original_colors)."""
    content = resize(content, (stylised.shape[-1], stylised.shape[-2]))
    y = rgb_to_ycbcr(stylised)[..., :1, :, :]
    chroma = rgb_to_ycbcr(content)[..., 1:, :, :]
    return ycbcr_to_rgb(torch.cat((y, chroma), dim=-3))
