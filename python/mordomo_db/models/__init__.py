"""SQLAlchemy models of the migrated schema: ``core`` (Mordomo) and ``ivr`` (the Voice AI IVR on FusionPBX)."""
from .base import Base
from .core import Action, Config, Conversation, DatabaseSizeHistory, Message, Reminder, SystemLog, User
from .ivr import AiProvider, Document, Domain, Secretary, TransferRule, VoiceConversation, VoiceIdempotencyKey, VoiceMessage

__all__ = [
    "Base",
    "User",
    "Conversation",
    "Message",
    "Action",
    "Reminder",
    "SystemLog",
    "Config",
    "DatabaseSizeHistory",
    "Domain",
    "AiProvider",
    "Secretary",
    "VoiceConversation",
    "VoiceMessage",
    "Document",
    "TransferRule",
    "VoiceIdempotencyKey",
]
