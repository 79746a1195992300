"""Segmenter registry: engine name -> a callable frame -> uint8 mask (255 = person)."""
from __future__ import annotations


def make_segmenter(settings):
    engine = settings.engine
    if engine == "hsv":
        from .hsv import HsvSegmenter
        return HsvSegmenter(settings)
    if engine in ("selfie", "selfie-landscape"):
        from .neural import make_neural_segmenter
        return make_neural_segmenter(settings)
    if engine == "plate":
        from .plate import PlateSegmenter
        return PlateSegmenter(settings)
    raise ValueError(f"engine: unknown engine {engine!r}")
