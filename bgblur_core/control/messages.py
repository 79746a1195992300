"""The one control message format, shared by stdin and obs-websocket.

A message is a JSON object with either or both of:
  {"set": {"engine": "hsv", ...}}   a settings change, validated by the schema
  {"command": "toggle"}             one of settings.COMMANDS
Over obs-websocket the same object is wrapped as {"bgblur": {...}} in a CustomEvent.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..settings import COMMANDS, SettingsError, check_changes


class MessageError(ValueError):
    """A malformed control message: one line saying what is wrong."""


@dataclass
class Control:
    changes: dict[str, Any] = field(default_factory=dict)
    command: str | None = None


def parse(message: Any) -> Control:
    """Validate a decoded message (dict) into a Control, or raise MessageError."""
    if not isinstance(message, dict):
        raise MessageError(f"control message must be a JSON object, got {type(message).__name__}")
    unknown = set(message) - {"set", "command"}
    if unknown or not message:
        raise MessageError(f"control message needs 'set' and/or 'command', got keys {sorted(message)}")
    control = Control()
    if "set" in message:
        try:
            control.changes = check_changes(message["set"])
        except SettingsError as e:
            raise MessageError(str(e)) from None
    if "command" in message:
        if message["command"] not in COMMANDS:
            raise MessageError(f"command: {message['command']!r} is not allowed; expected one of {', '.join(COMMANDS)}")
        control.command = message["command"]
    return control


def parse_line(line: str) -> Control:
    try:
        message = json.loads(line)
    except json.JSONDecodeError as e:
        raise MessageError(f"control line is not JSON: {e.msg} at column {e.colno}") from None
    return parse(message)
