"""The outbox transports: emails as `.eml` files and posts as JSON drafts, in a folder.

The embedded default: nothing leaves the machine, and every message can be read, opened
in a mail client, or handed to another tool.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from outreach.errors import DeliveryError
from outreach.messages import ORGANIZATION, Outcome, OutgoingEmail, OutgoingPost
from outreach.transports.base import PartialDelivery
from outreach.transports.mime import wire_bytes


def _write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary name and rename, so a crash never leaves half a file.

    Messages hold supporters' data: folders made here are 0700, files 0600. On an error the
    temporary file is removed and the error raised.
    """
    _make_folders(path.parent)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with open(descriptor, "wb") as handle:
            handle.write(data)
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _trouble(folder: Path, exc: OSError) -> str:
    """What to fix when the outbox cannot be written (never the recipient's fault)."""
    reason = exc.strerror or str(exc)
    return f"cannot write to the outbox {folder} ({reason}): free space or fix its permissions"


def _make_folders(folder: Path) -> None:
    """Make `folder` and its missing parents, each readable by its owner only."""
    if folder.is_dir():
        return
    _make_folders(folder.parent)
    try:
        folder.mkdir(mode=0o700)
    except FileExistsError:
        return
    os.chmod(folder, 0o700)  # whatever the umask


class OutboxEmailTransport:
    """Writes each email to `<outbox>/<campaign>/<reminder>/<supporter id>.eml`."""

    name = "outbox"
    batch_size = 500
    schedules_ahead = timedelta(0)

    def __init__(self, folder: Path, clock: Callable[[], datetime]) -> None:
        self.folder = folder
        self._clock = clock

    def path_for(self, email: OutgoingEmail) -> Path:
        """Where this email is written."""
        return self.folder / email.campaign / email.reminder / f"{email.supporter_id}.eml"

    def send(self, emails: Sequence[OutgoingEmail]) -> list[Outcome]:
        """Write every email; a file that cannot be written (a full disk, say) stops the batch:
        `PartialDelivery` says which were written, the others stay due."""
        outcomes: list[Outcome] = []
        for email in emails:
            path = self.path_for(email)
            try:
                _write_atomically(path, wire_bytes(email, self._clock()))
            except OSError as exc:
                if outcomes:
                    raise PartialDelivery(_trouble(self.folder, exc), outcomes) from None
                raise DeliveryError(_trouble(self.folder, exc)) from None
            outcomes.append(Outcome(email.supporter_id, True, str(path)))
        return outcomes

    def close(self) -> None:
        """Nothing to release."""


class OutboxPostTransport:
    """Writes each announcement as a JSON draft to `<outbox>/posts/`."""

    name = "outbox"

    def __init__(self, folder: Path, clock: Callable[[], datetime]) -> None:
        self.folder = folder / "posts"
        self._clock = clock

    def publish(self, post: OutgoingPost) -> Outcome:
        """Write the draft; the organizer (or the `x` transport) publishes it."""
        path = self.folder / f"{post.campaign}--{post.reminder}.json"
        draft = {
            "campaign": post.campaign,
            "reminder": post.reminder,
            "language": post.language,
            "text": post.text,
            "created_at": self._clock().isoformat(),
        }
        try:
            _write_atomically(path, json.dumps(draft, ensure_ascii=False, indent=2).encode())
        except OSError as exc:
            raise DeliveryError(_trouble(self.folder, exc)) from None
        return Outcome(ORGANIZATION, True, str(path))
