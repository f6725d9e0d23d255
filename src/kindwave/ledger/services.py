"""Every movement of money in Kindwave goes through these functions.

Each function owns its ``transaction.atomic()``: a transfer and the balances it changes
are written together or not at all. The accounts touched are locked with
``select_for_update()`` in id order (no deadlock between two transfers over the same
accounts); on SQLite the whole write is serialised by ``BEGIN IMMEDIATE``.

Every transfer carries a caller-chosen idempotency key: submitting the same key with the
same payload again returns the transfer already written and changes nothing; the same key
with another payload raises :class:`IdempotencyConflict`. Bad input raises
:class:`LedgerError` with the reason, and nothing is written.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kindwave.ledger.models import Account, AccountKind, Transfer, TransferState, Verification
from kindwave.lib.bulk import insert_rows

#: The largest single amount, in minor units (10 trillion pounds): keeps every running
#: total far inside a signed 64-bit integer.
MAX_AMOUNT = 10**15
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_GROUP_NAMESPACE = uuid.UUID("6f1c63c4-9a55-4c1e-8f0e-6b7f5c2d1a01")
_VERIFY_CHUNK = 5_000
#: An account's four running totals, in minor units.
TOTALS = ("debits_posted", "credits_posted", "debits_pending", "credits_pending")


class LedgerError(Exception):
    """A ledger request that cannot be honoured; the message says why."""


class IdempotencyConflict(LedgerError):  # noqa: N818 - the name the callers use
    """The idempotency key was already used for a different transfer."""


AccountRef = Account | str


@dataclass(frozen=True)
class Leg:
    """One leg of a linked transfer."""

    debit: AccountRef
    credit: AccountRef
    amount: int
    currency: str
    code: str
    description: str = ""


# --- Accounts ----------------------------------------------------------------------------


def open_account(code: str, name: str, kind: str, currency: str) -> Account:
    """Open the account ``code`` or return it if it is already open with the same kind and
    currency (idempotent; the name of an existing account is left as it is). A known code
    with another kind or currency raises ``LedgerError``."""
    code = code.strip()
    if not code:
        raise LedgerError(_("An account needs a code."))
    if kind not in AccountKind.values:
        raise LedgerError(
            _("Unknown account kind %(kind)s (expected one of %(kinds)s).")
            % {"kind": kind, "kinds": ", ".join(AccountKind.values)}
        )
    _check_currency(currency)
    with transaction.atomic():
        account, _created = Account.objects.get_or_create(
            code=code, defaults={"name": name, "kind": kind, "currency": currency}
        )
    if account.kind != kind or account.currency != currency:
        raise LedgerError(
            _("The account %(code)s is already open as %(kind)s in %(currency)s.")
            % {"code": code, "kind": account.kind, "currency": account.currency}
        )
    return account


# --- Transfers ---------------------------------------------------------------------------


def transfer(
    key: str,
    debit: AccountRef,
    credit: AccountRef,
    amount: int,
    currency: str,
    code: str,
    description: str = "",
) -> Transfer:
    """Post ``amount`` minor units of ``currency``: debit ``debit``, credit ``credit``.

    Promises: both accounts' posted totals change in the same transaction as the transfer
    is written; idempotent on ``key``; on refusal nothing is written.
    """
    leg = Leg(debit, credit, amount, currency, code, description)
    return _submit([_prepare(key, leg, TransferState.POSTED)])[0]


def reserve(
    key: str,
    debit: AccountRef,
    credit: AccountRef,
    amount: int,
    currency: str,
    code: str,
    description: str = "",
) -> Transfer:
    """Reserve ``amount`` (a *pending* transfer): only the pending totals move, until
    :func:`post_pending` or :func:`void_pending`. Idempotent on ``key``; atomic."""
    leg = Leg(debit, credit, amount, currency, code, description)
    return _submit([_prepare(key, leg, TransferState.PENDING)])[0]


def post_pending(key: str, pending: Transfer) -> Transfer:
    """Make the reservation ``pending`` real: a posted transfer of the same amount between
    the same accounts, ``pending_of`` set; the pending totals go down and the posted totals
    up. Exactly once: a reservation already posted or voided is refused.
    Idempotent on ``key``; atomic."""
    return _resolve(key, pending, TransferState.POSTED)


def void_pending(key: str, pending: Transfer) -> Transfer:
    """Release the reservation ``pending``: a voided transfer records it and the pending
    totals go back down. Exactly once, as :func:`post_pending`. Idempotent; atomic."""
    return _resolve(key, pending, TransferState.VOIDED)


def reverse(key: str, original: Transfer, description: str = "") -> Transfer:
    """Correct the posted transfer ``original`` with a new posted transfer of the same
    amount, debit and credit swapped, ``reverses`` set. A transfer is reversed at most
    once; a pending or voided one cannot be (void a reservation instead).
    Idempotent on ``key``; atomic."""
    original = Transfer.objects.select_related("debit_account", "credit_account").get(
        pk=original.pk
    )
    if original.state != TransferState.POSTED:
        raise LedgerError(
            _("Only a posted transfer can be reversed; %(key)s is %(state)s.")
            % {"key": original.idempotency_key, "state": original.state}
        )
    leg = Leg(
        original.credit_account,
        original.debit_account,
        original.amount,
        original.currency,
        original.code,
        description or f"reversal of {original.idempotency_key}",
    )
    return _submit([_prepare(key, leg, TransferState.POSTED, reverses=original)])[0]


def transfer_linked(key: str, legs: Sequence[Leg]) -> list[Transfer]:
    """Post every leg or none: one transaction, keys ``key/1``, ``key/2``…, one ``group``
    UUID (derived from ``key``) on all of them. If any leg is refused, nothing is written.
    Idempotent: the same key and legs again return the transfers already written; the same
    key with other legs (or another number of legs) raises ``IdempotencyConflict``."""
    group, prepared = _prepare_linked(key, legs, _accounts(legs))
    return _submit(prepared, group=group)


def transfer_batch(groups: Sequence[tuple[str, Sequence[Leg]]]) -> int:
    """Post many linked groups at once: each ``(key, legs)`` exactly as
    :func:`transfer_linked` would (keys ``key/1``…, one ``group`` UUID, the same validation,
    the same payload hashes), inside the caller's transaction when there is one.

    Promises: every group is validated before anything is written (a refused leg raises
    ``LedgerError`` and nothing of the batch is written); a group already written with the
    same legs is skipped (idempotent replay); a key written with other legs raises
    ``IdempotencyConflict`` and nothing is written. The accounts are locked once, in id
    order; the rows go in with multi-row INSERTs and every account's totals move in one
    UPDATE. Returns the number of transfers newly written. For bulk callers (the bill
    run); the result is the same as calling :func:`transfer_linked` group by group.
    """
    if not groups:
        return 0
    legs_all = [leg for _key, legs in groups for leg in legs]
    accounts = _accounts(legs_all)
    prepared: dict[uuid.UUID, list[_Prepared]] = {}
    for key, legs in groups:
        group, items = _prepare_linked(key, legs, accounts)
        if group in prepared:
            raise LedgerError(_("The key %(key)s appears twice in the batch.") % {"key": key})
        prepared[group] = items
    with transaction.atomic():
        # Fast path: look for the batch's groups only; a key already taken outside its
        # group makes the insert fail (unique index), and then every key is looked at.
        fresh = _fresh(prepared, _existing_in_batch(prepared, by_key=False))
        if not fresh:
            return 0
        lock_accounts(
            sorted({item.debit.code for item in fresh} | {item.credit.code for item in fresh})
        )
        try:
            with transaction.atomic():
                _insert_transfers(fresh)
        except IntegrityError:
            fresh = _fresh(prepared, _existing_in_batch(prepared, by_key=True))
            _insert_transfers(fresh)
        deltas: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for item in fresh:
            deltas[item.debit.pk]["debits_posted"] += item.amount
            deltas[item.credit.pk]["credits_posted"] += item.amount
        _move_totals(deltas)
    return len(fresh)


def lock_accounts(codes: Iterable[str], *, missing_ok: bool = False) -> dict[str, Account]:
    """Lock the accounts named ``codes`` (``select_for_update``, in id order, so that two
    writers never wait on each other in a cycle) and return them by code, as stored now.
    Must run inside the caller's transaction; an unknown code raises ``LedgerError``
    unless ``missing_ok`` (then it is simply absent from the result)."""
    wanted = set(codes)
    found = {
        account.code: account
        for account in Account.objects.select_for_update().filter(code__in=wanted).order_by("pk")
    }
    missing = sorted(wanted - found.keys())
    if missing and not missing_ok:
        raise LedgerError(_("There is no ledger account %(code)s.") % {"code": missing[0]})
    return found


# --- Internals ---------------------------------------------------------------------------


@dataclass
class _Prepared:
    """A validated transfer, ready to write, with the hash of its canonical payload."""

    key: str
    debit: Account
    credit: Account
    amount: int
    currency: str
    code: str
    description: str
    state: str
    pending_of: Transfer | None = None
    reverses: Transfer | None = None
    group: uuid.UUID | None = None
    sha256: str = ""


def _prepare_linked(
    key: str, legs: Sequence[Leg], accounts: dict[str, Account]
) -> tuple[uuid.UUID, list[_Prepared]]:
    """A linked group's transfers: keys ``key/1``…, one group UUID derived from ``key``."""
    if not legs:
        raise LedgerError(_("A linked transfer needs at least one leg."))
    _check_key(key)
    group = uuid.uuid5(_GROUP_NAMESPACE, key)
    return group, [
        _prepare(
            f"{key}/{number}",
            leg,
            TransferState.POSTED,
            group=group,
            total=len(legs),
            accounts=accounts,
        )
        for number, leg in enumerate(legs, start=1)
    ]


def _check_currency(currency: str) -> None:
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        raise LedgerError(
            _("%(currency)r is not an ISO 4217 currency code (three capital letters).")
            % {"currency": currency}
        )


def _check_key(key: str) -> None:
    if not isinstance(key, str) or not key.strip() or len(key) > 190:
        raise LedgerError(_("An idempotency key must have 1 to 190 characters."))


def _code(ref: AccountRef) -> str:
    return ref.code if isinstance(ref, Account) else ref


def _accounts(legs: Sequence[Leg]) -> dict[str, Account]:
    """The accounts the legs name, by code, in one query; an unknown code is refused."""
    codes = {_code(leg.debit) for leg in legs} | {_code(leg.credit) for leg in legs}
    found = {account.code: account for account in Account.objects.filter(code__in=codes)}
    missing = sorted(codes - found.keys())
    if missing:
        raise LedgerError(_("There is no ledger account %(code)s.") % {"code": missing[0]})
    return found


def _prepare(
    key: str,
    leg: Leg,
    state: str,
    *,
    pending_of: Transfer | None = None,
    reverses: Transfer | None = None,
    group: uuid.UUID | None = None,
    total: int = 1,
    accounts: dict[str, Account] | None = None,
) -> _Prepared:
    """Check one transfer against every rule that does not depend on other transfers."""
    _check_key(key)
    amount = leg.amount
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise LedgerError(
            _("The amount must be a whole number of minor units, not %(amount)r.")
            % {"amount": amount}
        )
    if amount <= 0:
        raise LedgerError(_("The amount must be positive, not %(amount)s.") % {"amount": amount})
    if amount > MAX_AMOUNT:
        raise LedgerError(
            _("The amount %(amount)s is above the limit of %(limit)s minor units.")
            % {"amount": amount, "limit": MAX_AMOUNT}
        )
    _check_currency(leg.currency)
    if not leg.code or len(leg.code) > 40:
        raise LedgerError(_("A transfer needs a code of 1 to 40 characters."))
    if len(leg.description) > 500:
        raise LedgerError(_("A transfer description has at most 500 characters."))
    accounts = accounts if accounts is not None else _accounts([leg])
    debit, credit = accounts[_code(leg.debit)], accounts[_code(leg.credit)]
    if debit.pk == credit.pk:
        raise LedgerError(
            _("A transfer needs two different accounts; %(code)s is both.") % {"code": debit.code}
        )
    for account in (debit, credit):
        if account.currency != leg.currency:
            raise LedgerError(
                _("The account %(code)s is in %(account)s, not %(currency)s.")
                % {"code": account.code, "account": account.currency, "currency": leg.currency}
            )
    prepared = _Prepared(
        key,
        debit,
        credit,
        amount,
        leg.currency,
        leg.code,
        leg.description,
        state,
        pending_of,
        reverses,
        group,
    )
    prepared.sha256 = _payload(
        debit=debit.code,
        credit=credit.code,
        amount=amount,
        currency=leg.currency,
        code=leg.code,
        description=leg.description,
        state=state,
        pending_of=pending_of.idempotency_key if pending_of else None,
        reverses=reverses.idempotency_key if reverses else None,
        legs=total,
    )
    return prepared


def _payload(
    *,
    debit: str,
    credit: str,
    amount: int,
    currency: str,
    code: str,
    description: str,
    state: str,
    pending_of: str | None,
    reverses: str | None,
    legs: int,
) -> str:
    """SHA-256 of the canonical payload: the JSON object of these fields with sorted keys,
    no spaces, UTF-8 (``json.dumps(…, sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)``), written out directly — at bulk volume ``json.dumps`` cost a
    third of a transfer's time. A test keeps both spellings equal."""
    text = (
        f'{{"amount":{int(amount)},"code":{_json(code)},"credit":{_json(credit)},'
        f'"currency":{_json(currency)},"debit":{_json(debit)},'
        f'"description":{_json(description)},"legs":{int(legs)},'
        f'"pending_of":{_json(pending_of)},"reverses":{_json(reverses)},"state":{_json(state)}}}'
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _json(text: str | None) -> str:
    return "null" if text is None else encode_basestring(text)


def _resolve(key: str, pending: Transfer, state: str) -> Transfer:
    pending = Transfer.objects.select_related("debit_account", "credit_account").get(pk=pending.pk)
    if pending.state != TransferState.PENDING:
        raise LedgerError(
            _("The transfer %(key)s is not a reservation (it is %(state)s).")
            % {"key": pending.idempotency_key, "state": pending.state}
        )
    leg = Leg(
        pending.debit_account,
        pending.credit_account,
        pending.amount,
        pending.currency,
        pending.code,
        pending.description,
    )
    return _submit([_prepare(key, leg, state, pending_of=pending)])[0]


def _submit(prepared: list[_Prepared], group: uuid.UUID | None = None) -> list[Transfer]:
    """Write ``prepared`` in one transaction, or return them if their keys are already
    written with the same payloads. A concurrent writer of the same key (or outcome, or
    reversal) makes the insert fail: the transaction rolls back and we look again once."""
    keys = [item.key for item in prepared]
    for attempt in range(2):
        try:
            with transaction.atomic():
                existing = _existing(keys, group)
                if existing:
                    return _replay(prepared, existing)
                return _write(prepared)
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _existing(keys: list[str], group: uuid.UUID | None) -> dict[str, Transfer]:
    found = Transfer.objects.filter(idempotency_key__in=keys)
    if group is not None:
        found = Transfer.objects.filter(group=group) | found
    return {transfer.idempotency_key: transfer for transfer in found}


def _replay(prepared: list[_Prepared], existing: dict[str, Transfer]) -> list[Transfer]:
    same = len(existing) == len(prepared) and all(
        item.key in existing and existing[item.key].payload_sha256 == item.sha256
        for item in prepared
    )
    if not same:
        raise IdempotencyConflict(
            _("The key %(key)s was already used for a different transfer.")
            % {"key": prepared[0].key.rsplit("/", 1)[0] if len(prepared) > 1 else prepared[0].key}
        )
    return [existing[item.key] for item in prepared]


_BATCH_QUERY = 900  # keys or groups per query: inside every database's parameter limit


def _existing_in_batch(
    prepared: dict[uuid.UUID, list[_Prepared]], *, by_key: bool
) -> dict[uuid.UUID, dict[str, str]]:
    """What is already written under the batch's groups (and, ``by_key``, under its keys):
    per group of the batch, ``{key: payload hash}``. A key written outside its group is
    reported under the group whose key it is, so the replay check refuses it."""
    group_field = Transfer._meta.get_field("group")
    stored = {group_field.get_db_prep_value(group, connection): group for group in prepared}
    quote = connection.ops.quote_name
    table = quote(Transfer._meta.db_table)
    columns = f"{quote('idempotency_key')}, {quote('payload_sha256')}, {quote('group')}"
    rows: list[tuple[str, str, Any]] = []
    searches = [(quote("group"), list(stored))]
    if by_key:
        searches.append((quote("idempotency_key"), [i.key for v in prepared.values() for i in v]))
    with connection.cursor() as cursor:
        for column, values in searches:
            for start in range(0, len(values), _BATCH_QUERY):
                chunk = values[start : start + _BATCH_QUERY]
                # PostgreSQL takes the values as one array (a short statement the driver
                # parses once); the others a list of placeholders.
                if connection.vendor == "postgresql":
                    condition, params = f"{column} = ANY(%s)", [chunk]
                else:
                    condition, params = f"{column} IN ({', '.join(['%s'] * len(chunk))})", chunk
                # Only quoted identifiers and %s placeholders are formatted in.
                cursor.execute(f"SELECT {columns} FROM {table} WHERE {condition}", params)  # noqa: S608
                rows += cursor.fetchall()
    group_of = {item.key: group for group, items in prepared.items() for item in items}
    found: dict[uuid.UUID, dict[str, str]] = defaultdict(dict)
    for key, sha, group in rows:
        owner = stored.get(group) or group_of.get(key)
        if owner is not None:
            found[owner][key] = sha
    return found


def _fresh(
    prepared: dict[uuid.UUID, list[_Prepared]], existing: dict[uuid.UUID, dict[str, str]]
) -> list[_Prepared]:
    """The transfers of groups not yet written; a written group must be a replay."""
    fresh: list[_Prepared] = []
    for group, items in prepared.items():
        found = existing.get(group)
        if found:
            _replay_hashes(items, found)
        else:
            fresh.extend(items)
    return fresh


def _replay_hashes(items: list[_Prepared], existing: dict[str, str]) -> None:
    """A group already written: the same keys with the same payloads, or a conflict."""
    same = len(existing) == len(items) and all(
        item.key in existing and existing[item.key] == item.sha256 for item in items
    )
    if not same:
        raise IdempotencyConflict(
            _("The key %(key)s was already used for a different transfer.")
            % {"key": items[0].key.rsplit("/", 1)[0]}
        )


def _insert_transfers(items: list[_Prepared]) -> None:
    """Insert posted transfers in bulk, without model instances (they cost more than the
    write itself at bulk volume)."""
    now = timezone.now()
    insert_rows(
        Transfer,
        _TRANSFER_COLUMNS,
        [
            (item.key, item.debit.pk, item.credit.pk, item.amount, item.currency, item.code,
             item.description, item.state, item.group, item.sha256, now)
            for item in items
        ],
    )  # fmt: skip


_TRANSFER_COLUMNS = (
    "idempotency_key", "debit_account", "credit_account", "amount", "currency", "code",
    "description", "state", "group", "payload_sha256", "created_at",
)  # fmt: skip


def _write(prepared: list[_Prepared]) -> list[Transfer]:
    """Lock the accounts (id order), check the rules that depend on other transfers, then
    insert the transfers and move the totals. Runs inside the caller's transaction."""
    ids = sorted({item.debit.pk for item in prepared} | {item.credit.pk for item in prepared})
    list(Account.objects.select_for_update().filter(pk__in=ids).order_by("pk").values("pk"))
    deltas: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for item in prepared:
        if (
            item.pending_of is not None
            and Transfer.objects.filter(pending_of=item.pending_of).exists()
        ):
            raise LedgerError(
                _("The reservation %(key)s has already been posted or voided.")
                % {"key": item.pending_of.idempotency_key}
            )
        if item.reverses is not None and Transfer.objects.filter(reverses=item.reverses).exists():
            raise LedgerError(
                _("The transfer %(key)s has already been reversed.")
                % {"key": item.reverses.idempotency_key}
            )
        debit, credit = deltas[item.debit.pk], deltas[item.credit.pk]
        if item.pending_of is not None:
            debit["debits_pending"] -= item.amount
            credit["credits_pending"] -= item.amount
        if item.state == TransferState.POSTED:
            debit["debits_posted"] += item.amount
            credit["credits_posted"] += item.amount
        elif item.state == TransferState.PENDING:
            debit["debits_pending"] += item.amount
            credit["credits_pending"] += item.amount
    transfers = Transfer.objects.bulk_create(
        [
            Transfer(
                idempotency_key=item.key,
                debit_account=item.debit,
                credit_account=item.credit,
                amount=item.amount,
                currency=item.currency,
                code=item.code,
                description=item.description,
                state=item.state,
                pending_of=item.pending_of,
                reverses=item.reverses,
                group=item.group,
                payload_sha256=item.sha256,
            )
            for item in prepared
        ]
    )
    _move_totals(deltas)
    return transfers


def _move_totals(deltas: dict[int, dict[str, int]]) -> None:
    """One UPDATE for every account touched, each column moved by its own delta per row
    (``CASE id WHEN … THEN …``, plain SQL on both databases: building the same statement
    with the ORM's ``Case``/``When`` cost more than the whole write)."""
    quote = connection.ops.quote_name
    assignments: list[str] = []
    params: list[int] = []
    for column in TOTALS:
        moves = [(pk, changes[column]) for pk, changes in deltas.items() if changes.get(column)]
        if not moves:
            continue
        assignments.append(
            f"{quote(column)} = {quote(column)} + CASE {quote(Account._meta.pk.column)} "
            + " ".join("WHEN %s THEN %s" for _move in moves)
            + " ELSE 0 END"
        )
        for pk, change in moves:
            params += [pk, change]
    if not assignments:
        return
    ids = list(deltas)
    # Only quoted identifiers and %s placeholders are formatted in; every value is a param.
    table, key = quote(Account._meta.db_table), quote(Account._meta.pk.column)
    placeholders = ", ".join(["%s"] * len(ids))
    sql = f"UPDATE {table} SET {', '.join(assignments)} WHERE {key} IN ({placeholders})"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *ids])


# --- Verification ------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountMismatch:
    """An account whose stored totals differ from those recomputed from its transfers."""

    code: str
    stored: dict[str, int]
    recomputed: dict[str, int]


@dataclass(frozen=True)
class CurrencyTotals:
    """Sums over every account of one currency, as stored; balanced when debits equal
    credits, posted and pending."""

    currency: str
    debits_posted: int
    credits_posted: int
    debits_pending: int
    credits_pending: int

    @property
    def balanced(self) -> bool:
        return (
            self.debits_posted == self.credits_posted
            and self.debits_pending == self.credits_pending
        )


@dataclass(frozen=True)
class VerifyResult:
    """What :func:`verify` found; ``ok`` when nothing is wrong."""

    accounts: int
    transfers: int
    mismatches: list[AccountMismatch] = field(default_factory=list)
    currencies: list[CurrencyTotals] = field(default_factory=list)
    wrong_currency: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            not self.mismatches
            and not self.wrong_currency
            and all(totals.balanced for totals in self.currencies)
        )


def verify(progress: Callable[[int, int], None] | None = None) -> VerifyResult:
    """Recompute every account's totals from the transfers and compare them with the
    stored ones; sum the stored totals per currency (debits must equal credits). Reads
    only, in one transaction (a consistent snapshot on PostgreSQL; SQLite serialises).
    ``progress(done, total)`` is called as transfers are read."""
    with transaction.atomic():
        accounts = {
            row["pk"]: row
            for row in Account.objects.values("pk", "code", "currency", *TOTALS).order_by("pk")
        }
        recomputed: dict[int, dict[str, int]] = {pk: dict.fromkeys(TOTALS, 0) for pk in accounts}
        total = Transfer.objects.count()
        done, last = 0, 0
        wrong_currency: list[str] = []
        while True:
            rows = list(
                Transfer.objects.filter(pk__gt=last)
                .order_by("pk")
                .values_list(
                    "pk",
                    "idempotency_key",
                    "debit_account_id",
                    "credit_account_id",
                    "amount",
                    "currency",
                    "state",
                    "pending_of_id",
                )[:_VERIFY_CHUNK]
            )
            if not rows:
                break
            for _pk, key, debit, credit, amount, currency, state, pending_of in rows:
                if (
                    accounts[debit]["currency"] != currency
                    or accounts[credit]["currency"] != currency
                ):
                    wrong_currency.append(key)
                debits, credits = recomputed[debit], recomputed[credit]
                if pending_of is not None:
                    debits["debits_pending"] -= amount
                    credits["credits_pending"] -= amount
                if state == TransferState.POSTED:
                    debits["debits_posted"] += amount
                    credits["credits_posted"] += amount
                elif state == TransferState.PENDING:
                    debits["debits_pending"] += amount
                    credits["credits_pending"] += amount
            done += len(rows)
            last = rows[-1][0]
            if progress is not None:
                progress(done, total)
        mismatches = []
        sums: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(TOTALS, 0))
        for pk, row in accounts.items():
            stored = {column: row[column] for column in TOTALS}
            if stored != recomputed[pk]:
                mismatches.append(AccountMismatch(row["code"], stored, recomputed[pk]))
            for column in TOTALS:
                sums[row["currency"]][column] += row[column]
    return VerifyResult(
        accounts=len(accounts),
        transfers=done,
        mismatches=mismatches,
        currencies=[CurrencyTotals(currency, **sums[currency]) for currency in sorted(sums)],
        wrong_currency=wrong_currency,
    )


def record_verification(result: VerifyResult) -> Verification:
    """Keep ``result`` as the latest verification (the transparency page shows it)."""
    return Verification.objects.create(
        checked_at=timezone.now(),
        ok=result.ok,
        accounts=result.accounts,
        transfers=result.transfers,
        mismatches=len(result.mismatches) + len(result.wrong_currency),
        currencies=[
            {
                "currency": totals.currency,
                "debits_posted": totals.debits_posted,
                "credits_posted": totals.credits_posted,
                "debits_pending": totals.debits_pending,
                "credits_pending": totals.credits_pending,
                "balanced": totals.balanced,
            }
            for totals in result.currencies
        ],
    )


def latest_verification() -> Verification | None:
    """The most recent recorded verification (None if the ledger was never verified)."""
    return Verification.objects.order_by("-checked_at", "-id").first()


def accounts_with_balances(currency: str | None = None) -> Iterable[Account]:
    """Every account (optionally of one currency), by code."""
    found = Account.objects.order_by("code")
    if currency:
        found = found.filter(currency=currency.upper())
    return found.iterator()
