"""Segmenter registry: engine name -> a factory settings -> segmenter (frame -> uint8 mask, 255 = person).

Engines are registered by `register_engine(name, factory)`, like pyvirtualcam's `register_backend`.
The built-in ones are registered lazily (`lazy`), so that hsv runs without the neural runtimes.
Every engine in `settings.ENGINES` has a factory here.
"""
from __future__ import annotations

import importlib
from typing import Callable

from ..stages import StageError

ENGINES: dict[str, Callable] = {}


def register_engine(name: str, factory: Callable) -> None:
    """`factory(settings)` returns the segmenter of engine `name`."""
    ENGINES[name] = factory


def lazy(module: str, attr: str) -> Callable:
    """A factory that imports `module` (relative to this package) only when the engine is first made."""
    def target():
        return getattr(importlib.import_module(module, __name__), attr)

    def factory(settings):
        return target()(settings)
    factory.target = target  # the class (or function) that makes the engine, for engine_rule()
    return factory


def engine_rule(engine: str, rule: str, default):
    """An engine's rule, a class attribute such as `needs_plate`, read without building the engine."""
    factory = ENGINES.get(engine)
    return getattr(getattr(factory, "target", lambda: factory)(), rule, default)


def make_segmenter(settings):
    factory = ENGINES.get(settings.engine)
    if factory is None:
        raise StageError(f"engine: no engine named {settings.engine!r}; registered: {', '.join(ENGINES)}")
    return factory(settings)


register_engine("hsv", lazy(".hsv", "HsvSegmenter"))
register_engine("selfie", lazy(".neural", "make_neural_segmenter"))
register_engine("selfie-landscape", lazy(".neural", "make_neural_segmenter"))
register_engine("plate", lazy(".plate", "PlateSegmenter"))
register_engine("rvm", lazy(".matting", "make_rvm_segmenter"))
