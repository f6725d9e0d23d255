"""The minimum-count rule of the public feed, as a property: whatever the months, recipients
and givers, no published amount from subscribers has fewer than five distinct people
behind it, every amount ends in exactly one published row or is held back, and the
``withheld`` entries say truthfully where each recipient's money went."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from kindwave.causes import transparency
from kindwave.causes.transparency import MIN_PUBLISHED_COUNT, OTHER, Part

RECIPIENTS = {"foundation": None, "a": 1, "b": 2, "c": 3, "d": 4}
MONTHS = ["2026-01", "2026-02", "2026-03", "2026-04"]

# One generated part: (month, recipient, the people who gave, the amount).
parts_strategy = st.lists(
    st.tuples(
        st.sampled_from(MONTHS),
        st.sampled_from(sorted(RECIPIENTS)),
        st.frozensets(st.integers(min_value=1, max_value=12), max_size=8),
        st.integers(min_value=-5_000, max_value=50_000),
    ),
    max_size=24,
    unique_by=lambda part: (part[0], part[1]),
)


def publish(
    generated: list[tuple[str, str, frozenset[int], int]],
) -> tuple[list[transparency.FeedRow], list[transparency.Withheld], dict]:
    people = {(month, who): givers for month, who, givers, _amount in generated}
    parts = [
        Part(month, RECIPIENTS[who], who, amount, max(len(givers), 1), len(givers))
        for month, who, givers, amount in generated
    ]

    def distinct(together: list[Part]) -> int:
        return len(set().union(*(people[(p.month, p.recipient)] for p in together)))

    rows, withheld = transparency.pool_parts("donation", "GBP", parts, distinct)
    return rows, withheld, people


@settings(max_examples=400, deadline=None)
@given(parts_strategy)
def test_no_published_amount_comes_from_fewer_than_five(
    generated: list[tuple[str, str, frozenset[int], int]],
) -> None:
    rows, withheld, people = publish(generated)
    amounts = {(month, who): amount for month, who, _givers, amount in generated}

    seen: Counter[tuple[str, str]] = Counter()
    for row in rows:
        if row.recipient == OTHER:
            members = [(w.month, w.recipient) for w in withheld if w.published_in == row.month]
        else:
            members = [(row.month, row.recipient)]
        behind = set().union(*(people[member] for member in members))
        assert len(behind) >= MIN_PUBLISHED_COUNT
        assert row.subscribers == len(behind)
        assert row.amount_minor == sum(amounts[member] for member in members)
        seen.update(members)
    held = [(w.month, w.recipient) for w in withheld if w.published_in is None]
    seen.update(held)
    # Every part is published exactly once (in its row, an "other" row) or held back…
    assert seen == Counter(list(amounts))
    # …and what is held back is too few people to show, together.
    assert len(set().union(*(people[member] for member in held))) < MIN_PUBLISHED_COUNT or not held
    # Amounts add up: published + held back = everything.
    published = sum(row.amount_minor for row in rows)
    assert published + sum(amounts[member] for member in held) == sum(amounts.values())


def test_pooling_in_order_small_then_the_smallest_shown_then_the_next_month() -> None:
    alone = frozenset({1})
    rows, withheld, _people = publish(
        [
            ("2026-01", "a", frozenset(range(10, 16)), 600),  # 6 people: shown apart
            ("2026-01", "b", frozenset(range(20, 25)), 500),  # 5: the smallest shown apart
            ("2026-01", "c", alone, 100),  # 1: pooled, takes b in with it
            ("2026-02", "c", alone, 100),  # the same 1 person, and no one else this month
            ("2026-03", "d", frozenset(range(30, 34)), 400),  # 4 others: 5 with February's
        ]
    )

    assert [(r.month, r.recipient, r.amount_minor, r.subscribers) for r in rows] == [
        ("2026-01", OTHER, 600, 6),
        ("2026-01", "a", 600, 6),
        ("2026-03", OTHER, 500, 5),
    ]
    assert [(w.month, w.recipient, w.reason, w.published_in) for w in withheld] == [
        ("2026-01", "c", transparency.FEWER, "2026-01"),
        ("2026-01", "b", transparency.MERGED, "2026-01"),
        ("2026-02", "c", transparency.FEWER, "2026-03"),
        ("2026-03", "d", transparency.FEWER, "2026-03"),
    ]
