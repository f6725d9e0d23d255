"""The rating as ONE Ibis expression, the same on DuckDB and on PySpark.

Input: the cycle's lake records and the dimension tables of ``dimensions.py``. Output:
one row per record with the columns of ``OUTPUT_COLUMNS`` (docs/rating-rules.md). Money
is integers only (charge units); nothing here divides money.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

import ibis
import ibis.expr.types as ir

from kindwave.usage.rating.cycles import DATA_FACTOR, SMS_FACTOR, VOICE_FACTOR
from kindwave.usage.rating.dimensions import MAX_PLAN_CODES, UNLIMITED

OUTPUT_COLUMNS: Final = (
    "record_id",
    "line_id",
    "msisdn",
    "record_type",
    "service",
    "direction",
    "counterpart",
    "start_time",
    "usage_date",
    "zone_code",
    "zone_kind",
    "class_code",
    "plan_code",
    "catalog_version",
    "quantity",
    "included",
    "charged",
    "charge_units",
    "currency",
    "status",
    "unrated_reason",
    "allowance_bucket",
)

HOME_KINDS: Final = ("home", "roam_like_at_home")


class UnratedReason:
    NO_LINE = "no_line"  # no line with that MSISDN and IMSI active or suspended then
    NO_PLAN = "no_plan"  # the line had no plan subscription in force
    NO_TERMS = "no_terms"  # no catalogue version in force offered the plan
    NO_DESTINATION_CLASS = "no_destination_class"  # counterpart matches no prefix


def _classes(counterparts: ir.Table, prefixes: ir.Table, lengths: Sequence[int]) -> ir.Table:
    """The destination class of each distinct (version, counterpart): the longest prefix.

    ``counterparts`` holds the distinct numbers called or texted. They are paired with
    every catalogue version that has prefixes (a handful), and the leading ``n``
    characters of each are equi-joined with the prefixes of length ``n``, for each
    length ``n`` that occurs; the longest match wins. No ``startswith`` cross join, and
    no reference to the per-record pipeline (which would make an engine materialise it).
    """
    versions = prefixes.select(version_id=prefixes.p_version_id).distinct()
    lengths_table = ibis.memtable({"n": list(lengths) or [1]})
    heads = counterparts.cross_join(versions).cross_join(lengths_table)
    heads = heads.filter(heads.counterpart.length() >= heads.n).mutate(
        lead=heads.counterpart.substr(0, heads.n)
    )
    matches = heads.join(
        prefixes,
        [
            heads.version_id == prefixes.p_version_id,
            heads.lead == prefixes.p_prefix,
            heads.n == prefixes.p_length,
        ],
    )
    return matches.group_by(
        c_version_id=matches.version_id, c_counterpart=matches.counterpart
    ).aggregate(c_class=matches.p_class.argmax(matches.p_length))


OUTGOING_CLASSIFIED: Final = ("voice_mo", "sms_mo")
# Bucket keys: line_id x BUCKETS_PER_LINE + plan number x 4 + service (0 voice, 1 SMS,
# 2 data); NO_BUCKET for the records that count against nothing. Plan numbers stay below
# MAX_PLAN_CODES (dimensions.resolve refuses more).
BUCKETS_PER_LINE: Final = 4096
NO_BUCKET: Final = BUCKETS_PER_LINE - 1
assert MAX_PLAN_CODES * 4 + 2 < NO_BUCKET  # noqa: S101 — a bucket never takes NO_BUCKET


def rate(
    records: ir.Table,
    *,
    counterparts_from: ir.Table,
    terms: ir.Table,
    zones: ir.Table,
    world: ir.Table,
    prefixes: ir.Table,
    rates: ir.Table,
    lengths: Sequence[int],
    start: datetime,
    end: datetime,
) -> ir.Table:
    """Rated records of ``[start, end)``, in no particular order (the engine writes them
    split by line shard; readers sort what they show).

    ``counterparts_from`` is a second reading of the same records, used only for the
    distinct numbers to classify: reading the files twice is cheaper than making the
    engine keep the whole per-record pipeline to refer to it twice.

    Speed: the per-record pipeline carries only what the output needs; plan, version,
    currency and zone names travel as small integer keys and are looked up at the end,
    so the running-sum window (one sort of the cycle) moves narrow rows.
    """
    in_cycle = (records.start_time >= ibis.timestamp(start)) & (
        records.start_time < ibis.timestamp(end)
    )
    r = records.filter(in_cycle).select(
        "record_id",
        "record_type",
        "msisdn",
        "imsi",
        "counterpart",
        "start_time",
        "duration_s",
        "bytes_up",
        "bytes_down",
        "visited_plmn",
    )
    called = counterparts_from.filter(
        (counterparts_from.start_time >= ibis.timestamp(start))
        & (counterparts_from.start_time < ibis.timestamp(end))
        & counterparts_from.record_type.isin(list(OUTGOING_CLASSIFIED))
    )
    classes = _classes(called.select("counterpart").distinct(), prefixes, lengths)

    t = terms.select(
        "t_msisdn", "t_imsi", "t_from", "t_to", "terms_id", "line_id", "plan_id", "plan_seq",
        "version_id", "min_s", "incr_s", "allow_voice", "allow_sms", "allow_data", "data_micro",
    )  # fmt: skip
    joined = r.left_join(
        t,
        [
            r.msisdn == t.t_msisdn,
            r.imsi == t.t_imsi,
            r.start_time >= t.t_from,
            r.start_time < t.t_to,
        ],
    ).drop("t_msisdn", "t_imsi", "t_from", "t_to", "imsi")
    base = joined.mutate(mcc=joined.visited_plmn.substr(0, 3)).drop("visited_plmn")

    # Zone: the MCC's zone in the pricing version, else the version's rest of the world.
    with_zone = base.left_join(
        zones, [base.version_id == zones.z_version_id, base.mcc == zones.z_mcc]
    )
    with_zone = with_zone.left_join(world, [with_zone.version_id == world.w_version_id])
    z = with_zone.mutate(
        zone_id=with_zone.z_zone_id.coalesce(with_zone.w_zone_id),
        zone_home=with_zone.z_home.coalesce(with_zone.w_home),
        zp_voice_out=with_zone.z_voice_out.coalesce(with_zone.w_voice_out),
        zp_voice_in=with_zone.z_voice_in.coalesce(with_zone.w_voice_in),
        zp_sms_out=with_zone.z_sms_out.coalesce(with_zone.w_sms_out),
        zp_sms_in=with_zone.z_sms_in.coalesce(with_zone.w_sms_in),
        zp_data=with_zone.z_data.coalesce(with_zone.w_data),
    ).drop(
        "mcc", "z_version_id", "z_mcc", "z_zone_id", "z_home", "z_voice_out", "z_voice_in",
        "z_sms_out", "z_sms_in", "z_data", "w_version_id", "w_zone_id", "w_home",
        "w_voice_out", "w_voice_in", "w_sms_out", "w_sms_in", "w_data",
    )  # fmt: skip

    c = z.left_join(
        classes,
        [z.version_id == classes.c_version_id, z.counterpart == classes.c_counterpart],
    )
    c = c.mutate(
        class_code=ibis.ifelse(
            c.record_type.isin(list(OUTGOING_CLASSIFIED)), c.c_class, ibis.null(str)
        )
    ).drop("c_version_id", "c_counterpart", "c_class")
    p = c.left_join(rates, [c.plan_id == rates.r_plan_id, c.class_code == rates.r_class]).drop(
        "r_plan_id", "r_class"
    )

    at_home = p.zone_home
    is_voice = p.record_type.isin(["voice_mo", "voice_mt"])
    is_sms = p.record_type.isin(["sms_mo", "sms_mt"])
    is_data = p.record_type == "data"
    is_out = p.record_type.isin(["voice_mo", "sms_mo", "data"])
    reason = ibis.cases(
        (p.line_id.isnull(), UnratedReason.NO_LINE),
        (p.plan_seq.isnull(), UnratedReason.NO_PLAN),
        (p.plan_id.isnull(), UnratedReason.NO_TERMS),
        (at_home & is_out & ~is_data & p.class_code.isnull(), UnratedReason.NO_DESTINATION_CLASS),
        else_=ibis.null(str),
    )
    billable = ibis.cases(
        (p.duration_s == 0, 0),
        (p.duration_s <= p.min_s, p.min_s),
        else_=p.min_s + ((p.duration_s - p.min_s + p.incr_s - 1) // p.incr_s) * p.incr_s,
    )
    kb = (p.bytes_up + p.bytes_down + 999) // 1000
    quantity = ibis.cases(
        (is_sms, 1),
        (is_data, kb),
        # Incoming calls at home are free and count against nothing: their own length.
        (at_home & ~is_out, p.duration_s),
        (p.min_s.isnull(), p.duration_s),
        else_=billable,
    ).cast("int64")
    allowance = ibis.cases(
        (is_voice & is_out & p.r_covered.fill_null(False), p.allow_voice),
        (is_sms & is_out & p.r_covered.fill_null(False), p.allow_sms),
        (is_data, p.allow_data),
        else_=0,
    )
    price = ibis.cases(
        (is_voice & at_home & is_out, p.r_voice * VOICE_FACTOR),
        (is_voice & at_home, 0),
        (is_voice & is_out, p.zp_voice_out * VOICE_FACTOR),
        (is_voice, p.zp_voice_in * VOICE_FACTOR),
        (is_sms & at_home & is_out, p.r_sms * SMS_FACTOR),
        (is_sms & at_home, 0),
        (is_sms & is_out, p.zp_sms_out * SMS_FACTOR),
        (is_sms, p.zp_sms_in * SMS_FACTOR),
        (at_home, p.data_micro * DATA_FACTOR),
        else_=p.zp_data * DATA_FACTOR,
    ).cast("int64")
    bucket_size = ibis.ifelse(at_home, allowance, 0).fill_null(0).cast("int64")
    counted = reason.isnull() & (bucket_size != 0)
    service_number = ibis.cases((is_voice, 0), (is_sms, 1), else_=2)
    prepared = p.select(
        "record_id",
        "record_type",
        "counterpart",
        "start_time",
        "terms_id",
        "line_id",
        "zone_id",
        "class_code",
        unrated_reason=reason,
        quantity=quantity,
        unit_price=price,
        bucket_size=bucket_size,
        counted=counted,
        # One integer partition key per bucket (line, plan, service): sorting on it is
        # cheaper than on strings. A line's records that count against no allowance share
        # the line's last key (NO_BUCKET), so the window's partitions stay small and many.
        bucket_key=p.line_id * BUCKETS_PER_LINE
        + ibis.ifelse(counted, p.plan_seq * 4 + service_number, NO_BUCKET),
    )

    # Allowances: a running sum in chronological order per bucket.
    window = ibis.window(
        group_by=[prepared.bucket_key],
        order_by=[prepared.start_time, prepared.record_id],
        rows=(None, 0),
    )
    # Each window function once, in a step of its own: used in later expressions, Ibis
    # would otherwise inline it there and the engine compute it three times.
    windowed = prepared.mutate(
        w_first=prepared.bucket_size.first().over(window),
        # DuckDB sums BIGINT into HUGEINT while Ibis types the sum int64 (and so drops a
        # cast to int64): a cast through DECIMAL(38, 0) forces BIGINT on both engines.
        w_through=prepared.quantity.sum().over(window).cast("decimal(38, 0)").cast("int64"),
    )
    bucket = windowed.w_first
    used_before = windowed.w_through - windowed.quantity
    in_bucket = windowed.counted
    both = windowed.mutate(
        allowance_bucket=ibis.ifelse(in_bucket, bucket, ibis.null("int64")).cast("int64"),
        included=ibis.cases(
            (windowed.unrated_reason.notnull(), ibis.null("int64")),
            (~in_bucket, 0),
            (bucket == UNLIMITED, windowed.quantity),
            else_=ibis.greatest(ibis.least(bucket - used_before, windowed.quantity), 0),
        ).cast("int64"),
    )
    # Names last: small lookups by integer key.
    names = terms.select(
        n_terms_id=terms.terms_id,
        msisdn=terms.t_msisdn,
        plan_code=terms.plan_code,
        catalog_version=terms.catalog_version,
        t_currency=terms.currency,
    )
    named = both.left_join(names, both.terms_id == names.n_terms_id)
    zone_names = zones.select(
        zn_id=zones.z_zone_id, zone_code=zones.z_code, zone_kind=zones.z_kind
    ).union(world.select(zn_id=world.w_zone_id, zone_code=world.w_code, zone_kind=world.w_kind))
    zone_names = zone_names.distinct()
    named = named.left_join(zone_names, named.zone_id == zone_names.zn_id)
    rated = named.unrated_reason.isnull()
    charged = (named.quantity - named.included).cast("int64")
    service = ibis.cases(
        (named.record_type.isin(["voice_mo", "voice_mt"]), "voice"),
        (named.record_type.isin(["sms_mo", "sms_mt"]), "sms"),
        else_="data",
    )
    out = named.mutate(
        msisdn=named.msisdn,
        service=service,
        direction=ibis.ifelse(named.record_type.isin(["voice_mt", "sms_mt"]), "in", "out"),
        charged=charged,
        charge_units=ibis.ifelse(rated, charged * named.unit_price, ibis.null("int64")).cast(
            "int64"
        ),
        status=ibis.ifelse(rated, "rated", "unrated"),
        usage_date=named.start_time.date(),
        currency=ibis.ifelse(rated, named.t_currency, ibis.null(str)),
    ).select(*OUTPUT_COLUMNS)
    return out


def summaries(rated: ir.Table) -> ir.Table:
    """Per line, plan, service, direction, zone and class: the future invoice lines."""
    ok = rated.filter(rated.status == "rated")
    return ok.group_by(
        "line_id",
        "plan_code",
        "service",
        "direction",
        "zone_code",
        "zone_kind",
        class_code=ok.class_code.fill_null(""),
        currency=ok.currency,
    ).aggregate(
        records=ok.count(),
        quantity=ok.quantity.sum(),
        included=ok.included.sum(),
        charged=ok.charged.sum(),
        charge_units=ok.charge_units.sum(),
    )


def buckets(rated: ir.Table) -> ir.Table:
    """Per (line, plan, service) bucket: its size, what was used, how many records."""
    counted = rated.filter(rated.allowance_bucket.notnull())
    return counted.group_by("line_id", "plan_code", "service").aggregate(
        allowed=counted.allowance_bucket.max(),
        used=counted.included.sum(),
        records=counted.count(),
    )


def first_versions(rated: ir.Table) -> ir.Table:
    """Per (line, plan used): the catalogue version of its first rated record in the cycle."""
    ok = rated.filter(rated.status == "rated")
    return ok.group_by("line_id", "plan_code").aggregate(
        catalog_version=ok.catalog_version.argmin(ok.start_time),
        first_at=ok.start_time.min(),
    )


def totals(rated: ir.Table) -> ir.Table:
    """Records by status and reason, charges by currency."""
    return rated.group_by(
        "status", reason=rated.unrated_reason.fill_null(""), currency=rated.currency.fill_null("")
    ).aggregate(
        records=rated.count(),
        charge_units=rated.charge_units.sum().cast("decimal(38, 0)"),
    )
