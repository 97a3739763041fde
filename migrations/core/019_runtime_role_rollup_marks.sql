-- The runtime role marks rollup days as the owner does: message_rollup_mark() upserts (ON CONFLICT DO UPDATE), which
-- needs UPDATE as well as INSERT. Migration 016 granted only SELECT and INSERT, so writing, changing or deleting a
-- message dated before today (an import, an erase, LangChain's clear() of an older conversation) failed with 42501
-- as the service's login.
GRANT UPDATE ON message_rollup_dirty TO mordomo_app;
