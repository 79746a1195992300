"""The one control message format (stdin and obs-websocket): what it accepts, its one-line errors, its bounds."""
import pytest

from bgblur_core.control.messages import (MAX_DEPTH, MAX_DIGITS, MAX_ITEMS, MAX_LINE, Control, MessageError,
                                          check_bounds, nesting_exceeds, parse, parse_line)
from bgblur_core.settings import COMMANDS


def error(function, message) -> str:
    with pytest.raises(MessageError) as e:
        function(message)
    assert "\n" not in str(e.value)
    return str(e.value)


def nested(depth: int, leaf=0):
    """`depth` levels of arrays around `leaf`: nested(1) is [0]."""
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def test_a_change_is_validated_into_typed_values():
    control = parse({"set": {"feather": "4", "soft_mask": "off", "engine": "hsv"}})
    assert control == Control({"feather": 4, "soft_mask": False, "engine": "hsv"}, None)
    assert parse_line('{"set": {"input": 7, "mask_threshold": 5e-1, "temporal": 5E-1}}').changes == \
        {"input": "7", "mask_threshold": 0.5, "temporal": 0.5}  # integers stay integers, 5e-1 is a number


def test_every_command_alone_or_with_a_change():
    for name in COMMANDS:
        assert parse({"command": name}) == Control({}, name)
    control = parse_line(b'{"set": {"effect": "privacy"}, "command": "toggle"}')
    assert (control.changes, control.command) == ({"effect": "privacy"}, "toggle")
    assert Control() == Control({}, None) and Control().changes is not Control().changes


def test_malformed_messages_are_one_line_errors():
    assert error(parse, ["set"]) == "control message must be a JSON object, got list"
    assert error(parse, {}) == "control message needs 'set' and/or 'command', got keys []"
    assert error(parse, {"set": {}, "sett": 1}) == "control message needs 'set' and/or 'command', got keys ['set', 'sett']"
    assert error(parse, {"command": "explode"}) == (
        "command: 'explode' is not allowed; expected one of " + ", ".join(COMMANDS))
    assert error(parse, {"set": {"hsv_s_min": 300}}) == "hsv_s_min: 300 is not allowed; expected an integer 0..255"
    assert error(parse, {"set": {"colour": 1}}).startswith("colour: unknown setting")
    assert error(parse_line, "{nope") == "control line is not JSON: Expecting property name enclosed in double quotes at column 2"
    assert error(parse_line, '{"set": {"temporal": NaN}}') == "control line is not JSON: NaN is not a JSON value"
    assert error(parse_line, b'\xff{"command": "toggle"}').startswith("control line is not JSON: ")  # bytes decoded leniently


def test_line_length_is_bounded_before_decoding():
    line = '{"command": "toggle"}'
    assert parse_line(line + " " * (MAX_LINE - len(line))).command == "toggle"
    assert error(parse_line, line + " " * (MAX_LINE + 1 - len(line))) == f"control line is longer than {MAX_LINE} characters"


def test_nesting_is_bounded_before_decoding_and_brackets_in_strings_do_not_count():
    deepest = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert error(parse_line, deepest) == "control message must be a JSON object, got list"  # decoded: deep enough
    assert error(parse_line, "[" + deepest + "]") == f"control message nests deeper than {MAX_DEPTH} levels"
    assert error(parse_line, "[" * (MAX_DEPTH + 1)) == f"control message nests deeper than {MAX_DEPTH} levels"
    assert error(parse_line, "[" * 10 + "]" + "[" * (MAX_DEPTH - 8)) == f"control message nests deeper than {MAX_DEPTH} levels"
    assert error(parse_line, deepest * 3).startswith("control line is not JSON")  # closing brackets count down
    text = 'a \\" ' + "[{" * MAX_DEPTH  # an escaped quote does not end the string
    assert parse_line('{"set": {"obs_password": "' + text + '"}}').changes == {"obs_password": text.replace("\\", "")}


def test_nesting_is_measured_on_the_text_for_any_limit():
    assert not nesting_exceeds(b'{"a": [[1]]}', 3) and nesting_exceeds(b'{"a": [[1]]}', 2)
    assert not nesting_exceeds('{"a": "[[[[[["}', 1) and not nesting_exceeds("[]" * 50, 1)
    assert nesting_exceeds("[" * 3 + "]" + "[" * 2, 3)  # 3 - 1 + 2 = 4 levels
    assert nesting_exceeds(b"\xff[[", 1) and not nesting_exceeds(b'["\xff"]', 1)  # bytes that are not UTF-8 too


def test_numbers_are_bounded_in_a_line_and_in_a_decoded_message():
    assert parse_line('{"set": {"input": ' + "1" * 36 + "}}").changes == {"input": "1" * 36}
    assert parse_line('{"set": {"temporal": 0.' + "1" * (MAX_DIGITS - 2) + "}}").changes["temporal"] == pytest.approx(1 / 9)
    assert error(parse_line, '{"set": {"input": ' + "1" * (MAX_DIGITS + 1) + "}}") == (
        f"control line holds a number longer than {MAX_DIGITS} digits")
    assert error(parse_line, '{"set": {"input": 0.' + "1" * MAX_DIGITS + "}}") == (
        f"control line holds a number longer than {MAX_DIGITS} digits")
    largest = 2 ** (MAX_DIGITS * 3) - 1
    assert parse({"set": {"input": largest}}).changes == {"input": str(largest)}
    assert error(parse, {"set": {"input": largest + 1}}) == (
        f"control message holds a number longer than {MAX_DIGITS} digits")


def test_a_decoded_message_is_bounded_in_depth_items_and_text():
    check_bounds(nested(MAX_DEPTH - 1))  # the root is level 1
    assert error(check_bounds, nested(MAX_DEPTH)) == f"control message nests deeper than {MAX_DEPTH} levels"
    assert error(check_bounds, {"a": {"b": nested(MAX_DEPTH - 2)}}) == f"control message nests deeper than {MAX_DEPTH} levels"
    check_bounds({"a": {"b": nested(MAX_DEPTH - 3)}})
    check_bounds([0] * (MAX_ITEMS - 1))  # and the list itself
    assert error(check_bounds, [0] * MAX_ITEMS) == f"control message holds more than {MAX_ITEMS} values"
    assert error(check_bounds, {str(i): 0 for i in range(MAX_ITEMS // 2)}) == (
        f"control message holds more than {MAX_ITEMS} values")  # keys count as values
    assert error(check_bounds, (0,) * MAX_ITEMS) == f"control message holds more than {MAX_ITEMS} values"
    check_bounds({"x" * MAX_LINE: "y" * MAX_LINE})
    too_long = f"control message holds a text longer than {MAX_LINE} characters"
    assert error(check_bounds, {"set": {"input": "y" * (MAX_LINE + 1)}}) == too_long
    assert error(check_bounds, {"x" * (MAX_LINE + 1): 0}) == too_long
    assert error(parse, {"set": {"input": "y" * (MAX_LINE + 1)}}) == too_long
