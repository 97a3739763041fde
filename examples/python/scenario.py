#!/usr/bin/env python3
"""The mordomo-db HTTP API from Python, with httpx (Debian: apt install python3-httpx).

The same session as the TypeScript client of the test suite: a user talks to the assistant, who records an
action and a reminder; then an IVR domain gets an API key, a provider, a secretary, a document and a transfer
rule, and takes a call. Every error is {"error": {"code", "message", "request_id"}}; lists are pages (pass
next_cursor back as cursor).

    MORDOMO_URL=http://127.0.0.1:8080 MORDOMO_ADMIN_TOKEN=$(cat data/admin-token) \
    MORDOMO_DOMAIN_UUID=<a FusionPBX domain_uuid> python3 examples/python/scenario.py
"""
import json
import os
import sys
import time
from datetime import datetime, timedelta, timezone

import httpx


class ApiError(Exception):
    def __init__(self, response: httpx.Response):
        error = response.json().get("error", {})
        self.status, self.code = response.status_code, error.get("code")
        super().__init__(f"{response.request.method} {response.request.url.path}: {self.status} {self.code}: {error.get('message')}")


def call(client: httpx.Client, method: str, path: str, **kwargs):
    response = client.request(method, path, **kwargs)
    if response.status_code >= 400:
        raise ApiError(response)
    return response.json() if response.content else None


def check(condition: bool, what: str) -> None:
    if not condition:
        raise AssertionError(f"scenario: {what}")


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat()


def run(base_url: str, admin_token: str, domain_uuid: str) -> dict:
    now = datetime.now(timezone.utc)
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {admin_token}"}, timeout=30) as admin:
        # The assistant: a user, a conversation, three turns, the history back in pages.
        user = call(admin, "POST", "/v1/users", json={"name": "Ana", "email": f"ana-{time.time_ns()}@example.com"})
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
        pages, seen, cursor = 0, 0, None
        while True:
            params = {"limit": 4, **({"cursor": cursor} if cursor else {})}
            page = call(admin, "GET", f"/v1/users/{user['id']}/history", params=params)
            pages, seen, cursor = pages + 1, seen + len(page["items"]), page["next_cursor"]
            if cursor is None:
                break
        check(seen == 6, f"history has {seen} messages, not 6")
        found = call(admin, "GET", "/v1/search", params={"q": "luz cozinha", "user_id": user["id"]})
        check(len(found["items"]) > 0, "search finds the turn about the kitchen light")

        # An action through its lifecycle, a reminder, a setting.
        action = call(admin, "POST", "/v1/actions", json={"message_id": last_user_message, "action_type": "reminder",
                                                           "action_name": "criar_lembrete", "parameters": {"what": "pão"}})
        call(admin, "POST", f"/v1/actions/{action['id']}/transition", json={"status": "executing"})
        done = call(admin, "POST", f"/v1/actions/{action['id']}/transition", json={"status": "success", "result": {"ok": True}})
        reminder = call(admin, "POST", "/v1/reminders", json={"user_id": user["id"], "title": "Comprar pão",
                                                              "scheduled_at": iso(now + timedelta(days=1))})
        upcoming = call(admin, "GET", "/v1/reminders/upcoming", params={"user_id": user["id"]})
        check(any(item["id"] == reminder["id"] for item in upcoming["items"]), "the reminder is upcoming")
        call(admin, "PUT", "/v1/config/brain.temperature", json={"value": 0.4, "updated_by": "python"})
        check(call(admin, "GET", "/v1/config/brain.temperature")["value"] == 0.4, "the setting reads back")

        # Errors carry a stable code.
        try:
            call(admin, "GET", "/v1/users/11111111-1111-1111-1111-111111111111")
            raise AssertionError("scenario: an unknown user was found")
        except ApiError as error:
            missing_code = error.code

        key = call(admin, "POST", "/v1/admin/ivr/keys", json={"domain_uuid": domain_uuid, "name": "python"})

    # The IVR: everything with the domain's key alone (the key decides the domain).
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key['key']}"}, timeout=30) as ivr:
        llm = call(ivr, "POST", "/v1/ivr/providers", json={"provider_type": "llm", "provider_name": "openai", "is_default": True,
                                                            "config": {"api_key": "sk-python", "model": "gpt-4o-mini"}})
        check(llm["configured"] and "config" not in llm, "a provider answers that it is configured, never its config")
        secretary = call(ivr, "POST", "/v1/ivr/secretaries", json={"name": "Recepção", "extension": "8000", "greeting": "Olá!",
                                                                   "llm_provider_uuid": llm["provider_uuid"]})
        answering = call(ivr, "GET", "/v1/ivr/extensions/8000/secretary")
        check(answering["secretary_uuid"] == secretary["secretary_uuid"] and answering["llm_provider"] == "openai", "the extension finds its secretary")
        engine = call(ivr, "GET", "/v1/ivr/providers/default/llm")
        check(engine["config"]["api_key"] == "sk-python", "the engine reads the decrypted config")
        call(ivr, "POST", "/v1/ivr/documents", json={"title": "Horário", "content": "Atendemos de segunda a sexta, das 8h às 18h."})
        hits = call(ivr, "GET", "/v1/ivr/documents/search", params={"q": "horário de atendimento"})
        call(ivr, "POST", "/v1/ivr/transfer-rules", json={"name": "Financeiro", "match_intents": ["billing"], "match_keywords": ["boleto"],
                                                           "destination_type": "extension", "destination": "2001"})
        started = call(ivr, "POST", "/v1/ivr/calls", json={"secretary_uuid": secretary["secretary_uuid"], "caller_id": "+5511999990000"})
        uuid = started["conversation_uuid"]
        call(ivr, "POST", f"/v1/ivr/calls/{uuid}/messages", json={"messages": [
            {"role": "assistant", "content": "Olá!"},
            {"role": "user", "content": "Quero a segunda via do boleto", "intent": "billing", "confidence": 0.92},
        ]})
        match = call(ivr, "POST", "/v1/ivr/transfer-rules/match", json={"intent": "billing", "utterance": "segunda via do boleto"})
        destination = match["rule"]["destination"] if match["rule"] else None
        call(ivr, "POST", f"/v1/ivr/calls/{uuid}/end", json={"resolution": "transferred", "transferred_to": destination})
        transcript = call(ivr, "GET", f"/v1/ivr/calls/{uuid}")
        calls = call(ivr, "GET", "/v1/ivr/calls", params={"since": iso(now - timedelta(hours=1))})
        check(calls["items"][0]["conversation_uuid"] == uuid and calls["items"][0]["message_count"] == 2, "the call is in the history")

    return {
        "turns": len(utterances), "historyPages": pages, "found": len(found["items"]), "actionStatus": done["status"],
        "reminderStatus": reminder["status"], "missingUserCode": missing_code, "transferredTo": transcript["transferred_to"],
        "documentHits": len(hits["items"]), "callMessages": len(transcript["messages"]),
    }


if __name__ == "__main__":
    try:
        result = run(os.environ["MORDOMO_URL"], os.environ["MORDOMO_ADMIN_TOKEN"], os.environ["MORDOMO_DOMAIN_UUID"])
    except KeyError as missing:
        sys.exit(f"set {missing.args[0]} (see the docstring at the top of this file)")
    except (ApiError, AssertionError, httpx.HTTPError) as error:
        sys.exit(f"scenario failed: {error}")
    print(json.dumps(result, sort_keys=True))
