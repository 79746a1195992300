"""Mask refinement, shared by all engines: mask (any resolution) + frame -> alpha at frame size.

Everything runs at a reduced resolution and is scaled to the frame once, at the end:
  1. temporal smoothing of the probability, motion-compensated (it follows the optical flow);
  2. threshold, or a soft ramp around it;
  3. removal of small islands and holes;
  4. edge refinement: a colour guided filter steered by the frame itself;
  5. feathering outward, into the background, by `feather` px at output resolution.
Steps 1-3 run on the model's own grid when it fits in the frame and in WORK_MAX_SIDE, so that
nothing of its output is lost; 4-5 look at the frame and run at the work size (the frame's long
side scaled to WORK_MAX_SIDE). When neither runs, the cut (2) is made at frame size: refinement
with no other step then gives exactly the raw model's mask.
Reduced-resolution float arrays live in reused buffers: allocating them anew each frame costs
more than the arithmetic (fresh pages from the OS).
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from .blur import shrink
from .buffers import Buffers
from .stages import Box, FrameContext

WORK_MAX_SIDE = 320  # the work resolution: the frame scaled down to this long side (about the model's)
SOFT_RAMP = 0.3  # soft mask: alpha ramps from 0 to 255 over this probability span around the threshold
# Temporal smoothing: the previous probability follows the optical flow, then keeps `temporal` weight
RESIDUAL_LEVELS = (16.0, 48.0)  # grey error of the flow warp (3x3 mean): reliable below, not at all above
GUIDE_RADIUS = 0.02  # guided filter radius, as a share of the work image's diagonal (an engine may fit its own)
GUIDE_EPS = 0.02 ** 2  # guided filter regulariser (colour levels in 0..1, squared)
GUIDE_CLAMP = (0.3, 0.7)  # guided filter output below the first is background, above the second person
SUM3 = np.ones((1, 3), np.float32)
# Feather profile over 0..255 steps of its width: quadratic, the half level close to the edge.
FEATHER_LUT = np.round(255 * (1 - np.arange(256) / 255) ** 2).astype(np.uint8)
# A fade at most this wide (work px) reaches no pixel outside: the nearest one is 0.955 px away
# (DIST_L2's 3x3 step), where the fade is already 0. Then feathering only makes the person solid.
FADE_REACHES_OUT = 1.0
SOLID_LUT = np.where(np.arange(256) >= 128, 255, np.arange(256)).astype(np.uint8)
HALF_CUT = np.where(np.arange(256) >= 128, 255, 0).astype(np.uint8)  # the hard cut of an alpha at the half level


def work_size(width: int, height: int) -> tuple[int, int]:
    """The frame scaled down so that its long side is at most WORK_MAX_SIDE."""
    scale = min(1.0, WORK_MAX_SIDE / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def refine_grid(mask_shape: tuple[int, ...], width: int, height: int) -> tuple[int, int]:
    """The grid (w, h) the probability is refined on: the mask's own when it is no bigger than the
    frame and WORK_MAX_SIDE on its long side, else the work size."""
    mh, mw = mask_shape[:2]
    if mw <= width and mh <= height and max(mw, mh) <= WORK_MAX_SIDE:
        return mw, mh
    return work_size(width, height)


def rise_lut(lo: float, hi: float, top: float) -> np.ndarray:
    """float32 look-up table: 0 up to lo, `top` from hi, linear in between."""
    x = np.arange(256, dtype=np.float32)
    return (top * np.clip((x - lo) / (hi - lo), 0, 1)).astype(np.float32)


def to_u8(x: np.ndarray, scale: float = 1.0, dst: np.ndarray | None = None) -> np.ndarray:
    """float32 -> uint8: scaled, rounded and saturated to 0..255."""
    return cv2.addWeighted(x, scale, x, 0.0, 0.0, dst=dst, dtype=cv2.CV_8U)


def box(img: np.ndarray, r: int) -> np.ndarray:
    return cv2.boxFilter(img, -1, (2 * r + 1, 2 * r + 1), borderType=cv2.BORDER_REFLECT)


def guide_coefficients(guide: np.ndarray, src: np.ndarray, r: int, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """He et al.'s colour guided filter, the linear model per pixel: q = a . guide/255 + b.

    guide: HxWx3 uint8, src: HxW float32 in 0..1 (same size). Returns the box-averaged a (HxWx3)
    and b (HxW). Box filters only: cv2.ximgproc is not part of opencv-python.
    """
    ic = [c.astype(np.float32) * np.float32(1 / 255) for c in cv2.split(guide)]
    mi = [box(c, r) for c in ic]
    mp = box(src, r)
    cr, cg, cb = (box(c * src, r) - m * mp for c, m in zip(ic, mi))

    def cov(i, j):
        return box(ic[i] * ic[j], r) - mi[i] * mi[j]

    rr, gg, bb = cov(0, 0) + eps, cov(1, 1) + eps, cov(2, 2) + eps
    rg, rb, gb = cov(0, 1), cov(0, 2), cov(1, 2)
    # a = inverse(colour covariance + eps) @ cov(colour, src), by the 3x3 adjugate
    i_rr, i_rg, i_rb = gg * bb - gb * gb, gb * rb - rg * bb, rg * gb - gg * rb
    i_gg, i_gb, i_bb = rr * bb - rb * rb, rb * rg - rr * gb, rr * gg - rg * rg
    inv_det = 1 / (rr * i_rr + rg * i_rg + rb * i_rb)
    a_r = (i_rr * cr + i_rg * cg + i_rb * cb) * inv_det
    a_g = (i_rg * cr + i_gg * cg + i_gb * cb) * inv_det
    a_b = (i_rb * cr + i_gb * cg + i_bb * cb) * inv_det
    b = mp - a_r * mi[0] - a_g * mi[1] - a_b * mi[2]
    return cv2.merge([box(a_r, r), box(a_g, r), box(a_b, r)]), box(b, r)


class EdgeSnap:
    """Guided filter, "fast" variant: the linear model is fitted at half the work resolution
    (small arrays, cheap) and applied to the full work-resolution colour frame."""

    def __init__(self, radius: float = GUIDE_RADIUS, eps: float = GUIDE_EPS, clamp=GUIDE_CLAMP):
        self.radius, self.eps = radius, eps
        x = np.arange(256, dtype=np.float32)
        lo, hi = clamp
        self._clamp = to_u8((x - lo * 255) / (hi - lo))
        self._buf = Buffers()

    def box_radius(self, size: tuple[int, int]) -> int:
        """The box filters' radius at half the work size = (w, h)."""
        w, h = size
        return max(1, round(round(self.radius * (w * w + h * h) ** 0.5) / 2))

    def reach(self, size: tuple[int, int]) -> int:
        """How far (work px) the filter can move the alpha from where it is non-zero."""
        return 4 * self.box_radius(size) + 3

    def __call__(self, alpha: np.ndarray, small: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
        """alpha (uint8) snapped onto the edges of `small` (the frame at work size, uint8 BGR).
        `size`: the whole work image's, when these are a part of it (the radius follows the whole)."""
        h, w = alpha.shape
        half = (max(1, w // 2), max(1, h // 2))
        r = self.box_radius(size or (w, h))
        src = shrink(alpha, half).astype(np.float32) * np.float32(1 / 255)
        a, b = guide_coefficients(shrink(small, half), src, r, self.eps)
        buf = self._buf
        a_up = cv2.resize(a * np.float32(1 / 255), (w, h), dst=buf("a", (h, w, 3)), interpolation=cv2.INTER_LINEAR)
        q = cv2.resize(b, (w, h), dst=buf("q", (h, w)), interpolation=cv2.INTER_LINEAR)
        cv2.add(q, cv2.transform(cv2.multiply(a_up, small, dst=buf("aI", (h, w, 3)), dtype=cv2.CV_32F), SUM3,
                                 dst=buf("sum", (h, w))), dst=q)
        out = to_u8(q, 255.0, dst=buf("q8", (h, w), np.uint8))
        return cv2.LUT(out, self._clamp)


class TemporalSmoother:
    """Motion-compensated smoothing of the person probability, on the refinement grid (the model's own, or the work size).

    The previous smoothed probability is carried along the optical flow (DIS, at half the work
    resolution) onto the current frame, then blended in with weight `strength` where the warp
    explains the frame (small grey error); where it does not (occlusion, motion the flow missed)
    the current probability is taken as is. Still regions are averaged over frames and a moving
    edge moves with the frame. And a pixel whose person/background decision is late is never
    late twice: when the input has said the same for two frames running (a change, not
    flicker), the output takes it. So a moving edge is at most one frame behind.
    """

    def __init__(self, strength: float, threshold: float):
        self.strength, self.threshold = strength, threshold  # threshold: the probability x255 that is person
        self._flow = cv2.DISOpticalFlow.create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        self._unreliable = rise_lut(*RESIDUAL_LEVELS, top=strength)
        self._grid = None
        self._buf = Buffers()
        self.reset()

    def reset(self) -> None:
        # the previous frame's: smoothed probability x255 (float32), input decision (0/255), grey, half grey
        self._prob = self._side = self._grey = self._half = None

    def adopt(self, other: "TemporalSmoother") -> None:
        self._prob, self._side, self._grey, self._half = other._prob, other._side, other._grey, other._half
        if self._prob is not None:
            self._prob = self._prob.copy()  # ours from now on: our buffers take turns with it

    def __call__(self, prob: np.ndarray, grey: np.ndarray) -> np.ndarray:
        h, w = grey.shape
        half = cv2.resize(grey, (max(8, w // 2), max(8, h // 2)), interpolation=cv2.INTER_AREA)
        side = cv2.compare(prob, self.threshold, cv2.CMP_GE)
        prev, prev_side, prev_grey, prev_half = self._prob, self._side, self._grey, self._half
        self._side, self._grey, self._half = side, grey, half
        buf = self._buf
        spare = buf("prob_a", (h, w))
        now = buf("prob_b", (h, w)) if prev is spare else spare  # two buffers, taking turns
        np.copyto(now, prob)
        self._prob = now
        if prev is None or prev.shape != prob.shape:
            return prob
        where = self._warp_map(half, prev_half, (w, h))
        prev = cv2.remap(prev, where, None, cv2.INTER_LINEAR, dst=buf("prev", (h, w)), borderMode=cv2.BORDER_REPLICATE)
        prev_grey = cv2.remap(prev_grey, where, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        prev_side = cv2.remap(prev_side, where, None, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)
        residual = cv2.blur(cv2.absdiff(grey, prev_grey), (3, 3))
        keep = cv2.LUT(residual, self._unreliable, dst=buf("keep", (h, w)))
        cv2.subtract(self.strength, keep, dst=keep)  # strength where the warp is reliable, 0 where not
        cv2.subtract(prev, now, dst=prev)
        cv2.multiply(prev, keep, dst=prev)
        cv2.add(now, prev, dst=now)  # now + keep * (prev - now)
        # late twice: the input said the same last frame, and the output still says otherwise
        late = cv2.bitwise_and(cv2.compare(side, prev_side, cv2.CMP_EQ),
                               cv2.compare(cv2.compare(now, self.threshold, cv2.CMP_GE), side, cv2.CMP_NE))
        current = buf("current", (h, w))
        np.copyto(current, prob)
        cv2.copyTo(current, late, now)
        return cv2.convertScaleAbs(now)

    def _warp_map(self, half: np.ndarray, prev_half: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """For each work pixel, where it was in the previous frame (CV_32FC2 map for remap)."""
        w, h = size
        flow = self._flow.calc(half, prev_half, None)  # current -> previous, at half resolution
        flow = cv2.resize(flow, size, dst=self._buf("flow", (h, w, 2)), interpolation=cv2.INTER_LINEAR)
        if self._grid is None or self._grid.shape[:2] != (h, w):
            xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
            self._grid = cv2.merge([xs, ys])
        return cv2.scaleAdd(flow, float(w / half.shape[1]), self._grid, dst=flow)


class HardCut:
    """No refinement (refine off, or auto for an engine that is not refined): the mask scaled to the
    frame and cut at the half level, 0/255, which the compositor applies with the seed's select.
    A mask already at frame size is taken as it is (the hsv engine's is 0/255): seed-exact."""

    hard = True

    def __init__(self):
        self._buf = Buffers()

    def __call__(self, mask: np.ndarray, ctx: FrameContext) -> tuple[np.ndarray, Box]:
        height, width = ctx.frame.shape[:2]
        if mask.shape != (height, width):
            mask = self.scaled(mask, width, height)
            cv2.threshold(mask, 127, 255, cv2.THRESH_BINARY, dst=mask)
        return mask, (0, 0, width, height)

    def scaled(self, mask: np.ndarray, width: int, height: int) -> np.ndarray:
        """The mask scaled to width x height (bilinear), in a reused buffer."""
        return cv2.resize(mask, (width, height), dst=self._buf("full", (height, width), np.uint8),
                          interpolation=cv2.INTER_LINEAR)

    def reset(self) -> None:
        pass

    def adopt(self, other) -> None:
        pass


class SoftMatte(HardCut):
    """No refinement for an engine whose output is already a soft matte (rvm, whose every
    refinement step lowers boundary F): the matte scaled to the frame as it is."""

    hard = False

    def __call__(self, mask: np.ndarray, ctx: FrameContext) -> tuple[np.ndarray, Box]:
        height, width = ctx.frame.shape[:2]
        box = cv2.boundingRect(mask)
        if mask.shape == (height, width):
            return mask, box
        return self.scaled(mask, width, height), scaled_box(box, mask.shape, width, height) if box[2] else box


def scaled_box(box: Box, shape: tuple[int, ...], width: int, height: int) -> Box:
    """A box (x, y, w, h) of an image of `shape`, on that image scaled to width x height, with a rim
    for what bilinear scaling spreads past it."""
    x, y, w, h = box
    fx, fy = width / shape[1], height / shape[0]
    x0, y0 = max(0, int(x * fx) - 2), max(0, int(y * fy) - 2)
    return x0, y0, min(width, int((x + w) * fx) + 3) - x0, min(height, int((y + h) * fy) + 3) - y0


class MaskRefiner:
    """The refinement steps of settings group "refine", with the temporal state they need."""

    hard = False

    def __init__(self, settings, radius: float = GUIDE_RADIUS, lean: float = 0.0):
        """`radius` and `lean` fit the edge snap to an engine's masks (its `snap_fit`): the guided
        filter's radius, and how far above the threshold the probability it starts from is cut (a
        positive lean starts it from the model's surer core and leaves the rest to the frame's edges)."""
        self.threshold = settings.mask_threshold * 255
        self.soft = settings.soft_mask
        self.temporal = settings.temporal
        self.min_region = settings.min_region / 100
        self.feather = settings.feather
        self.smooth = TemporalSmoother(self.temporal, self.threshold) if self.temporal > 0 else None
        self.snap = EdgeSnap(radius) if settings.edge_refine else None
        # With no step that looks at the frame, the cut is made at frame size, on the probability
        # scaled up: refinement with no other step gives exactly the raw model's mask.
        self.cut_late = self.snap is None and self.feather == 0
        if self.cut_late:
            self._cut, self.cut_at_frame = None, self.cut_lut(self.threshold)
        else:
            self._cut = self.cut_lut(self.threshold + (255 * lean if self.snap is not None else 0))
            self.cut_at_frame = HALF_CUT if not self.soft and self.feather == 0 else None
        self._buf = Buffers()
        self._full, self._full_box = None, (0, 0, 0, 0)  # the alpha's buffer, and where it may be non-zero

    def cut_lut(self, level: float) -> np.ndarray:
        """The look-up table that cuts a probability (x255) at `level`: a soft ramp around it, or hard."""
        x = np.arange(256, dtype=np.float32)
        if self.soft:
            return to_u8((x - level) / SOFT_RAMP + 127.5)
        return np.where(x >= level, 255, 0).astype(np.uint8)

    def reset(self) -> None:
        """Forget the temporal state: a new sequence starts."""
        if self.smooth is not None:
            self.smooth.reset()

    def adopt(self, other: "MaskRefiner") -> None:
        """Carry on from another refiner's temporal state (settings changed mid-stream)."""
        if self.smooth is not None and other.smooth is not None:
            self.smooth.adopt(other.smooth)

    def __call__(self, mask: np.ndarray, ctx: FrameContext) -> tuple[np.ndarray, Box]:
        """The alpha at frame size in a reused buffer (valid until the next call), and the box
        (x, y, w, h) outside which it is 0: only the box is scaled up, the rest is cleared."""
        height, width = ctx.frame.shape[:2]
        alpha, (x, y, w, h) = self.small_alpha(mask, ctx)
        out = self._buf("full", (height, width), np.uint8)
        if out is not self._full:  # a new buffer: all of it is to be cleared
            self._full, self._full_box = out, (0, 0, width, height)
        px, py, pw, ph = self._full_box  # outside the last box, the buffer is already 0
        out[py:py + ph, px:px + pw] = 0
        sx, sy = width // alpha.shape[1], height // alpha.shape[0]
        if w == 0:
            self._full_box = (0, 0, 0, 0)
            return out, (0, 0, 0, 0)
        if sx * alpha.shape[1] == width and sy * alpha.shape[0] == height:
            # a whole scale factor: the box scaled on its own is the same as the whole image scaled
            # (bilinear sampling lines up; the box's rim is 0 or the image's border)
            box = (x * sx, y * sy, w * sx, h * sy)
            cv2.resize(alpha[y:y + h, x:x + w], (w * sx, h * sy), dst=out[box[1]:box[1] + box[3], box[0]:box[0] + box[2]],
                       interpolation=cv2.INTER_LINEAR)
            self._full_box = box
        else:
            cv2.resize(alpha, (width, height), dst=out, interpolation=cv2.INTER_LINEAR)
            box = self._full_box = scaled_box((x, y, w, h), alpha.shape, width, height)
        if self.cut_at_frame is not None:
            roi = out[box[1]:box[1] + box[3], box[0]:box[0] + box[2]]
            cv2.LUT(roi, self.cut_at_frame, dst=roi)
        return out, box

    def small_alpha(self, mask: np.ndarray, ctx: FrameContext) -> tuple[np.ndarray, Box]:
        """The refined alpha at reduced resolution (see the module's notes), and the box (x, y, w, h)
        outside which it is 0."""
        height, width = ctx.frame.shape[:2]
        grid = refine_grid(mask.shape, width, height)
        if (mask.shape[1], mask.shape[0]) == grid:
            prob = mask
        elif mask.shape[1] >= grid[0] and mask.shape[0] >= grid[1]:
            prob = shrink(mask, grid)  # area-averaged, like the frame
        else:
            prob = cv2.resize(mask, grid, interpolation=cv2.INTER_LINEAR)
        size = work_size(width, height)
        small = ctx.pyramid.resized(size)  # area-averaged, from the frame's shared halvings
        if self.smooth is not None:
            grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
            if grid != size:  # bilinear: an area resize by a fraction costs 10 times more
                grey = cv2.resize(grey, grid, interpolation=cv2.INTER_LINEAR)
            prob = self.smooth(prob, grey)
        if self.cut_late:  # the probability, cut at frame size
            alpha, person = (prob.copy() if prob is mask and self.min_region > 0 else prob), self.threshold
        else:
            alpha, person = cv2.LUT(prob, self._cut), 128  # threshold, or a soft ramp around it
        if self.min_region > 0:
            alpha = remove_small_regions(alpha, self.min_region, person)
        if not self.cut_late:
            if grid != size:
                alpha = cv2.resize(alpha, size, interpolation=cv2.INTER_LINEAR)
            self.look_at_frame(alpha, small, width)
        return alpha, padded_box(alpha)

    def look_at_frame(self, alpha: np.ndarray, small: np.ndarray, width: int) -> None:
        """Edge refinement and feathering, in place, at the work size (`small`: the frame there; `width`:
        the frame's). They only run in the person's bounding box, grown by how far they can reach:
        elsewhere the alpha is 0 and they leave it so."""
        x, y, w, h = cv2.boundingRect(alpha)  # of the non-zero alpha
        if w == 0:
            return
        size = (alpha.shape[1], alpha.shape[0])
        feather = self.feather * size[0] / width
        grow = 2 + (self.snap.reach(size) if self.snap is not None else 0) + (int(feather) + 2 if self.feather > 0 else 0)
        # both ends even (or the image's side): the snap's half-size grid stays the same wherever the box is
        x0, y0 = max(0, (x - grow) & ~1), max(0, (y - grow) & ~1)
        x1, y1 = min(size[0], (x + w + grow + 1) & ~1), min(size[1], (y + h + grow + 1) & ~1)
        part = alpha[y0:y1, x0:x1]
        if self.snap is not None:
            part[:] = self.snap(part, small[y0:y1, x0:x1], size)
        if self.feather > 0:
            self.feather_outward(part, feather)

    def feather_outward(self, alpha: np.ndarray, width: float) -> np.ndarray:
        """The person solid down to the half level, fading from there outward over `width` px (work
        resolution). In place (`alpha` may be a view)."""
        if width <= FADE_REACHES_OUT:  # the default's case (2 px at 720p is 0.5 work px): no distances needed
            return cv2.LUT(alpha, SOLID_LUT, dst=alpha)
        outside = cv2.compare(alpha, 128, cv2.CMP_LT)
        dist = cv2.distanceTransform(outside, cv2.DIST_L2, 3)
        steps = cv2.convertScaleAbs(dist, alpha=255 / width)  # 0 at the edge, 255 from `width` out
        return cv2.max(alpha, cv2.LUT(steps, FEATHER_LUT), dst=alpha)


def padded_box(alpha: np.ndarray) -> Box:
    """The box (x, y, w, h) of the non-zero alpha with a rim of 0 around it (for a clean upscale);
    (0, 0, 0, 0) when all of it is 0."""
    x, y, w, h = cv2.boundingRect(alpha)
    if w == 0:
        return 0, 0, 0, 0
    x0, y0 = max(0, x - 1), max(0, y - 1)
    return x0, y0, min(alpha.shape[1], x + w + 1) - x0, min(alpha.shape[0], y + h + 1) - y0


def remove_small_regions(alpha: np.ndarray, share: float, person: float = 128) -> np.ndarray:
    """Clear person islands and fill inner holes smaller than `share` of the image, in place; person
    is alpha >= `person`.

    Only the person's bounding box is labelled: every island and hole lies inside it, and a gap
    touching the box's side joins the background around the box, which reaches the image border."""
    min_area = share * alpha.size
    below = math.ceil(person) - 1  # the highest level that is not person
    x, y, w, h = cv2.boundingRect(cv2.threshold(alpha, below, 255, cv2.THRESH_BINARY)[1])
    if w == 0:
        return alpha
    part = alpha[y:y + h, x:x + w]
    solid = cv2.threshold(part, below, 255, cv2.THRESH_BINARY)[1]  # (cv2.compare with a scalar trips on tiny views)
    for value, region in ((0, solid), (255, cv2.bitwise_not(solid))):
        n, labels = cv2.connectedComponents(region, connectivity=8, ltype=cv2.CV_32S)
        if n <= (2 if value == 0 else 1):
            continue  # label 0 (the other class) and no region, or only the person: nothing small to remove
        small = np.bincount(labels.ravel(), minlength=n) < min_area
        small[0] = False
        if value == 255:  # a hole touching the border is background, not a hole
            small[labels[[0, -1]]] = False
            small[labels[:, [0, -1]]] = False
        if small.any():
            part[small[labels]] = value
    return alpha


def make_refiner(settings, auto: bool = True, matte: bool = False, snap_fit: dict | None = None) -> MaskRefiner | HardCut:
    """The refiner `settings.refine` asks for, by the engine's rules: `auto`, whether refine=auto
    refines; `matte`, whether its unrefined output is a soft matte to keep as it is; `snap_fit`, the
    edge snap's radius and lean for its masks (MaskRefiner's)."""
    if settings.refine == "on" or (settings.refine == "auto" and auto):
        return MaskRefiner(settings, **(snap_fit or {}))
    return SoftMatte() if matte else HardCut()
