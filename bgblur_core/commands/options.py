"""What the subcommands share: one-line argparse errors, a flag for every setting, settings from the flags."""
from __future__ import annotations

import argparse
import json
import os

from .. import settings as schema


class Parser(argparse.ArgumentParser):
    """argparse whose errors are one line: `bgblur run: error: ...; see bgblur run --help`."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}; see {self.prog} --help\n")


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
    """Defaults, then --settings FILE, then the environment's password, then flags, then `overrides`."""
    values = schema.load_file(args.settings) if getattr(args, "settings", None) else {}
    if os.environ.get(schema.PASSWORD_ENV):
        values["obs_password"] = os.environ[schema.PASSWORD_ENV]
    for s in schema.SCHEMA:
        v = getattr(args, s.name, None)
        if v is not None:
            values[s.name] = v
    values.update(overrides)
    return schema.validate(values)


def count(minimum: int):
    """An argparse type: an integer >= `minimum`."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r} is not allowed; expected an integer >= {minimum}")
        return value
    return parse


def seconds(text: str) -> float:
    """An argparse type: a number of seconds above 0."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not allowed; expected a number of seconds above 0")
    return value
