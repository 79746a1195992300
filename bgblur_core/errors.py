"""The project's one-line, user-facing errors (stdlib only: the command layer catches them before
anything heavy, such as OpenCV, is imported)."""
from __future__ import annotations


class StageError(RuntimeError):
    """A one-line, user-facing error raised by a stage (bad file, missing device, ...)."""


class EngineError(StageError):
    """An engine (segmenter) failed to build or to run; one line naming it, the cause and what to do."""

    def __init__(self, engine: str, doing: str, cause: BaseException):
        if isinstance(cause, StageError):
            text = str(cause)  # already says what is wrong and what to do
        else:
            text = (f"engine {engine} failed while {doing} ({describe(cause)}); "
                    "run `bgblur doctor` to check the installation, or pick another engine")
        super().__init__(text)
        self.engine = engine


def describe(e: BaseException, limit: int = 200) -> str:
    """An exception as a short line: its type and the first line of its message."""
    text = " ".join(str(e)[:4 * limit].split()) or "no message"
    if len(text) > limit:
        text = text[:limit] + "…"
    return f"{type(e).__name__}: {text}"
