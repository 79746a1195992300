"""obs-bgblur's processing core: Source -> Segmenter -> Refiner -> Compositor -> Sink."""
__version__ = "0.1.0"
