"""Seed 000's history query ("Buscar histórico do usuário"), for SQLAlchemy: a user's messages of the last days."""
from datetime import timedelta
from typing import Any, List, Union, cast
from uuid import UUID

from sqlalchemy import func, select

from .models import Message


def user_history(session: Any, user_id: Union[UUID, str], days: int = 7, limit: int = 50) -> List[Message]:
    """The user's messages of the last ``days`` days by the database's clock, newest first, at most ``limit``.

    The seed's Prisma form filters on ``conversation.userId``; ``messages.user_id`` is that same user, copied by
    the database on every write (migration core 013), and its index serves the query without a join.
    """
    if days <= 0 or limit <= 0:
        raise ValueError("days and limit must be positive")
    user = user_id if isinstance(user_id, UUID) else UUID(user_id)
    query = (
        select(Message)
        .where(Message.user_id == user, Message.timestamp >= func.now() - timedelta(days=days))
        .order_by(Message.timestamp.desc(), Message.id.desc())
        .limit(limit)
    )
    return cast(List[Message], session.scalars(query).all())
