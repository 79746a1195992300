"""Compositor: frame + alpha -> output frame (blur, privacy, image or colour replacement, light wrap)."""
from __future__ import annotations

import os

import cv2
import numpy as np

from .blur import BLURS, blur_sigma, shrink
from .buffers import Buffers
from .stages import StageError

BLEND_CHUNK = 192 * 1024  # bytes of a 3-channel row chunk blended at once (L2-sized temporaries)
WRAP_SCALE = 4  # light wrap is computed at 1/4 resolution: it is a soft glow
WRAP_WIDTH = 0.02  # how far the background's light reaches into the person, as a share of the frame width


def parse_color(text: str) -> tuple[int, int, int]:
    """'#rrggbb' -> (b, g, r)."""
    return int(text[5:7], 16), int(text[3:5], 16), int(text[1:3], 16)


def load_image(path: str) -> np.ndarray:
    """A background image as BGR, or a one-line StageError."""
    if not path:
        raise StageError("background_image: empty; set it to a .jpg or .png file for effect image")
    if not os.path.isfile(path):
        raise StageError(f"background_image: {path} does not exist; give an image file (.jpg, .png)")
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise StageError(f"background_image: cannot read {path} as an image; give a .jpg or .png file")
    return image


def cover(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale `image` to cover width x height (keeping its aspect), then crop the centre."""
    h, w = image.shape[:2]
    scale = max(width / w, height / h)
    sw, sh = max(width, round(w * scale)), max(height, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    scaled = cv2.resize(image, (sw, sh), interpolation=interp)
    x, y = (sw - width) // 2, (sh - height) // 2
    return np.ascontiguousarray(scaled[y:y + height, x:x + width])


class Compositor:
    """Keeps the person from `frame` where alpha is set, and the effect's background elsewhere.

    `hard` (the seed's select): alpha is 0/255 and is applied with a per-pixel copy, so the
    hsv engine with the exact blur is byte-identical to the seed. Otherwise alpha is blended
    in uint8 (no float frames). The replacement backgrounds are scaled once per frame size.
    A background image that cannot be read fails here, at construction, so the pipeline
    keeps its previous settings.
    """

    def __init__(self, settings, hard: bool):
        self.effect = settings.effect if settings.enabled else "none"
        self.blur = BLURS[settings.blur_method]
        self.strength = settings.blur_strength  # percent of the frame height: the same look at every size
        self.hard = hard
        self.light_wrap = settings.light_wrap if self.effect in ("image", "color") else 0.0
        self._image = load_image(settings.background_image) if self.effect == "image" else None
        self._color = parse_color(settings.background_color)
        self._fixed: dict[str, np.ndarray] = {}  # the replacement background (and its glow) at the frame's size
        self._buf = Buffers()

    def background(self, frame: np.ndarray, writable: bool = False, pyramid=None, dst=None,
                   person: np.ndarray | None = None) -> np.ndarray:
        """The effect's background at the frame's size; `writable`: a fresh array (or `dst`), not the cached one.
        `person`: the alpha, whose person the blur keeps out of the background (no halo around them)."""
        if self.effect in ("image", "color"):
            bg = self._replacement(frame.shape)
            if not writable:
                return bg
            if dst is None:
                return bg.copy()
            np.copyto(dst, bg)
            return dst
        return self.blur(frame, blur_sigma(self.strength, frame.shape[0]), pyramid, dst, person)

    def _replacement(self, shape: tuple[int, ...]) -> np.ndarray:
        bg = self._fixed.get("bg")
        if bg is None or bg.shape != shape:
            h, w = shape[:2]
            if self.effect == "image":
                bg = cover(self._image, w, h)
            else:
                bg = np.empty(shape, np.uint8)
                bg[:] = self._color
            self._fixed = {"bg": bg}
        return bg

    def __call__(self, frame: np.ndarray, alpha: np.ndarray | None, pyramid=None,
                 box: tuple[int, int, int, int] | None = None) -> np.ndarray:
        """The output frame (a new array). `pyramid`: the frame's shared halvings; `box`: (x, y, w, h)
        outside which alpha is 0, when known. Each path writes its result straight into the output
        (dst=), with no full-frame temporaries."""
        out = np.empty_like(frame)
        if self.effect == "none":
            np.copyto(out, frame)
        elif self.effect == "privacy" or alpha is None:
            self.background(frame, writable=True, pyramid=pyramid, dst=out)
        elif self.hard:
            self.background(frame, writable=True, pyramid=pyramid, dst=out)
            cv2.copyTo(frame, alpha, out)
        else:
            self.soft_composite(frame, alpha, out, pyramid, box)
        return out

    def soft_composite(self, frame: np.ndarray, alpha: np.ndarray, out: np.ndarray, pyramid=None, box=None) -> None:
        """The background (blurred without the person) everywhere, then the person blended in over it
        inside their bounding box only."""
        x, y, w, h = box if box is not None else cv2.boundingRect(alpha)  # of the non-zero alpha
        if self.light_wrap > 0:
            bg = self.background(frame, pyramid=pyramid)
            frame = self.wrap_light(frame, alpha, bg)
            np.copyto(out, bg)
        else:
            self.background(frame, writable=True, pyramid=pyramid, dst=out, person=alpha)
        if w and h:
            roi = (slice(y, y + h), slice(x, x + w))
            blend(frame[roi], out[roi], alpha[roi], self._buf, dst=out[roi])

    def wrap_light(self, frame: np.ndarray, alpha: np.ndarray, bg: np.ndarray) -> np.ndarray:
        """The person with the background's blurred light mixed into their edge (a new frame)."""
        h, w = alpha.shape
        small = (max(1, w // WRAP_SCALE), max(1, h // WRAP_SCALE))
        glow = self._fixed.get("glow")
        sigma = max(1.0, WRAP_WIDTH * small[0])
        if glow is None:  # the background is fixed: blur it once per size
            glow = cv2.resize(cv2.GaussianBlur(shrink(bg, small), (0, 0), sigma), (w, h), interpolation=cv2.INTER_LINEAR)
            self._fixed["glow"] = glow
        # weight: inside the person (alpha), near the edge (1 - blurred alpha), times the strength
        a = shrink(alpha, small)
        near_edge = cv2.GaussianBlur(a, (0, 0), sigma)
        weight = cv2.multiply(a, cv2.bitwise_not(near_edge), scale=2 * self.light_wrap / 255)
        weight = cv2.resize(weight, (w, h), interpolation=cv2.INTER_LINEAR)
        return blend(glow, frame, weight, self._buf)


def blend(fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray, buf: Buffers | None = None,
          dst: np.ndarray | None = None) -> np.ndarray:
    """fg where alpha is 255, bg where 0, mixed in between; uint8 throughout (a new frame, or `dst`,
    which may be bg itself).

    Each pixel is fg * a / 255 + bg * (255 - a) / 255, each product rounded: exact at 0 and
    255, within 1 level in between. Done a band of rows at a time, so the temporaries stay in
    cache; `buf` keeps them between calls (views into buffers that only grow).
    """
    buf = buf or Buffers()
    out = np.empty_like(bg) if dst is None else dst
    h, w = alpha.shape[:2]
    rows = max(8, BLEND_CHUNK // max(1, w * fg.shape[2]))  # a few rows at a time: the temporaries stay in cache
    for y in range(0, h, rows):
        part = slice(y, min(h, y + rows))
        _blend_rows(fg[part], bg[part], alpha[part], buf, out[part])
    return out


def _blend_rows(fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray, buf: Buffers, dst: np.ndarray) -> None:
    shape = fg.shape
    a3, part, rest = buf.view("a3", shape), buf.view("fg", shape), buf.view("bg", shape)
    cv2.cvtColor(alpha, cv2.COLOR_GRAY2BGR, dst=a3)
    cv2.multiply(fg, a3, scale=1 / 255, dst=part)
    cv2.bitwise_not(a3, dst=a3)
    cv2.multiply(bg, a3, scale=1 / 255, dst=rest)
    cv2.add(part, rest, dst=dst)

