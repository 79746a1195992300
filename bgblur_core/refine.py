"""Mask refinement, shared by all engines: mask (any resolution) + frame -> alpha at frame size.

Everything runs at a reduced work resolution and is scaled to the frame once, at the end:
  1. temporal smoothing of the probability, motion-aware (a pixel that moves follows at once);
  2. threshold, or a soft ramp around it;
  3. removal of small islands and holes;
  4. edge refinement: a guided filter steered by the frame itself;
  5. feathering outward, into the background, by `feather` px at output resolution.
"""
from __future__ import annotations

import cv2
import numpy as np

WORK_MAX_SIDE = 480  # the work resolution: the frame halved until its long side is at most this
SOFT_RAMP = 0.3  # soft mask: alpha ramps from 0 to 255 over this probability span around the threshold
# Temporal smoothing: the previous probability follows the optical flow, then keeps `temporal` weight
RESIDUAL_LEVELS = (24.0, 64.0)  # grey error of the flow warp (3x3 mean): reliable below, not at all above
FLIP_LEVEL = 128  # a change this big (0.5) keeps at most FLIP_KEEP: a flipped pixel is never 2 frames late
FLIP_KEEP = 0.7  # 0.7**2 < 0.5: after one more frame the flip is past the threshold
GUIDE_RADIUS = 0.012  # guided filter radius, as a share of the work image's diagonal
GUIDE_EPS = 0.02 ** 2  # guided filter regulariser (grey levels in 0..1, squared)
GUIDE_CLAMP = (0.15, 0.85)  # guided-filter output below the first is background, above the second person


def shrink(img: np.ndarray, size: tuple[int, int], dst: np.ndarray | None = None) -> np.ndarray:
    """Downscale to size=(w, h) by area averaging, halving first (OpenCV's fast 2x path)."""
    w, h = size
    while img.shape[1] >= 2 * w and img.shape[0] >= 2 * h:
        img = cv2.resize(img, (img.shape[1] // 2, img.shape[0] // 2), interpolation=cv2.INTER_AREA)
    if img.shape[1] == w and img.shape[0] == h:
        if dst is None:
            return img
        np.copyto(dst, img)
        return dst
    interp = cv2.INTER_AREA if img.shape[1] > w else cv2.INTER_LINEAR
    return cv2.resize(img, (w, h), dst=dst, interpolation=interp)


def work_size(width: int, height: int) -> tuple[int, int]:
    """The frame halved until its long side is at most WORK_MAX_SIDE."""
    while max(width, height) > WORK_MAX_SIDE:
        width, height = (width + 1) // 2, (height + 1) // 2
    return width, height


def _rise_lut(lo: float, hi: float, top: float = 1.0) -> np.ndarray:
    """float32 LUT: 0 below lo, `top` above hi, linear in between."""
    x = np.arange(256, dtype=np.float32)
    return (top * np.clip((x - lo) / (hi - lo), 0, 1)).astype(np.float32)


SUM3 = np.ones((1, 3), np.float32)


def to_u8(x: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """float32 -> uint8, scaled, rounded and saturated to 0..255."""
    return cv2.addWeighted(x, scale, x, 0.0, 0.0, dtype=cv2.CV_8U)


def box(img: np.ndarray, r: int) -> np.ndarray:
    return cv2.boxFilter(img, -1, (2 * r + 1, 2 * r + 1), borderType=cv2.BORDER_REFLECT)


def guided_filter(guide: np.ndarray, src: np.ndarray, r: int, eps: float, sub: int = 2) -> np.ndarray:
    """He et al.'s colour guided filter, "fast" variant: coefficients at 1/sub resolution.

    guide: HxWx3 uint8; src: HxW float32 in 0..1; r: radius in guide pixels. Box filters only
    (cv2.ximgproc is not part of opencv-python). Returns float32 HxW, about 0..1.
    """
    h, w = src.shape
    size = (max(1, w // sub), max(1, h // sub))
    r = max(1, round(r / sub))
    ic = [c.astype(np.float32) * np.float32(1 / 255) for c in cv2.split(shrink(guide, size))]
    p = shrink(src, size)
    mi = [box(c, r) for c in ic]
    mp = box(p, r)
    cr, cg, cb = (box(c * p, r) - m * mp for c, m in zip(ic, mi))

    def cov(i, j):
        return box(ic[i] * ic[j], r) - mi[i] * mi[j]

    rr, gg, bb = cov(0, 0) + eps, cov(1, 1) + eps, cov(2, 2) + eps
    rg, rb, gb = cov(0, 1), cov(0, 2), cov(1, 2)
    # a = inverse(covariance + eps) @ cov(I, p), by the 3x3 adjugate
    i_rr, i_rg, i_rb = gg * bb - gb * gb, gb * rb - rg * bb, rg * gb - gg * rb
    i_gg, i_gb, i_bb = rr * bb - rb * rb, rb * rg - rr * gb, rr * gg - rg * rg
    inv_det = 1 / (rr * i_rr + rg * i_rg + rb * i_rb)
    a_r = (i_rr * cr + i_rg * cg + i_rb * cb) * inv_det
    a_g = (i_rg * cr + i_gg * cg + i_gb * cb) * inv_det
    a_b = (i_rb * cr + i_gb * cg + i_bb * cb) * inv_det
    b = mp - a_r * mi[0] - a_g * mi[1] - a_b * mi[2]
    a = cv2.merge([box(a_r, r), box(a_g, r), box(a_b, r)]) * np.float32(1 / 255)
    a = cv2.resize(a, (w, h), interpolation=cv2.INTER_LINEAR)
    b = cv2.resize(box(b, r), (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.add(cv2.transform(cv2.multiply(a, guide, dtype=cv2.CV_32F), SUM3), b)


class TemporalSmoother:
    """Motion-compensated smoothing of the person probability, at work resolution.

    The previous smoothed probability is carried along the optical flow (DIS, at half the work
    resolution) onto the current frame, then blended in with weight `strength` where the warp
    explains the frame (small grey error). Where it does not (occlusion, motion the flow missed)
    the current probability is taken as is. Still regions are averaged over frames; a moving edge
    moves with the frame; and a pixel that flips keeps at most FLIP_KEEP of its past, so it is
    past the threshold one frame later at most.
    """

    def __init__(self, strength: float):
        self.strength = strength
        self._flow = cv2.DISOpticalFlow.create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        self._unreliable = _rise_lut(*RESIDUAL_LEVELS, top=strength)
        self._flip_cap = np.where(np.arange(256) >= FLIP_LEVEL, min(FLIP_KEEP, strength), strength).astype(np.float32)
        self._grid = None
        self.reset()

    def reset(self) -> None:
        self._prob = self._grey = self._half = None  # previous float32 probability x255, grey, half grey

    def adopt(self, other: "TemporalSmoother") -> None:
        self._prob, self._grey, self._half = other._prob, other._grey, other._half

    def __call__(self, prob: np.ndarray, grey: np.ndarray) -> np.ndarray:
        h, w = grey.shape
        half = cv2.resize(grey, (max(8, w // 2), max(8, h // 2)), interpolation=cv2.INTER_AREA)
        prev, prev_grey, prev_half = self._prob, self._grey, self._half
        self._grey, self._half = grey, half
        if prev is None or prev.shape != prob.shape:
            self._prob = prob.astype(np.float32)
            return prob
        where = self._warp_map(half, prev_half, (w, h))
        prev = cv2.remap(prev, where, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        prev_grey = cv2.remap(prev_grey, where, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        residual = cv2.blur(cv2.absdiff(grey, prev_grey), (3, 3))
        keep = self.strength - cv2.LUT(residual, self._unreliable)
        now = prob.astype(np.float32)
        change = cv2.absdiff(prob, cv2.convertScaleAbs(prev))
        keep = cv2.min(keep, cv2.LUT(change, self._flip_cap))
        now += keep * (prev - now)
        self._prob = now
        return cv2.convertScaleAbs(now)

    def _warp_map(self, half: np.ndarray, prev_half: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """For each work pixel, where it was in the previous frame (CV_32FC2 map for remap)."""
        w, h = size
        flow = self._flow.calc(half, prev_half, None)  # current -> previous, at half resolution
        flow = cv2.resize(flow, size, interpolation=cv2.INTER_LINEAR)
        if self._grid is None or self._grid.shape[:2] != (h, w):
            xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
            self._grid = cv2.merge([xs, ys])
        scale = np.float32(w / half.shape[1])
        return cv2.scaleAdd(flow, scale, self._grid)


class MaskRefiner:
    """The refinement steps of settings group "refine", with the temporal state they need."""

    def __init__(self, settings):
        self.threshold = settings.mask_threshold * 255
        self.soft = settings.soft_mask
        self.temporal = settings.temporal
        self.min_region = settings.min_region / 100
        self.feather = settings.feather
        self.edge_refine = settings.edge_refine
        self.smooth = TemporalSmoother(self.temporal)
        x = np.arange(256, dtype=np.float32)
        lo, hi = GUIDE_CLAMP
        self._clamp = to_u8((x - lo * 255) / (hi - lo))
        if self.soft:
            self._cut = to_u8((x - self.threshold) / SOFT_RAMP + 127.5)
        else:
            self._cut = np.where(x >= self.threshold, 255, 0).astype(np.uint8)
        self.reset()

    def reset(self) -> None:
        """Forget the temporal state: a new sequence starts."""
        self.smooth.reset()

    def adopt(self, other: "MaskRefiner") -> None:
        """Carry on from another refiner's temporal state (settings changed mid-stream)."""
        self.smooth.adopt(other.smooth)

    def __call__(self, mask: np.ndarray, frame: np.ndarray) -> np.ndarray:
        height, width = frame.shape[:2]
        size = work_size(width, height)
        small = shrink(frame, size)
        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        prob = shrink(mask, size) if mask.shape[1] >= size[0] else cv2.resize(mask, size, interpolation=cv2.INTER_LINEAR)
        if self.temporal > 0:
            prob = self.smooth(prob, grey)
        alpha = self.cut(prob)
        if self.min_region > 0:
            alpha = remove_small_regions(alpha, self.min_region)
        if self.edge_refine:
            alpha = self.snap_to_edges(alpha, small)
        feather = self.feather * size[0] / width
        if feather > 0:
            alpha = feather_outward(alpha, feather)
        alpha = cv2.resize(alpha, (width, height), interpolation=cv2.INTER_LINEAR)
        if not self.soft and self.feather == 0:
            cv2.threshold(alpha, 127, 255, cv2.THRESH_BINARY, dst=alpha)
        return alpha

    def cut(self, prob: np.ndarray) -> np.ndarray:
        """Threshold the probability, or ramp it over SOFT_RAMP around the threshold."""
        return cv2.LUT(prob, self._cut)

    def snap_to_edges(self, alpha: np.ndarray, small: np.ndarray) -> np.ndarray:
        """Guided filter: the alpha's edges move onto the frame's own colour edges."""
        h, w = alpha.shape
        r = max(1, round(GUIDE_RADIUS * (w * w + h * h) ** 0.5))
        src = alpha.astype(np.float32) * np.float32(1 / 255)
        return cv2.LUT(to_u8(guided_filter(small, src, r, GUIDE_EPS), 255.0), self._clamp)


def remove_small_regions(alpha: np.ndarray, share: float) -> np.ndarray:
    """Clear person islands and fill inner holes smaller than `share` of the image."""
    min_area = share * alpha.size
    person = (alpha >= 128).view(np.uint8)
    for value, region in ((0, person), (255, 1 - person)):
        n, labels, stats, _ = cv2.connectedComponentsWithStats(region, connectivity=8)
        small = stats[:, cv2.CC_STAT_AREA] < min_area
        small[0] = False  # label 0 is the other class
        if value == 255:  # a hole touching the border is background, not a hole
            x, y, w, h = (stats[:, k] for k in (cv2.CC_STAT_LEFT, cv2.CC_STAT_TOP, cv2.CC_STAT_WIDTH, cv2.CC_STAT_HEIGHT))
            small &= (x > 0) & (y > 0) & (x + w < alpha.shape[1]) & (y + h < alpha.shape[0])
        if small.any():
            alpha[small[labels]] = value
    return alpha


def feather_outward(alpha: np.ndarray, width: float) -> np.ndarray:
    """Fade from the person's edge outward over `width` px (work resolution); the person stays opaque."""
    outside = cv2.compare(alpha, 128, cv2.CMP_LT)
    dist = cv2.distanceTransform(outside, cv2.DIST_L2, 3)
    ramp = np.clip(1 - dist * (1 / width), 0, 1)
    ramp *= ramp * 255  # quadratic fall-off: the half level close to the edge, a long soft tail
    return cv2.max(alpha, ramp.astype(np.uint8))


def make_refiner(settings) -> MaskRefiner:
    return MaskRefiner(settings)
