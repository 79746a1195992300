"""The one control message format, shared by stdin and obs-websocket.

A message is a JSON object with either or both of:
  {"set": {"engine": "hsv", ...}}   a settings change, validated by the schema
  {"command": "toggle"}             one of settings.COMMANDS
Over obs-websocket the same object is wrapped as {"bgblur": {...}} in a CustomEvent.
"""
from __future__ import annotations

import json
import re
from typing import Any

from ..pipeline_api import Control  # the message type belongs to the pipeline side
from ..settings import COMMANDS, SettingsError, check_changes, shown

# Bounds on one control message, checked before anything recurses over it.
MAX_LINE = 64 * 1024  # characters in one line
MAX_DEPTH = 16  # nesting of objects and arrays ({"set": {"scene_presets": {...}}} needs 4)
MAX_DIGITS = 40  # characters of one number
MAX_ITEMS = 10_000  # values in one message
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKET = re.compile(r"[\[\]{}]")


class MessageError(ValueError):
    """A malformed control message: one line saying what is wrong."""


def check_bounds(message: Any) -> None:
    """Raise MessageError when a decoded message nests too deep, or holds too many items or a huge number."""
    todo, seen = [(message, 1)], 0
    while todo:
        value, depth = todo.pop()
        seen += 1
        if depth > MAX_DEPTH:
            raise MessageError(f"control message nests deeper than {MAX_DEPTH} levels")
        if seen > MAX_ITEMS:
            raise MessageError(f"control message holds more than {MAX_ITEMS} values")
        if isinstance(value, int) and value.bit_length() > MAX_DIGITS * 3:
            raise MessageError(f"control message holds a number longer than {MAX_DIGITS} digits")
        if isinstance(value, str) and len(value) > MAX_LINE:
            raise MessageError(f"control message holds a text longer than {MAX_LINE} characters")
        if isinstance(value, dict):
            todo.extend((x, depth + 1) for item in value.items() for x in item)
        elif isinstance(value, (list, tuple)):
            todo.extend((v, depth + 1) for v in value)


def parse(message: Any) -> Control:
    """Validate a decoded message (dict) into a Control, or raise MessageError."""
    check_bounds(message)
    if not isinstance(message, dict):
        raise MessageError(f"control message must be a JSON object, got {type(message).__name__}")
    unknown = set(message) - {"set", "command"}
    if unknown or not message:
        raise MessageError(f"control message needs 'set' and/or 'command', got keys {shown(sorted(message))}")
    control = Control()
    if "set" in message:
        try:
            control.changes = check_changes(message["set"])
        except SettingsError as e:
            raise MessageError(str(e)) from None
    if "command" in message:
        if message["command"] not in COMMANDS:
            raise MessageError(f"command: {shown(message['command'])} is not allowed; expected one of {', '.join(COMMANDS)}")
        control.command = message["command"]
    return control


def nesting_exceeds(text: str | bytes, limit: int) -> bool:
    """Whether JSON text nests arrays and objects deeper than `limit`: checked on the text, before
    json.loads would recurse into it (RecursionError at about 1,000 levels)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    depth = 0
    for bracket in _BRACKET.findall(_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        if depth > limit:
            return True
    return False


def _number(text: str):
    if len(text) > MAX_DIGITS:
        raise MessageError(f"control line holds a number longer than {MAX_DIGITS} digits")
    return float(text) if any(c in text for c in ".eE") else int(text)


def _constant(name: str):
    raise MessageError(f"control line is not JSON: {name} is not a JSON value")


def parse_line(line: str | bytes) -> Control:
    """One stdin line (text, or bytes decoded leniently) into a Control, or raise MessageError.

    Length and nesting are checked before decoding, so no line can exhaust the stack or memory.
    """
    if isinstance(line, bytes):
        line = line.decode("utf-8", errors="replace")
    if len(line) > MAX_LINE:
        raise MessageError(f"control line is longer than {MAX_LINE} characters")
    if nesting_exceeds(line, MAX_DEPTH):
        raise MessageError(f"control message nests deeper than {MAX_DEPTH} levels")
    try:
        message = json.loads(line, parse_int=_number, parse_float=_number, parse_constant=_constant)
    except json.JSONDecodeError as e:
        raise MessageError(f"control line is not JSON: {e.msg} at column {e.colno}") from None
    return parse(message)
