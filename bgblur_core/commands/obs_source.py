"""`bgblur obs-source`: make sure the current OBS scene shows the core's output."""
from __future__ import annotations

from .options import add_setting_flags, settings_from_args


def cmd_obs_source(args) -> int:
    from ..control.obs_client import connect_or_fail
    from ..control.obs_source import ensure_source
    settings = settings_from_args(args, obs_enabled=True)
    client = connect_or_fail(settings)
    try:
        print(ensure_source(client, settings))
    finally:
        client.close()
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("obs-source", help="make sure the current OBS scene has an input showing the core's "
                                                  "output (obs-websocket; password from BGBLUR_OBS_PASSWORD)")
    add_setting_flags(p)
    p.set_defaults(func=cmd_obs_source)
