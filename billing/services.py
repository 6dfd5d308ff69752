"""Every balance change. Nothing else writes CreditAccount, LedgerEntry or Hold.

Each change locks the client's CreditAccount row (SELECT … FOR UPDATE) inside
transaction.atomic, computes the new balance/held under that lock, writes the
ledger entry with its balance_after and stores the new values. Lock order is
always "caller's rows (e.g. the session) first, the account last", so two
billing paths can never deadlock each other.

On PostgreSQL a charge made with the session's row already locked (a completing
callback) runs its locked part as one call of truestack_usage_charge, a function
this app's migration 0005 installs: the same steps, in the same order.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Q, Sum, Window
from django.utils import timezone

from clients.models import Client
from truestack.db import functions as db_functions
from truestack.errors import BadRequest, InsufficientCredits
from truestack.memo import ExpiringMemo
from truestack.prepared import PreparedRead, row_insert

from .models import DESCRIPTION_MAX_LENGTH, CreditAccount, Hold, LedgerEntry, PricingTier

logger = logging.getLogger(__name__)

DEFAULT_TIER_NAME = "Default"
# Kinds an operator may add by hand; usage is written only by session_charge.
MANUAL_KINDS = (
    LedgerEntry.Kind.TOPUP,
    LedgerEntry.Kind.INCLUDED,
    LedgerEntry.Kind.REFUND,
    LedgerEntry.Kind.ADJUSTMENT,
)


def default_credits_per_session() -> int:
    return settings.BILLING_DEFAULT_CREDITS_PER_SESSION


def billing_month_bounds(*, at: datetime | None = None) -> tuple[datetime, datetime]:
    """[start, end) of the calendar month containing `at`, in BILLING_TIME_ZONE."""
    tz = ZoneInfo(settings.BILLING_TIME_ZONE)
    local = (at or timezone.now()).astimezone(tz)
    start = datetime(local.year, local.month, 1, tzinfo=tz)
    end = datetime(local.year + local.month // 12, local.month % 12 + 1, 1, tzinfo=tz)
    return start, end


# --- accounts -----------------------------------------------------------------


def _client_id(client: Client | uuid.UUID | str) -> uuid.UUID | str:
    return client.pk if isinstance(client, Client) else client


def _create_account(client_id) -> None:
    # A savepoint, so losing the race (IntegrityError on the unique client)
    # leaves the caller's transaction usable.
    try:
        with transaction.atomic():
            CreditAccount.objects.create(client_id=client_id)
    except IntegrityError:
        pass


def account_get_or_create(*, client) -> CreditAccount:
    client_id = _client_id(client)
    account = CreditAccount.objects.filter(client_id=client_id).first()
    if account is None:
        _create_account(client_id)
        account = CreditAccount.objects.get(client_id=client_id)
    return account


# Hot reads of a charge, compiled once per process (truestack/prepared.py).
_ACCOUNT_LOCKED = PreparedRead(
    lambda client_id: CreditAccount.objects.select_for_update().filter(client_id=client_id)[:1], "client_id"
)
_HOLD_OPEN = PreparedRead(
    lambda session_id: Hold.objects.filter(session_id=session_id, status=Hold.Status.OPEN).order_by("id")[:1],
    "session_id",
)


def _lock_account(client_id) -> CreditAccount:
    """The client's account, locked until the end of the current transaction."""
    account = _ACCOUNT_LOCKED.get(client_id=client_id)
    if account is None:
        _create_account(client_id)
        account = CreditAccount.objects.select_for_update().get(client_id=client_id)
    return account


def _store_account(account: CreditAccount, *, balance: int, held: int) -> None:
    CreditAccount.objects.filter(pk=account.pk).update(balance=balance, held=held, updated_at=timezone.now())
    account.balance = balance
    account.held = held


# --- prices ---------------------------------------------------------------------


_TIERS = PreparedRead(
    lambda client_id: PricingTier.objects.filter(client_id=client_id).order_by("min_volume", "id"), "client_id"
)


def _tiers(client_id) -> list[PricingTier]:
    return _TIERS.rows(client_id=client_id)


def _price_from_tiers(tiers: list[PricingTier], ordinal: int) -> tuple[int, str]:
    # Overlapping tiers are refused by the admin; should any exist anyway, the
    # one starting lowest (then the oldest) wins, deterministically.
    for tier in tiers:
        if tier.min_volume <= ordinal and (tier.max_volume is None or ordinal <= tier.max_volume):
            return tier.credits_per_session, tier.name
    return default_credits_per_session(), DEFAULT_TIER_NAME


def price_for_ordinal(*, client, ordinal: int) -> tuple[int, str]:
    """(credits, tier name) for the `ordinal`-th billed session of a month."""
    return _price_from_tiers(_tiers(_client_id(client)), ordinal)


def _tiers_cover_all(tiers: list[PricingTier]) -> bool:
    """Whether every ordinal >= 1 falls in some tier."""
    next_uncovered = 1
    for tier in sorted(tiers, key=lambda t: t.min_volume):
        if tier.min_volume > next_uncovered:
            return False
        if tier.max_volume is None:
            return True
        next_uncovered = max(next_uncovered, tier.max_volume + 1)
    return False


_hold_amounts: ExpiringMemo[int] = ExpiringMemo()


def hold_amount_for(*, client) -> int:
    """The most one session of this client can cost: a hold of this size can
    always pay the session, whichever ordinal (or month) it completes in.

    Every create asks, so each process remembers the answer for
    HOLD_AMOUNT_CACHE_SECONDS: a price change reaches the holds of sessions created
    that much later at most (as it never reaches holds already placed). Charges
    always price with the current list."""
    client_id = _client_id(client)
    ttl = settings.HOLD_AMOUNT_CACHE_SECONDS
    if ttl > 0 and (remembered := _hold_amounts.get(client_id)) is not None:
        return remembered
    tiers = _tiers(client_id)
    prices = [t.credits_per_session for t in tiers]
    if not _tiers_cover_all(tiers):
        prices.append(default_credits_per_session())
    amount = max(prices)
    if ttl > 0:
        _hold_amounts.put(client_id, amount, ttl=ttl)
    return amount


# --- holds ----------------------------------------------------------------------


def hold_place(*, session, amount: int | None = None) -> Hold | None:
    """Reserve the session's maximum price. Call once, inside the transaction
    that creates the session, so a refused hold also undoes the session row (the
    one-to-one constraint refuses a second hold for a session). `amount` is
    hold_amount_for(client) read before the caller took its locks, so they are
    held for less time (a tier change applies to holds placed after it)."""
    if session.is_test:
        return None
    # No savepoint: this runs inside the caller's transaction.
    with transaction.atomic(savepoint=False):
        client = session.client
        if amount is None:
            amount = hold_amount_for(client=client)
        credit_reserve(client=client, amount=amount)
        hold = hold_insert(session=session, amount=amount)
    return hold


def hold_insert(*, session, amount: int) -> Hold:
    """The hold row alone, for a caller that reserves its credit in the same
    transaction itself (credit_reserve, or credit_reserve_sql in its own statement):
    the session create path, which touches the client's hot rows last."""
    return row_insert(Hold(client_id=session.client_id, session_id=session.pk, amount=amount))


def credit_reserve(*, client: Client, amount: int) -> None:
    """Raise the client's `held` by `amount`, or refuse with InsufficientCredits.
    One conditional UPDATE (PostgreSQL re-checks the condition on the locked, latest
    row version, so no overdraft slips through); the account is locked and read
    only when it is missing or the credit looks short. Call inside a transaction."""
    if _reserve_credit(client_id=client.pk, amount=amount, allow_overdraft=client.allow_overdraft):
        return
    account = _lock_account(client.pk)
    if not client.allow_overdraft and account.balance - account.held < amount:
        raise InsufficientCredits(balance=account.balance, available=account.balance - account.held, required=amount)
    _store_account(account, balance=account.balance, held=account.held + amount)


def _reserve_credit(*, client_id, amount: int, allow_overdraft: bool) -> bool:
    accounts = CreditAccount.objects.filter(client_id=client_id)
    if not allow_overdraft:
        accounts = accounts.filter(balance__gte=F("held") + amount)
    return bool(accounts.update(held=F("held") + amount, updated_at=timezone.now()))


def credit_reserve_sql(*, client: Client, amount: int, only_if: str = "TRUE") -> tuple[str, list]:
    """The conditional UPDATE of credit_reserve as SQL (`RETURNING 1`), for a caller
    that folds it into one statement with its own rows (PostgreSQL). `only_if` is
    an extra SQL condition of the caller's. No row returned: call credit_reserve,
    which decides (missing account, or InsufficientCredits)."""
    table = CreditAccount._meta.db_table
    credit = "TRUE" if client.allow_overdraft else "balance >= held + %s"
    params: list = [amount, client.pk] + ([] if client.allow_overdraft else [amount])
    sql = (
        f"UPDATE {table} SET held = held + %s, updated_at = now() "  # noqa: S608 - table name from the model
        f"WHERE client_id = %s AND {credit} AND ({only_if}) RETURNING 1"
    )
    return sql, params


def hold_release(*, session) -> bool:
    """Give back an open hold (session expired or never created). Idempotent."""
    if not Hold.objects.filter(session_id=session.pk, status=Hold.Status.OPEN).exists():
        return False
    with transaction.atomic():
        account = _lock_account(session.client_id)
        # Re-read under the lock: a concurrent charge may have captured it.
        hold = Hold.objects.filter(session_id=session.pk, status=Hold.Status.OPEN).first()
        if hold is None:
            return False
        Hold.objects.filter(pk=hold.pk).update(status=Hold.Status.RELEASED, settled_at=timezone.now())
        _store_account(account, balance=account.balance, held=account.held - hold.amount)
    return True


# --- charges --------------------------------------------------------------------


_USAGE = PreparedRead(
    lambda session_id: LedgerEntry.objects.filter(session_id=session_id, kind=LedgerEntry.Kind.USAGE).only("id")[:1],
    "session_id",
)


def _usage_exists(session_id) -> bool:
    return _USAGE.get(session_id=session_id) is not None


@dataclass(frozen=True)
class ChargeReads:
    """What a charge reads before it locks the client's account, and what it will
    most likely cost: `quote` = (credits, tier name)."""

    tiers: list[PricingTier]
    hold: Hold | None
    quote: tuple[int, str]
    # The ordinal the quote is priced at; None when every ordinal costs the same.
    quote_ordinal: int | None = None


def session_charge_reads(*, session) -> ChargeReads | None:
    """The price list, the session's open hold and the quote; None when there is
    nothing to charge (a test session, or one already charged).

    The quote is exact when every ordinal costs the same; otherwise it is priced from
    the month's count as it stands, without the lock, and a concurrent charge of the
    same client can move the actual ordinal: session_charge decides."""
    if session.is_test or _usage_exists(session.pk):
        return None
    tiers = _tiers(session.client_id)
    ordinal = None
    if _one_price(tiers):
        quote = _price_from_tiers(tiers, 1)
    else:
        month_start, month_end = billing_month_bounds()
        ordinal = _usage_count_in_month(session.client_id, month_start, month_end) + 1
        quote = _price_from_tiers(tiers, ordinal)
    return ChargeReads(tiers=tiers, hold=_HOLD_OPEN.get(session_id=session.pk), quote=quote, quote_ordinal=ordinal)


def _one_price(tiers: list[PricingTier]) -> bool:
    return not tiers or (len(tiers) == 1 and tiers[0].min_volume <= 1 and tiers[0].max_volume is None)


def session_charge(
    *, session, session_locked: bool = False, reads: ChargeReads | None = None, at: datetime | None = None
) -> LedgerEntry | None:
    """Bill a completed session once, ever. Returns the usage entry, or None
    when nothing was charged (test session, or already charged).

    Everything that does not need the client's account (session_charge_reads: the
    already-charged check, the session's hold, the price list) is read first, so the
    account is locked for the month's count, the entry and the two updates only; a
    caller may read it earlier still and pass `reads`. `session_locked`: the caller
    holds the session's row lock in its transaction (applying a provider result
    does), which makes the already-charged check exact; no savepoint is then spent
    on the unique constraint, whose refusal would roll the caller back. `at`: the
    moment the charge is made at (its entry's created_at and billing month)."""
    if reads is None:
        reads = session_charge_reads(session=session)
        if reads is None:
            return None
    tiers, hold = reads.tiers, reads.hold
    try:
        with transaction.atomic(savepoint=not session_locked):
            now = at or timezone.now()
            month_start, month_end = billing_month_bounds(at=now)
            if session_locked and connection.vendor == "postgresql":
                entry = _charge_in_one_call(session=session, reads=reads, month=(month_start, month_end), at=now)
                if entry is not None:
                    _log_charge(entry)
                    return entry
                # No row: the account is missing, or the ordinal is not the quoted one.
            account = _lock_account(session.client_id)
            ordinal = _usage_count_in_month(session.client_id, month_start, month_end) + 1
            price, tier_name = _price_from_tiers(tiers, ordinal)
            balance = account.balance - price
            held = account.held - (hold.amount if hold else 0)
            entry = LedgerEntry.objects.create(
                client_id=session.client_id,
                kind=LedgerEntry.Kind.USAGE,
                amount=-price,
                balance_after=balance,
                session_id=session.pk,
                tier_name=tier_name,
                month_ordinal=ordinal,
                description=f"KYC session {session.pk}",
                created_at=now,  # the moment it was counted and priced at, in its month
            )
            if hold is not None:
                Hold.objects.filter(pk=hold.pk).update(status=Hold.Status.CAPTURED, settled_at=now)
            _store_account(account, balance=balance, held=held)
    except IntegrityError:
        # The unique constraint is the last line of defence against a double charge
        # (the savepoint above keeps the caller's transaction usable).
        if session_locked:
            raise
        if _usage_exists(session.pk):
            return None
        raise
    _log_charge(entry)
    return entry


def _log_charge(entry: LedgerEntry) -> None:
    _charge_logged(entry.session_id, entry.month_ordinal, -entry.amount, entry.tier_name)


def _charge_logged(session_id, ordinal: int | None, credits: int, tier_name: str) -> None:
    logger.info("billing: charged session %s ordinal %s: %s credits (%s)", session_id, ordinal, credits, tier_name)


_CHARGE_FUNCTION = "truestack_usage_charge"  # billing/migrations/0005
# The message truestack_usage_charge raises with p_strict when it cannot charge.
CHARGE_REFUSED = "truestack: charge refused"


@dataclass(frozen=True)
class ChargeCall:
    """One call of truestack_usage_charge (billing/migrations/0005) and what it charges."""

    sql: str
    params: list
    session_id: object
    price: int
    tier_name: str
    description: str


def _charge_call(
    *, session, reads: ChargeReads, month: tuple[datetime, datetime], at: datetime, strict: bool
) -> ChargeCall | None:
    if _one_price(reads.tiers):
        expected = None  # any ordinal costs the same
    elif reads.quote_ordinal is None:
        return None  # a quote without its ordinal: the locked path counts and prices
    else:
        expected = reads.quote_ordinal
    # Priced from the list at the ordinal the function checks, whatever the quote says.
    price, tier_name = _price_from_tiers(reads.tiers, expected or 1)
    hold = reads.hold
    description = f"KYC session {session.pk}"
    params = [
        session.client_id,
        session.pk,
        price,
        tier_name,
        expected,
        hold.pk if hold else None,
        hold.amount if hold else 0,
        *month,
        at,
        description,
        LedgerEntry.Kind.USAGE.value,
        Hold.Status.CAPTURED.value,
        strict,
    ]
    return ChargeCall(
        sql=db_functions.call_sql(_CHARGE_FUNCTION, params),
        params=params,
        session_id=session.pk,
        price=price,
        tier_name=tier_name,
        description=description,
    )


def session_charge_sql(*, session, reads: ChargeReads, at: datetime) -> ChargeCall | None:
    """PostgreSQL: the locked part of charging `session` as one statement, for a caller
    holding the session's row lock that sends it with its COMMIT (one round trip). When
    it cannot charge (no account yet, or the ordinal moved off the quote) the statement
    raises CHARGE_REFUSED, so that COMMIT rolls back; the caller then charges with
    session_charge. None when the quote cannot be checked in SQL (use session_charge).
    A charge made this way costs exactly its quote."""
    return _charge_call(session=session, reads=reads, month=billing_month_bounds(at=at), at=at, strict=True)


def charge_call_logged(*, call: ChargeCall, row: tuple | None) -> None:
    """Log a charge made by sending `call` (its row: entry id, ordinal, balance)."""
    _charge_logged(call.session_id, row[1] if row else None, call.price, call.tier_name)


def _charge_in_one_call(
    *, session, reads: ChargeReads, month: tuple[datetime, datetime], at: datetime
) -> LedgerEntry | None:
    """PostgreSQL, with the session's row locked by the caller: the locked part of a
    charge in one call of truestack_usage_charge, the same steps as session_charge's
    locked path, without a round trip per step. None when it wrote nothing (no
    account yet, or the ordinal moved off the quote): the locked path then charges."""
    call = _charge_call(session=session, reads=reads, month=month, at=at, strict=False)
    if call is None:
        return None
    row = db_functions.call(_CHARGE_FUNCTION, call.params)
    if row is None:
        return None
    entry_id, ordinal, balance = row
    written = {
        "id": entry_id,
        "client_id": session.client_id,
        "kind": LedgerEntry.Kind.USAGE.value,
        "amount": -call.price,
        "balance_after": balance,
        "session_id": session.pk,
        "tier_name": call.tier_name,
        "month_ordinal": ordinal,
        "description": call.description,
        "created_at": at,
    }
    return LedgerEntry.from_db(connection.alias, list(written), list(written.values()))


def _usage_count_in_month(client_id, month_start: datetime, month_end: datetime) -> int:
    # Exact only with the client's account locked: every usage entry is written under it.
    return LedgerEntry.objects.filter(
        client_id=client_id,
        kind=LedgerEntry.Kind.USAGE,
        created_at__gte=month_start,
        created_at__lt=month_end,
    ).count()


# --- manual credits -------------------------------------------------------------


def credit_add(
    *,
    client,
    credits: int,
    kind: str = LedgerEntry.Kind.TOPUP,
    description: str = "",
    created_by=None,
) -> LedgerEntry:
    """Top-up, promotional credits, refund or adjustment (the only kind that
    may be negative)."""
    if kind not in MANUAL_KINDS:
        raise BadRequest(f"kind must be one of {', '.join(MANUAL_KINDS)}")
    if isinstance(credits, bool) or not isinstance(credits, int):
        raise BadRequest("credits must be a whole number")
    if kind == LedgerEntry.Kind.ADJUSTMENT:
        if credits == 0:
            raise BadRequest("An adjustment must not be zero")
    elif credits <= 0:
        raise BadRequest(f"A {kind} must be a positive number of credits")
    description = (description or "").strip()
    if len(description) > DESCRIPTION_MAX_LENGTH:
        raise BadRequest("description is too long (255 characters at most)")

    client_id = _client_id(client)
    with transaction.atomic():
        account = _lock_account(client_id)
        balance = account.balance + credits
        if credits < 0:
            allow_overdraft = getattr(client, "allow_overdraft", None)
            if allow_overdraft is None:
                allow_overdraft = account.client.allow_overdraft
            # Open holds must stay payable, or a completing session would
            # take a client without overdraft below zero.
            if not allow_overdraft and balance < account.held:
                raise BadRequest(
                    f"Adjustment refused: only {account.balance - account.held} credits are available "
                    f"(balance {account.balance}, held by open sessions {account.held})"
                )
        entry = LedgerEntry.objects.create(
            client_id=client_id,
            kind=kind,
            amount=credits,
            balance_after=balance,
            description=description,
            created_by=created_by,
        )
        _store_account(account, balance=balance, held=account.held)
    logger.info("billing: %s of %s credits for client %s", kind, credits, client_id)
    return entry


# --- consistency check ----------------------------------------------------------

_MAX_REPORTED = 50


# The session statuses at which kyc has settled the hold (charged or released):
# kyc's KycSession.FINAL_STATUSES. Billing stands below kyc and does not import
# it; tests/test_architecture.py keeps the two equal.
SESSION_FINAL_STATUSES = ("completed", "expired", "failed")


def ledger_check() -> list[str]:
    """Every inconsistency between accounts, entries and holds. [] means OK."""
    problems: list[str] = []
    entry_sums = dict(
        LedgerEntry.objects.order_by()
        .values("client_id")
        .annotate(total=Sum("amount"))
        .values_list("client_id", "total")
    )
    hold_sums = dict(
        Hold.objects.filter(status=Hold.Status.OPEN)
        .order_by()
        .values("client_id")
        .annotate(total=Sum("amount"))
        .values_list("client_id", "total")
    )
    accounts = {
        a.client_id: a
        for a in CreditAccount.objects.select_related("client").only(
            "client_id", "balance", "held", "client__code", "client__allow_overdraft"
        )
    }
    for client_id in sorted((set(entry_sums) | set(hold_sums)) - set(accounts), key=str):
        problems.append(f"client {client_id}: ledger entries or holds but no credit account")
    for client_id, account in accounts.items():
        code = account.client.code
        total = entry_sums.get(client_id) or 0
        if account.balance != total:
            problems.append(f"{code}: balance {account.balance} != sum of ledger entries {total}")
        open_held = hold_sums.get(client_id) or 0
        if account.held != open_held:
            problems.append(f"{code}: held {account.held} != sum of open holds {open_held}")
        if account.balance < 0 and not account.client.allow_overdraft:
            problems.append(f"{code}: negative balance {account.balance} without overdraft")

    broken_chain = (
        LedgerEntry.objects.annotate(
            running=Window(Sum("amount"), partition_by=[F("client_id")], order_by=F("id").asc())
        )
        .filter(~Q(running=F("balance_after")))
        .order_by("id")
        .values_list("id", "client__code", "balance_after", "running")[:_MAX_REPORTED]
    )
    for entry_id, code, balance_after, running in broken_chain:
        problems.append(f"{code}: entry {entry_id} balance_after {balance_after} != running total {running}")

    doubles = (
        LedgerEntry.objects.filter(kind=LedgerEntry.Kind.USAGE, session__isnull=False)
        .order_by()
        .values("session_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .values_list("session_id", "n")[:_MAX_REPORTED]
    )
    for session_id, n in doubles:
        problems.append(f"session {session_id}: {n} usage entries")

    stale = (
        Hold.objects.filter(status=Hold.Status.OPEN, session__status__in=SESSION_FINAL_STATUSES)
        .order_by("id")
        .values_list("session_id", "session__status")[:_MAX_REPORTED]
    )
    for session_id, status in stale:
        problems.append(f"session {session_id}: hold still open although the session is {status}")
    return problems
