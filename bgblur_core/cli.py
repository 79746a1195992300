"""The `bgblur` command. Every setting in the schema is a flag (`blur_method` -> `--blur-method`)."""
from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sys

from . import settings as schema
from .stages import StageError

# Modules that add their own subcommand through `register(subparsers)`.
SUBCOMMAND_MODULES = (
    "bgblur_core.models",
    "bgblur_core.maskcmd",
    "bgblur_core.segment.plate",
    "bgblur_core.bench",
    "bgblur_core.evaluate",
    "bgblur_core.control.obs_source",
)


def add_setting_flags(parser: argparse.ArgumentParser) -> None:
    """A flag for every setting but secrets, plus --settings FILE.json."""
    parser.add_argument("--settings", metavar="FILE.json", help="load settings from a JSON file (flags override it)")
    for group, items in schema.groups().items():
        g = parser.add_argument_group(f"{group} settings")
        for s in items:
            if s.secret:
                continue
            help_text = f"{s.help} [{s.allowed()}; default {json.dumps(s.default)}{' ' + s.unit if s.unit else ''}]".replace("%", "%%")
            if s.type is bool:
                g.add_argument(s.flag, dest=s.name, action=argparse.BooleanOptionalAction, default=None, help=help_text)
            else:
                g.add_argument(s.flag, dest=s.name, default=None, metavar=s.type.__name__.upper(), help=help_text)


def settings_from_args(args: argparse.Namespace, **overrides) -> schema.Settings:
    """Defaults, then --settings FILE, then the environment's password, then flags."""
    values: dict = {}
    if getattr(args, "settings", None):
        try:
            with open(args.settings, encoding="utf-8") as f:
                values.update(json.load(f))
        except OSError as e:
            raise schema.SettingsError(f"--settings: cannot read {args.settings}: {e.strerror}") from None
        except json.JSONDecodeError as e:
            raise schema.SettingsError(f"--settings: {args.settings} is not valid JSON: {e.msg} at line {e.lineno}") from None
    if os.environ.get(schema.PASSWORD_ENV):
        values["obs_password"] = os.environ[schema.PASSWORD_ENV]
    for s in schema.SCHEMA:
        v = getattr(args, s.name, None)
        if v is not None:
            values[s.name] = v
    values.update(overrides)
    return schema.validate(values)


def cmd_settings(args) -> int:
    print(schema.schema_markdown() if args.markdown else schema.schema_json())
    return 0


def cmd_run(args) -> int:
    settings = settings_from_args(args)
    from .runner import run
    return run(settings, frames=args.frames, stats=args.stats, control=args.control)


def cmd_demo(args) -> int:
    settings = settings_from_args(args)
    from .runner import demo
    return demo(settings, out_dir=args.out_dir, frames=args.frames, preview=args.preview)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bgblur", description="Background blur for a webcam, for OBS Studio and video calls.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run", help="run the live pipeline: camera -> blur -> virtual camera (or file, preview, OBS)")
    add_setting_flags(p)
    p.add_argument("--frames", type=int, metavar="N", help="stop after N frames")
    p.add_argument("--stats", action="store_true", help="print fps, per-stage ms, CPU ms and latency as a JSON line each second on stderr")
    p.add_argument("--control", choices=("none", "stdin"), default="none",
                   help="stdin: take JSON control lines on stdin, print status JSON lines on stdout, stop when stdin closes")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("demo", help="run on the webcam, or the built-in scene without one; write a video and a before/after still")
    add_setting_flags(p)
    p.add_argument("--out-dir", default="out", help="where demo.mp4 and demo.png go [default out]")
    p.add_argument("--frames", type=int, default=150, metavar="N", help="frames to process [default 150]")
    p.add_argument("--preview", action=argparse.BooleanOptionalAction, default=None,
                   help="show a preview window [default: when a display is available]")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("settings", help="print the settings schema as JSON")
    p.add_argument("--markdown", action="store_true", help="print it as the README's table instead")
    p.set_defaults(func=cmd_settings)

    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL) if hasattr(signal, "SIGPIPE") else None
    try:
        return args.func(args)
    except (schema.SettingsError, StageError) as e:
        print(f"bgblur: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
