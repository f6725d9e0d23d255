"""The operator's chart of accounts: every account code Kindwave posts to, in one place.

Codes are ``owner:purpose:CURRENCY`` (ISO 4217); every account holds one currency. The
functions below name the accounts; :func:`ensure` opens them (idempotent) so callers
never spell a code by hand. See docs/ledger.md, "The chart of accounts".

==========================  ==========  =============================================
code                        kind        what it holds
==========================  ==========  =============================================
operator:bank:C             asset       money in the operator's bank account
operator:receivables:C      asset       invoiced, not yet paid (invoices are the detail)
operator:unbilled:C         asset       carrier-billing charges confirmed, not invoiced
operator:suspense:C         liability   bank receipts not yet matched to an invoice
operator:revenue:C          revenue     telecom revenue, net of VAT
operator:vat:MK             liability   VAT payable to the market's tax office
operator:merchants:C        liability   owed to third parties for carrier-billing sales
operator:wholesale:C        expense     the host network's wholesale cost
operator:operating-costs:C  expense     other operating costs entered by staff
operator:payment-fees:C     expense     card and bank fees (never taken from a donation)
operator:bad-debt:C         expense     invoices written off as never to be paid
operator:cause-share:C      expense     the 10 % of every bill given to causes
operator:pledge:C           expense     the profit pledge
operator:equity:C           equity      capital and opening balances
foundation:fund:C           liability   bill shares of subscribers who chose no cause
pledge:fund:C               liability   the pledge, between computation and allocation
cause:ID:C                  liability   owed to one cause until paid out
wallet:USER:C               liability   a subscriber's credit (overpayments, refunds)
==========================  ==========  =============================================
"""

from __future__ import annotations

from dataclasses import dataclass

from kindwave.ledger.models import Account, AccountKind


@dataclass(frozen=True)
class AccountName:
    """A chart entry: the code, a readable name and the kind of account."""

    code: str
    name: str
    kind: str
    currency: str


def _operator(purpose: str, name: str, kind: str, currency: str) -> AccountName:
    return AccountName(f"operator:{purpose}:{currency}", f"{name} ({currency})", kind, currency)


def bank(currency: str) -> AccountName:
    return _operator("bank", "Bank", AccountKind.ASSET, currency)


def receivables(currency: str) -> AccountName:
    return _operator("receivables", "Subscriber receivables", AccountKind.ASSET, currency)


def unbilled(currency: str) -> AccountName:
    return _operator("unbilled", "Carrier billing not yet invoiced", AccountKind.ASSET, currency)


def revenue(currency: str) -> AccountName:
    return _operator("revenue", "Telecom revenue", AccountKind.REVENUE, currency)


def vat_payable(market_code: str, currency: str) -> AccountName:
    return AccountName(
        f"operator:vat:{market_code}",
        f"VAT payable, {market_code}",
        AccountKind.LIABILITY,
        currency,
    )


def merchants(currency: str) -> AccountName:
    return _operator("merchants", "Owed to merchants", AccountKind.LIABILITY, currency)


def suspense(currency: str) -> AccountName:
    return _operator("suspense", "Bank receipts not yet matched", AccountKind.LIABILITY, currency)


def bad_debt(currency: str) -> AccountName:
    return _operator("bad-debt", "Bad debts written off", AccountKind.EXPENSE, currency)


def wholesale(currency: str) -> AccountName:
    return _operator("wholesale", "Host network wholesale cost", AccountKind.EXPENSE, currency)


def operating_costs(currency: str) -> AccountName:
    return _operator("operating-costs", "Operating costs", AccountKind.EXPENSE, currency)


def payment_fees(currency: str) -> AccountName:
    return _operator("payment-fees", "Payment fees", AccountKind.EXPENSE, currency)


def cause_share(currency: str) -> AccountName:
    return _operator("cause-share", "Bill shares given to causes", AccountKind.EXPENSE, currency)


def pledge_expense(currency: str) -> AccountName:
    return _operator("pledge", "Profit pledge", AccountKind.EXPENSE, currency)


def equity(currency: str) -> AccountName:
    return _operator("equity", "Equity", AccountKind.EQUITY, currency)


def foundation(currency: str) -> AccountName:
    return AccountName(
        f"foundation:fund:{currency}",
        f"Kindwave foundation fund ({currency})",
        AccountKind.LIABILITY,
        currency,
    )


def pledge_fund(currency: str) -> AccountName:
    return AccountName(
        f"pledge:fund:{currency}", f"Pledge fund ({currency})", AccountKind.LIABILITY, currency
    )


def cause(cause_id: int, currency: str) -> AccountName:
    return AccountName(
        f"cause:{cause_id}:{currency}",
        f"Owed to cause {cause_id} ({currency})",
        AccountKind.LIABILITY,
        currency,
    )


def wallet(user_id: int, currency: str) -> AccountName:
    return AccountName(
        f"wallet:{user_id}:{currency}",
        f"Wallet of subscriber {user_id} ({currency})",
        AccountKind.LIABILITY,
        currency,
    )


def cause_id_of(code: str) -> int | None:
    """The cause id of a ``cause:ID:C`` code (None for any other account)."""
    parts = code.split(":")
    if len(parts) == 3 and parts[0] == "cause" and parts[1].isdigit():
        return int(parts[1])
    return None


def ensure(*names: AccountName) -> list[Account]:
    """Open the named accounts (those already open are returned as they are), in order."""
    from kindwave.ledger.services import open_account

    return [open_account(n.code, n.name, n.kind, n.currency) for n in names]
