#!/usr/bin/env python3
"""The mordomo-db HTTP API from Python, with httpx (Debian: apt install python3-httpx).

The same session as the TypeScript client of the test suite: a user talks to the assistant, who records an
action and a reminder; then an IVR domain gets an API key, a provider, a secretary, a document and a transfer
rule, and takes a call. Every error is {"error": {"code", "message", "request_id"}}; lists are pages (pass
next_cursor back as cursor).

    MORDOMO_URL=http://127.0.0.1:8080 MORDOMO_ADMIN_TOKEN=$(cat data/admin-token) \
    MORDOMO_DOMAIN_UUID=<a FusionPBX domain_uuid> python3 examples/python/scenario.py

It can be run on any domain, with FusionPBX's five default providers or without, and run again: it makes its own
llm provider (a name of its own, the domain's default while it runs), takes a free extension, and when it ends,
succeeded or not, undoes what it did, newest first: the rule, document, secretary and provider go, the previous
default provider is the default again, the API key is revoked, the user is erased and the setting it changed is
set back (its updated_by saying python). Only the call's record stays (the API deletes no call), its secretary
emptied.
"""
import json
import os
import sys
import time
import uuid
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, Iterator, List, Tuple

import httpx


class ApiError(Exception):
    def __init__(self, response: httpx.Response):
        error = response.json().get("error", {})
        self.status, self.code = response.status_code, error.get("code")
        super().__init__(f"{response.request.method} {response.request.url.path}: {self.status} {self.code}: {error.get('message')}")


def call(client: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
    response = client.request(method, path, **kwargs)
    if response.status_code >= 400:
        raise ApiError(response)
    return response.json() if response.content else None


def pages(client: httpx.Client, path: str) -> Iterator[Dict[str, Any]]:
    """Every item of a paged list."""
    cursor = None
    while True:
        page = call(client, "GET", path, params={"limit": 100, **({"cursor": cursor} if cursor else {})})
        yield from page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return


def check(condition: bool, what: str) -> None:
    if not condition:
        raise AssertionError(f"scenario: {what}")


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat()


class Undo:
    """What the run changed, undone newest first when it ends. A step that fails is reported and the others still
    run, so that one failure neither hides the run's own error nor leaves the rest behind."""

    def __init__(self) -> None:
        self.steps: List[Tuple[str, Callable[[], Any]]] = []

    def add(self, what: str, step: Callable[[], Any]) -> None:
        self.steps.append((what, step))

    def run(self) -> None:
        for what, step in reversed(self.steps):
            try:
                step()
            except (ApiError, httpx.HTTPError) as error:
                print(f"scenario: could not undo {what}: {error}", file=sys.stderr)


def assistant(admin: httpx.Client, undo: Undo, now: datetime) -> Dict[str, Any]:
    """A user, a conversation, three turns, the history back in pages, an action, a reminder and a setting."""
    user = call(admin, "POST", "/v1/users", json={"name": "Ana", "email": f"ana-{time.time_ns()}@example.com"})
    undo.add("the user", lambda: call(admin, "DELETE", f"/v1/users/{user['id']}"))
    conversation = call(admin, "POST", "/v1/conversations", json={"user_id": user["id"]})
    utterances = ["Liga a luz da cozinha", "Qual a previsão do tempo?", "Me lembra de comprar pão amanhã"]
    for i, content in enumerate(utterances):
        turn = call(
            admin, "POST", f"/v1/conversations/{conversation['id']}/turns",
            # A retry with the same Idempotency-Key answers the first result and writes nothing again.
            headers={"Idempotency-Key": f"{conversation['id']}-{i}"},
            json={"user": {"content": content, "intent": "iot_control" if i == 0 else "chat"},
                  "assistant": {"content": f"Feito: {content}", "latency_ms": 420}},
        )
        last_user_message = turn["messages"][0]["id"]
    history_pages, seen, cursor = 0, 0, None
    while True:
        params = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        page = call(admin, "GET", f"/v1/users/{user['id']}/history", params=params)
        history_pages, seen, cursor = history_pages + 1, seen + len(page["items"]), page["next_cursor"]
        if cursor is None:
            break
    check(seen == 6, f"history has {seen} messages, not 6")
    found = call(admin, "GET", "/v1/search", params={"q": "luz cozinha", "user_id": user["id"]})
    check(len(found["items"]) > 0, "search finds the turn about the kitchen light")

    action = call(admin, "POST", "/v1/actions", json={"message_id": last_user_message, "action_type": "reminder",
                                                       "action_name": "criar_lembrete", "parameters": {"what": "pão"}})
    call(admin, "POST", f"/v1/actions/{action['id']}/transition", json={"status": "executing"})
    done = call(admin, "POST", f"/v1/actions/{action['id']}/transition", json={"status": "success", "result": {"ok": True}})
    reminder = call(admin, "POST", "/v1/reminders", json={"user_id": user["id"], "title": "Comprar pão",
                                                          "scheduled_at": iso(now + timedelta(days=1))})
    upcoming = call(admin, "GET", "/v1/reminders/upcoming", params={"user_id": user["id"]})
    check(any(item["id"] == reminder["id"] for item in upcoming["items"]), "the reminder is upcoming")
    previous = call(admin, "GET", "/v1/config/brain.temperature")["value"]  # the seed's default config has it
    call(admin, "PUT", "/v1/config/brain.temperature", json={"value": 0.4, "updated_by": "python"})
    undo.add("the setting brain.temperature", lambda: call(
        admin, "PUT", "/v1/config/brain.temperature", json={"value": previous, "updated_by": "python"}))
    check(call(admin, "GET", "/v1/config/brain.temperature")["value"] == 0.4, "the setting reads back")

    # Errors carry a stable code.
    try:
        call(admin, "GET", "/v1/users/11111111-1111-1111-1111-111111111111")
        raise AssertionError("scenario: an unknown user was found")
    except ApiError as error:
        missing_code = error.code
    return {"turns": len(utterances), "historyPages": history_pages, "found": len(found["items"]), "actionStatus": done["status"],
            "reminderStatus": reminder["status"], "missingUserCode": missing_code}


def free_extension(ivr: httpx.Client) -> str:
    """The first extension from 8000 that no secretary of the domain answers."""
    for extension in map(str, range(8000, 8100)):
        response = ivr.get(f"/v1/ivr/extensions/{extension}/secretary")
        if response.status_code == 404:
            return extension
        if response.status_code != 200:
            raise ApiError(response)
    raise AssertionError("scenario: extensions 8000-8099 all have a secretary")


def provider(ivr: httpx.Client, undo: Undo) -> Tuple[Dict[str, Any], str]:
    """An llm provider of this run's own (a domain may already have one named openai: migration ivr 007's default),
    the domain's default until the run ends, when the previous default is the default again."""
    previous = next((p for p in pages(ivr, "/v1/ivr/providers") if p["provider_type"] == "llm" and p["is_default"]), None)
    name = f"scenario-{uuid.uuid4().hex[:12]}"
    llm = call(ivr, "POST", "/v1/ivr/providers", json={"provider_type": "llm", "provider_name": name, "is_default": True,
                                                        "config": {"api_key": "sk-python", "model": "gpt-4o-mini"}})
    undo.add("the llm provider", lambda: call(ivr, "DELETE", f"/v1/ivr/providers/{llm['provider_uuid']}"))
    if previous is not None:
        undo.add("the default llm provider", lambda: call(ivr, "PATCH", f"/v1/ivr/providers/{previous['provider_uuid']}", json={"is_default": True}))
    check(llm["configured"] and "config" not in llm, "a provider answers that it is configured, never its config")
    return llm, name


def ivr_session(ivr: httpx.Client, undo: Undo, now: datetime) -> Dict[str, Any]:
    """A provider, a secretary, a document and a transfer rule, then a call transferred after two messages."""
    llm, name = provider(ivr, undo)
    extension = free_extension(ivr)
    secretary = call(ivr, "POST", "/v1/ivr/secretaries", json={"name": "Recepção", "extension": extension, "greeting": "Olá!",
                                                               "llm_provider_uuid": llm["provider_uuid"]})
    undo.add("the secretary", lambda: call(ivr, "DELETE", f"/v1/ivr/secretaries/{secretary['secretary_uuid']}"))
    answering = call(ivr, "GET", f"/v1/ivr/extensions/{extension}/secretary")
    check(answering["secretary_uuid"] == secretary["secretary_uuid"] and answering["llm_provider"] == name, "the extension finds its secretary")
    engine = call(ivr, "GET", "/v1/ivr/providers/default/llm")
    check(engine["config"]["api_key"] == "sk-python", "the engine reads the decrypted config")
    ours = {"secretary_uuid": secretary["secretary_uuid"]}
    document = call(ivr, "POST", "/v1/ivr/documents", json={"title": "Horário", "content": "Atendemos de segunda a sexta, das 8h às 18h.", **ours})
    undo.add("the document", lambda: call(ivr, "DELETE", f"/v1/ivr/documents/{document['document_uuid']}"))
    hits = call(ivr, "GET", "/v1/ivr/documents/search", params={"q": "horário de atendimento", **ours})
    # Priority 0 and the secretary's own: no rule the domain already has comes before it.
    rule = call(ivr, "POST", "/v1/ivr/transfer-rules", json={"name": "Financeiro", "match_intents": ["billing"], "match_keywords": ["boleto"],
                                                              "destination_type": "extension", "destination": "2001", "priority": 0, **ours})
    undo.add("the transfer rule", lambda: call(ivr, "DELETE", f"/v1/ivr/transfer-rules/{rule['rule_uuid']}"))
    started = call(ivr, "POST", "/v1/ivr/calls", json={**ours, "caller_id": "+5511999990000"})
    call_uuid = started["conversation_uuid"]
    call(ivr, "POST", f"/v1/ivr/calls/{call_uuid}/messages", json={"messages": [
        {"role": "assistant", "content": "Olá!"},
        {"role": "user", "content": "Quero a segunda via do boleto", "intent": "billing", "confidence": 0.92},
    ]})
    match = call(ivr, "POST", "/v1/ivr/transfer-rules/match", json={"intent": "billing", "utterance": "segunda via do boleto", **ours})
    destination = match["rule"]["destination"] if match["rule"] else None
    call(ivr, "POST", f"/v1/ivr/calls/{call_uuid}/end", json={"resolution": "transferred", "transferred_to": destination})
    transcript = call(ivr, "GET", f"/v1/ivr/calls/{call_uuid}")
    calls = call(ivr, "GET", "/v1/ivr/calls", params={"since": iso(now - timedelta(hours=1))})
    check(calls["items"][0]["conversation_uuid"] == call_uuid and calls["items"][0]["message_count"] == 2, "the call is in the history")
    return {"transferredTo": transcript["transferred_to"], "documentHits": len(hits["items"]), "callMessages": len(transcript["messages"])}


def run(base_url: str, admin_token: str, domain_uuid: str) -> Dict[str, Any]:
    now = datetime.now(timezone.utc)
    undo = Undo()
    with ExitStack() as clients:
        admin = clients.enter_context(httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {admin_token}"}, timeout=30))
        try:
            result = assistant(admin, undo, now)
            key = call(admin, "POST", "/v1/admin/ivr/keys", json={"domain_uuid": domain_uuid, "name": "python"})
            undo.add("the API key", lambda: call(admin, "DELETE", f"/v1/admin/ivr/keys/{key['key_uuid']}"))
            # The IVR: everything with the domain's key alone (the key decides the domain).
            ivr = clients.enter_context(httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key['key']}"}, timeout=30))
            return {**result, **ivr_session(ivr, undo, now)}
        finally:
            undo.run()


if __name__ == "__main__":
    try:
        settings = [os.environ[name] for name in ("MORDOMO_URL", "MORDOMO_ADMIN_TOKEN", "MORDOMO_DOMAIN_UUID")]
    except KeyError as missing:
        sys.exit(f"set {missing.args[0]} (see the docstring at the top of this file)")
    try:
        outcome = run(*settings)
    except (ApiError, AssertionError, httpx.HTTPError) as error:
        sys.exit(f"scenario failed: {error}")
    print(json.dumps(outcome, sort_keys=True))
