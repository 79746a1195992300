"""`bgblur settings`: the settings schema."""
from __future__ import annotations

from .. import settings as schema


def cmd_settings(args) -> int:
    print(schema.schema_markdown() if args.markdown else schema.schema_json())
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("settings", help="print the settings schema as JSON")
    p.add_argument("--markdown", action="store_true", help="print it as the README's table instead")
    p.set_defaults(func=cmd_settings)
