"""Claiming due reminders from SQLAlchemy, as src/core/reminders.ts does: each due reminder is claimed once, however
many workers claim at the same time."""
from typing import Any, List, cast

from sqlalchemy import func, select

from .models import Reminder


def claim_due_reminders(session: Any, limit: int = 100) -> List[Reminder]:
    """Marks up to ``limit`` due pending reminders triggered, soonest first, and returns them; commit to keep the
    claim. ``FOR UPDATE SKIP LOCKED``: a reminder another session is claiming is skipped, not waited for, so two
    workers never get the same one and neither blocks the other."""
    if limit <= 0:
        raise ValueError("limit must be positive")
    due = (
        select(Reminder)
        .where(Reminder.status == "pending", Reminder.scheduled_at <= func.now())
        .order_by(Reminder.scheduled_at, Reminder.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = cast(List[Reminder], session.scalars(due).all())
    for reminder in claimed:
        reminder.status = "triggered"
        reminder.triggered_at = func.now()
    session.flush()
    return claimed
