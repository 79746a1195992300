"""`bgblur doctor`: what a run needs, checked: one table of ok/warn/fail lines with their fixes, or JSON."""
from __future__ import annotations

import json

from .. import doctor
from .options import add_setting_flags, settings_from_args


def cmd_doctor(args) -> int:
    checks = doctor.run_checks(settings_from_args(args))
    print(json.dumps(doctor.as_json(checks), indent=2) if args.json else doctor.table(checks), flush=True)
    return 0 if doctor.ok(checks) else 1


def register(subparsers) -> None:
    p = subparsers.add_parser("doctor", help="check what a run needs (Python, packages, models, cameras, virtual "
                                             "camera, OBS, display); exit 0 when nothing fails (warnings are fallbacks)")
    p.add_argument("--json", action="store_true",
                   help='print {"ok": bool, "checks": [{"name", "status", "detail", "fix"}]} instead of the table')
    add_setting_flags(p)
    p.set_defaults(func=cmd_doctor)
