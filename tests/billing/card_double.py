"""A local stand-in for the card processor: a small HTTP server in a thread that speaks
the subset of the PaymentIntents API the card adapter uses (docs/billing-payments.md).

Test tokens, named as Stripe's test payment methods are:

* ``pm_card_visa`` — succeeds; the fee is 1.5 % + 20 minor units, rounded half up;
* ``pm_card_chargeDeclined`` — declined (``card_declined`` / ``generic_decline``);
* ``pm_card_chargeDeclinedInsufficientFunds`` — declined for insufficient funds.

Any other token is a 400 ``invalid_request_error``; a wrong API key is a 401. A replayed
``Idempotency-Key`` gets the first answer again (status and body), as a real processor
does. ``GET /v1/payment_intents/search?query=metadata['KEY']:'VALUE'`` finds the intents
created with that metadata (the subset of Stripe's search query language the adapter
uses). ``requests`` records every request for the tests to inspect.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

API_KEY = "sk_test_kindwave_double"
SUCCEEDS = "pm_card_visa"
DECLINED = "pm_card_chargeDeclined"
INSUFFICIENT_FUNDS = "pm_card_chargeDeclinedInsufficientFunds"
METADATA_QUERY = re.compile(r"^metadata\['([^']+)'\]:'((?:[^'\\]|\\.)*)'$")


def fee_for(amount_minor: int) -> int:
    """1.5 % + 20 minor units, rounded half up (a UK card rate)."""
    return (amount_minor * 15 + 500) // 1000 + 20


@dataclass
class CardDouble:
    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    answers: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    counter: int = 0
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)

    def answer(self, headers: dict[str, str], form: dict[str, list[str]]) -> tuple[int, Any]:
        if headers.get("authorization") != f"Bearer {API_KEY}":
            return 401, {"error": {"type": "invalid_request_error", "message": "Invalid API key"}}
        key = headers.get("idempotency-key", "")
        with self.lock:
            if key and key in self.answers:
                return self.answers[key]
            self.counter += 1
            intent_id = f"pi_double_{self.counter:06d}"
        status, body = self._intent(intent_id, form)
        intent = body if status == 200 else (body.get("error") or {}).get("payment_intent")
        if intent:
            with self.lock:
                self.intents[intent_id] = intent
        if key:
            with self.lock:
                self.answers[key] = (status, body)
        return status, body

    def _intent(self, intent_id: str, form: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        def one(name: str) -> str:
            return form.get(name, [""])[0]

        try:
            amount = int(one("amount"))
        except ValueError:
            amount = 0
        currency, token = one("currency"), one("payment_method")
        if amount <= 0 or len(currency) != 3 or one("confirm") != "true":
            return 400, {"error": {"type": "invalid_request_error", "message": "Bad parameters"}}
        intent: dict[str, Any] = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": amount,
            "currency": currency,
            "metadata": {k[9:-1]: v[0] for k, v in form.items() if k.startswith("metadata[")},
        }
        if token == SUCCEEDS:
            intent["status"] = "succeeded"
            charge = {"id": intent_id.replace("pi_", "ch_"), "balance_transaction": intent_id}
            if "latest_charge.balance_transaction" in form.get("expand[]", []):
                charge["balance_transaction"] = {
                    "id": intent_id.replace("pi_", "txn_"),
                    "amount": amount,
                    "fee": fee_for(amount),
                    "currency": currency,
                }
            intent["latest_charge"] = charge
            return 200, intent
        if token in (DECLINED, INSUFFICIENT_FUNDS):
            intent["status"] = "requires_payment_method"
            decline = "insufficient_funds" if token == INSUFFICIENT_FUNDS else "generic_decline"
            intent["last_payment_error"] = {"code": "card_declined", "decline_code": decline}
            return 402, {
                "error": {
                    "type": "card_error",
                    "code": "card_declined",
                    "decline_code": decline,
                    "message": "Your card was declined.",
                    "payment_intent": intent,
                }
            }
        return 400, {
            "error": {"type": "invalid_request_error", "message": f"No such PaymentMethod: {token}"}
        }

    def search(self, headers: dict[str, str], query: dict[str, list[str]]) -> tuple[int, Any]:
        if headers.get("authorization") != f"Bearer {API_KEY}":
            return 401, {"error": {"type": "invalid_request_error", "message": "Invalid API key"}}
        wanted = METADATA_QUERY.match(query.get("query", [""])[0])
        if wanted is None:
            return 400, {"error": {"type": "invalid_request_error", "message": "Bad query"}}
        name, value = wanted.group(1), re.sub(r"\\(.)", r"\1", wanted.group(2))
        with self.lock:
            found = [i for i in self.intents.values() if i["metadata"].get(name) == value]
        return 200, {"object": "search_result", "data": found, "has_more": False}


def _handler(double: CardDouble) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            headers = {name.lower(): value for name, value in self.headers.items()}
            double.requests.append({"path": url.path, "headers": headers, "form": {}})
            if url.path != "/v1/payment_intents/search":
                status, body = 404, {"error": {"type": "invalid_request_error"}}
            else:
                status, body = double.search(headers, parse_qs(url.query))
            self._send(status, body)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode("ascii"), keep_blank_values=True)
            headers = {name.lower(): value for name, value in self.headers.items()}
            double.requests.append({"path": self.path, "headers": headers, "form": form})
            if self.path != "/v1/payment_intents":
                status, body = 404, {"error": {"type": "invalid_request_error"}}
            else:
                status, body = double.answer(headers, form)
            self._send(status, body)

        def _send(self, status: int, body: Any) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the tests read ``requests`` instead."""

    return Handler


@contextmanager
def running_card_double() -> Iterator[CardDouble]:
    """Start the double on a free port of 127.0.0.1; stop it on exit."""
    double = CardDouble()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(double))
    double.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield double
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def double(settings: Any) -> Iterator[CardDouble]:
    """The double, running, and the card adapter's settings pointing at it (import this
    fixture into a test module to use it)."""
    with running_card_double() as running:
        settings.BILLING = {
            **settings.BILLING,
            "CARD_PROVIDER_URL": running.url,
            "CARD_PROVIDER_KEY": API_KEY,
        }
        yield running
