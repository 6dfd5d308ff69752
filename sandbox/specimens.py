"""Specimen images drawn with Pillow: an ID-card-like front and back, a cartoon
face and a liveness "best frame". All are plainly marked SPECIMEN and contain no
photograph of anyone. Generated on first use and cached in memory."""

from __future__ import annotations

import io
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

KINDS = ("front_document", "back_document", "face_image", "best_frame")
CARD_SIZE = (640, 404)
RED = (200, 20, 30)
INK = (30, 40, 60)


@lru_cache(maxsize=8)
def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType sizing
        return ImageFont.load_default()


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, format="JPEG", quality=70, optimize=True)
    return out.getvalue()


def _stamp(image: Image.Image) -> Image.Image:
    """A big diagonal SPECIMEN across the picture."""
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    text_layer = Image.new("RGBA", (image.width * 2, image.height // 2), (0, 0, 0, 0))
    draw = ImageDraw.Draw(text_layer)
    font = _font(max(24, image.width // 7))
    draw.text((text_layer.width // 2, text_layer.height // 2), "SPECIMEN", font=font, fill=RED + (150,), anchor="mm")
    rotated = text_layer.rotate(25, expand=True)
    overlay.paste(rotated, ((image.width - rotated.width) // 2, (image.height - rotated.height) // 2), rotated)
    return Image.alpha_composite(image.convert("RGBA"), overlay)


def _silhouette(image: Image.Image, box: tuple[int, int, int, int], *, skin=(240, 200, 160)) -> None:
    """A simple cartoon head and shoulders, clipped to box."""
    w, h = box[2] - box[0], box[3] - box[1]
    portrait = Image.new("RGBA", (w, h), (205, 220, 235, 255))
    draw = ImageDraw.Draw(portrait)
    x0, y0, x1, y1 = 0, 0, w, h
    draw.ellipse((x0 + w * 0.12, y0 + h * 0.68, x1 - w * 0.12, y1 + h * 0.35), fill=(70, 90, 130))
    draw.ellipse((x0 + w * 0.28, y0 + h * 0.14, x1 - w * 0.28, y0 + h * 0.66), fill=skin)
    eye_y = y0 + h * 0.36
    for ex in (x0 + w * 0.41, x0 + w * 0.59):
        draw.ellipse((ex - w * 0.025, eye_y - w * 0.025, ex + w * 0.025, eye_y + w * 0.025), fill=INK)
    draw.arc((x0 + w * 0.42, y0 + h * 0.42, x1 - w * 0.42, y0 + h * 0.56), 20, 160, fill=INK, width=max(2, w // 60))
    image.paste(portrait, box[:2])


def _card_base(title: str) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    image = Image.new("RGBA", CARD_SIZE, (225, 236, 248, 255))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((4, 4, CARD_SIZE[0] - 5, CARD_SIZE[1] - 5), radius=24, outline=(120, 150, 190), width=4)
    draw.rectangle((4, 28, CARD_SIZE[0] - 5, 70), fill=(40, 90, 160))
    draw.text((24, 49), title, font=_font(24), fill=(255, 255, 255), anchor="lm")
    return image, draw


@lru_cache(maxsize=64)
def front_document(name: str = "NAMA CONTOH", number: str = "000000-00-0000") -> bytes:
    image, draw = _card_base("KAD PENGENALAN - SPECIMEN")
    _silhouette(image, (440, 100, 610, 320))
    draw.text((30, 110), "SANDBOX TEST DOCUMENT", font=_font(18), fill=RED)
    draw.text((30, 150), number[:20], font=_font(30), fill=INK)
    draw.text((30, 220), name.upper()[:28], font=_font(22), fill=INK)
    draw.text((30, 255), "NO 1 JALAN CONTOH", font=_font(16), fill=INK)
    draw.text((30, 277), "50000 KUALA LUMPUR", font=_font(16), fill=INK)
    draw.text((30, 340), "NOT A VALID IDENTITY DOCUMENT", font=_font(16), fill=RED)
    return _jpeg(_stamp(image))


@lru_cache(maxsize=64)
def back_document(number: str = "000000-00-0000-04-01") -> bytes:
    image, draw = _card_base("SPECIMEN - BACK")
    draw.rectangle((40, 110, 130, 180), fill=(212, 175, 55), outline=INK, width=2)
    for i in range(4):
        draw.line((40, 127 + i * 17, 130, 127 + i * 17), fill=INK, width=1)
    draw.text((30, 220), number[:26], font=_font(26), fill=INK)
    draw.text((30, 270), "SANDBOX TEST DOCUMENT", font=_font(18), fill=RED)
    draw.rectangle((380, 110, 600, 300), outline=(120, 150, 190), width=3)
    draw.text((490, 205), "CHIP", font=_font(28), fill=(120, 150, 190), anchor="mm")
    return _jpeg(_stamp(image))


@lru_cache(maxsize=1)
def face_image() -> bytes:
    image = Image.new("RGBA", (240, 300), (255, 255, 255, 255))
    _silhouette(image, (0, 0, 240, 300))
    return _jpeg(_stamp(image))


@lru_cache(maxsize=1)
def best_frame() -> bytes:
    image = Image.new("RGBA", (480, 360), (60, 60, 70, 255))
    _silhouette(image, (120, 20, 360, 340), skin=(230, 190, 150))
    draw = ImageDraw.Draw(image)
    draw.ellipse((110, 10, 370, 350), outline=(80, 220, 120), width=5)
    draw.text((12, 12), "LIVENESS SPECIMEN", font=_font(18), fill=(255, 255, 255))
    return _jpeg(_stamp(image))


def specimen(kind: str) -> bytes:
    """The generic image of one kind (the onboarding page shows these)."""
    return {
        "front_document": front_document,
        "back_document": back_document,
        "face_image": face_image,
        "best_frame": best_frame,
    }[kind]()
