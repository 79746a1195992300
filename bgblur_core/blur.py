"""Background blurs: the seed's exact 25x25 Gaussian, and a fast one whose strength follows the frame.

`Pyramid` holds one frame's successive 2x area-averaged halvings, made once per frame on demand
and shared by the model input, the refiner's guide and the fast blur (not three downscales).
"""
from __future__ import annotations

import cv2
import numpy as np

from .seed import SEED_KERNEL


class Pyramid:
    """A frame and its halvings by INTER_AREA (OpenCV's fast 2x2 average), each made once, when first asked for."""

    def __init__(self, frame: np.ndarray):
        self.levels = [frame]

    @property
    def frame(self) -> np.ndarray:
        return self.levels[0]

    def level(self, k: int) -> np.ndarray:
        """The frame halved k times (sides w // 2**k, h // 2**k, at least 1)."""
        while len(self.levels) <= k:
            img = self.levels[-1]
            h, w = img.shape[:2]
            self.levels.append(cv2.resize(img, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA))
        return self.levels[k]

    def at_least(self, size: tuple[int, int], region: tuple[int, int, int, int] | None = None) -> np.ndarray:
        """The smallest level with both sides at least size = (w, h) (the frame itself at worst); with
        `region` (x0, y0, x1, y1 in frame px), that region of the smallest level that keeps it so big."""
        height, width = self.levels[0].shape[:2]
        x0, y0, x1, y1 = region or (0, 0, width, height)
        k = 0
        while (x1 >> k + 1) - (x0 >> k + 1) >= size[0] and (y1 >> k + 1) - (y0 >> k + 1) >= size[1]:
            k += 1
        img = self.level(k)
        return img if region is None else img[y0 >> k:y1 >> k, x0 >> k:x1 >> k]

    def resized(self, size: tuple[int, int], dst: np.ndarray | None = None,
                region: tuple[int, int, int, int] | None = None) -> np.ndarray:
        """The frame, or its `region`, at size = (w, h): area-averaged from `at_least` (bilinear
        where that is not wider than the target)."""
        img = self.at_least(size, region)
        w, h = size
        if img.shape[1] == w and img.shape[0] == h:
            if dst is None:
                return img
            np.copyto(dst, img)
            return dst
        interp = cv2.INTER_AREA if img.shape[1] > w else cv2.INTER_LINEAR
        return cv2.resize(img, size, dst=dst, interpolation=interp)


def shrink(img: np.ndarray, size: tuple[int, int], dst: np.ndarray | None = None) -> np.ndarray:
    """Any image downscaled to size = (w, h): 2x halvings first (OpenCV's fast path), then area averaging."""
    return Pyramid(img).resized(size, dst)


FAST_REACH = 1.25  # the fast blur's downscale factor is at most this times sigma (PSNR >= 43 dB up to sigma 36)


def blur_sigma(strength: float, height: int) -> float:
    """The Gaussian's sigma in px for a blur `strength` (percent of the frame height)."""
    return strength / 100 * height


def blur_seed(frame: np.ndarray, sigma: float, pyramid: Pyramid | None = None,
              dst: np.ndarray | None = None, person: np.ndarray | None = None) -> np.ndarray:
    """The seed's own blur, byte for byte: a 25x25 Gaussian at full resolution (`sigma` and
    `person` do not apply)."""
    return cv2.GaussianBlur(frame, (SEED_KERNEL, SEED_KERNEL), 0, dst=dst)


def blur_fast(frame: np.ndarray, sigma: float, pyramid: Pyramid | None = None,
              dst: np.ndarray | None = None, person: np.ndarray | None = None) -> np.ndarray:
    """A Gaussian blur of `sigma` px, visually equivalent to the full-resolution one (PSNR >= 42 dB):
    blurred at 1/2, 1/4, 1/8... resolution, then scaled back up.

    The factor is the largest power of two not above 1.25 sigma, so a stronger blur runs on a
    smaller image and costs no more. Halving with INTER_AREA is OpenCV's fast 2x2 average; the
    averaging and the bilinear upscale already blur by a variance of factor^2 / 4 full-resolution
    px^2, so the small Gaussian only adds the rest. `pyramid`: the frame's halvings, when another stage
    has made them already. `person`: an alpha (frame size, 255 = person) whose pixels are kept out of
    the average (`blur_around`), so the person leaves no halo in the blurred background.
    """
    factor, k = 1, 0
    while factor * 2 <= FAST_REACH * sigma:
        factor *= 2
        k += 1
    if factor == 1:
        return cv2.GaussianBlur(frame, (0, 0), sigma, dst=dst)
    h, w = frame.shape[:2]
    small = (pyramid or Pyramid(frame)).level(k)
    s_small = max(0.5, ((sigma / factor) ** 2 - 0.25) ** 0.5)
    k_small = 2 * int(3 * s_small + 0.5) + 1
    if person is None:
        small = cv2.GaussianBlur(small, (k_small, k_small), s_small)
    else:
        small = blur_around(small, person, k_small, s_small)
    return cv2.resize(small, (w, h), dst=dst, interpolation=cv2.INTER_LINEAR)


# A pixel's weight in the background's average by its alpha: 1 for background, falling to PERSON_WEIGHT
# at a quarter person and above (a small pixel on the edge is part person). Not 0: where no background
# is near, the average is the person's own blur, never an empty one.
PERSON_WEIGHT = 0.001
BACKGROUND_WEIGHT = np.maximum(PERSON_WEIGHT, 1 - np.arange(256, dtype=np.float32) / 64).astype(np.float32)


def blur_around(small: np.ndarray, person: np.ndarray, ksize: int, sigma: float) -> np.ndarray:
    """`small` (uint8 BGR) Gaussian-blurred over its background only: a normalised convolution,
    blur(image x weight) / blur(weight), with the weight from `person` (any size, 255 = person)
    sampled at small's size. The person's colours do not smear into the background around them."""
    h, w = small.shape[:2]
    weight = cv2.LUT(cv2.resize(person, (w, h), interpolation=cv2.INTER_LINEAR), BACKGROUND_WEIGHT)
    total = cv2.GaussianBlur(cv2.multiply(small, cv2.merge([weight] * 3), dtype=cv2.CV_32F), (ksize, ksize), sigma)
    near = cv2.GaussianBlur(weight, (ksize, ksize), sigma)
    return cv2.divide(total, cv2.merge([near] * 3), dtype=cv2.CV_8U)


BLURS = {"exact": blur_seed, "fast": blur_fast}
