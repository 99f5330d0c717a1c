"""A query item: one file to search, with the chat message it came from when it came from an export."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TEXT_LIMIT = 200
"""Characters of a message's text kept in its context."""


@dataclass(frozen=True)
class QueryItem:
    """One file to match.

    ``kind`` is ``"image"`` or ``"video"``. ``message`` is the context of an export's media, the
    dict ``match --json`` prints: ``chat``, ``chat_id``, ``id``, ``date`` (ISO 8601 with the UTC
    offset when the export gives it), ``from``, ``from_id``, ``forwarded_from``, ``text`` (its first
    200 characters) and ``media`` (the file's path inside the export). ``media_kind`` says which of
    the message's media this is: ``photo``, ``file`` (a document), ``thumbnail``, ``sticker``,
    ``animation``, ``video_file``, ``video_message``, ... (``None`` for files outside exports).
    """

    path: str
    kind: str = "image"
    message: dict[str, Any] | None = None
    media_kind: str | None = None

    @property
    def from_export(self) -> bool:
        return self.message is not None
