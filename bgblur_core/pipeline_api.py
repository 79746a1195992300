"""What control adapters see of the pipeline: the Control message type and a small interface.

Adapters (control/stdin.py, control/obsws.py) turn their messages into `Control`s and talk to the
pipeline only through `PipelinePort`; they never read or write its stages, sinks or fields.
Stdlib only, so the message parser stays light.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol


@dataclass
class Control:
    """A validated settings change and/or a command (settings.COMMANDS), applied on the pipeline's thread."""
    changes: dict[str, Any] = field(default_factory=dict)
    command: str | None = None


Listener = Callable[[dict], None]  # an event: {"status": {...}}, {"error": "..."} or {"command": "..."}


class PipelinePort(Protocol):
    settings: Any  # the current Settings (immutable: a consistent snapshot to read)

    def submit(self, control: Control) -> None:
        """Thread-safe: queue a change or command for the pipeline's thread."""

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` with each event; returns the call that unsubscribes it."""

    def status(self) -> dict:
        """A snapshot: engine, effect, enabled, input, output, vcam_device, last_error (JSON-safe)."""

    def error(self, message: str) -> None:
        """Report a one-line problem: logged, sent to listeners, shown as last_error."""

    def resolved(self, message: str) -> None:
        """The problem reported as `message` is fixed: last_error is cleared if it is still that."""
