"""Local Telegram Bot API emulator ("sandbox") for running the Huifang bot without Telegram.

``SandboxServer`` serves the Bot API (for the real aiogram client) and a control API;
``SandboxClient`` / ``SandboxUser`` drive it from tests and demos.
"""

from .client import (
    CallbackAnswer,
    SandboxClient,
    SandboxError,
    SandboxMessage,
    SandboxTimeout,
    SandboxUser,
    format_transcript,
)
from .server import SandboxServer

__all__ = [
    "SandboxServer",
    "SandboxClient",
    "SandboxUser",
    "SandboxMessage",
    "SandboxTimeout",
    "SandboxError",
    "CallbackAnswer",
    "format_transcript",
]
