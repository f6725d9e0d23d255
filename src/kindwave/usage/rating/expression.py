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
from kindwave.usage.rating.dimensions import UNLIMITED

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


def _classes(pairs: ir.Table, prefixes: ir.Table, lengths: Sequence[int]) -> ir.Table:
    """The destination class of each distinct (version, counterpart): the longest prefix.

    Equi-joins the counterpart's leading ``n`` characters with the prefixes of length
    ``n``, for each length ``n`` that occurs, and keeps the longest match. No
    ``startswith`` cross join.
    """
    lengths_table = ibis.memtable({"n": list(lengths) or [1]})
    heads = pairs.cross_join(lengths_table)
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


def rate(
    records: ir.Table,
    *,
    terms: ir.Table,
    zones: ir.Table,
    world: ir.Table,
    prefixes: ir.Table,
    rates: ir.Table,
    lengths: Sequence[int],
    start: datetime,
    end: datetime,
) -> ir.Table:
    """Rated records of ``[start, end)``, sorted by line, start time and record id."""
    r = records.filter(
        (records.start_time >= ibis.timestamp(start)) & (records.start_time < ibis.timestamp(end))
    ).select(
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
    joined = r.left_join(
        terms,
        [
            r.msisdn == terms.t_msisdn,
            r.imsi == terms.t_imsi,
            r.start_time >= terms.t_from,
            r.start_time < terms.t_to,
        ],
    ).drop("t_msisdn", "t_imsi", "t_from", "t_to")
    service = (
        ibis.cases(
            (joined.record_type.isin(["voice_mo", "voice_mt"]), "voice"),
            (joined.record_type.isin(["sms_mo", "sms_mt"]), "sms"),
            else_="data",
        )
    ).name("service")
    direction = ibis.ifelse(joined.record_type.isin(["voice_mt", "sms_mt"]), "in", "out")
    base = joined.mutate(service=service, direction=direction, mcc=joined.visited_plmn.substr(0, 3))

    # Zone: the MCC's zone in the pricing version, else the version's rest of the world.
    with_zone = base.left_join(
        zones, [base.version_id == zones.z_version_id, base.mcc == zones.z_mcc]
    )
    with_zone = with_zone.left_join(world, [with_zone.version_id == world.w_version_id])
    z = with_zone.mutate(
        zone_code=with_zone.z_code.coalesce(with_zone.w_code),
        zone_kind=with_zone.z_kind.coalesce(with_zone.w_kind),
        zp_voice_out=with_zone.z_voice_out.coalesce(with_zone.w_voice_out),
        zp_voice_in=with_zone.z_voice_in.coalesce(with_zone.w_voice_in),
        zp_sms_out=with_zone.z_sms_out.coalesce(with_zone.w_sms_out),
        zp_sms_in=with_zone.z_sms_in.coalesce(with_zone.w_sms_in),
        zp_data=with_zone.z_data.coalesce(with_zone.w_data),
    ).drop(
        "z_version_id", "z_mcc", "z_code", "z_kind", "z_voice_out", "z_voice_in",
        "z_sms_out", "z_sms_in", "z_data", "w_version_id", "w_code", "w_kind",
        "w_voice_out", "w_voice_in", "w_sms_out", "w_sms_in", "w_data",
    )  # fmt: skip

    # Destination class of outgoing calls and SMS: classify distinct pairs, join back.
    classified_kinds = z.service.isin(["voice", "sms"]) & (z.direction == "out")
    pairs = (
        z.filter(classified_kinds & z.version_id.notnull())
        .select("version_id", "counterpart")
        .distinct()
    )
    classes = _classes(pairs, prefixes, lengths)
    c = z.left_join(
        classes,
        [z.version_id == classes.c_version_id, z.counterpart == classes.c_counterpart],
    )
    c = c.mutate(
        class_code=ibis.ifelse(
            c.service.isin(["voice", "sms"]) & (c.direction == "out"),
            c.c_class,
            ibis.null(str),
        )
    ).drop("c_version_id", "c_counterpart", "c_class")
    p = c.left_join(rates, [c.plan_id == rates.r_plan_id, c.class_code == rates.r_class]).drop(
        "r_plan_id", "r_class"
    )

    at_home = p.zone_kind.isin(list(HOME_KINDS))
    is_voice, is_sms, is_data = p.service == "voice", p.service == "sms", p.service == "data"
    is_out = p.direction == "out"
    reason = ibis.cases(
        (p.line_id.isnull(), UnratedReason.NO_LINE),
        (p.plan_code.isnull(), UnratedReason.NO_PLAN),
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
    prepared = p.mutate(
        unrated_reason=reason,
        quantity=quantity,
        unit_price=price,
        bucket_size=ibis.ifelse(at_home, allowance, 0).fill_null(0).cast("int64"),
    )
    counted = prepared.unrated_reason.isnull() & (prepared.bucket_size != 0)

    # Allowances: a running sum in chronological order, only over the records that count.
    consuming = prepared.filter(counted)
    # One integer partition key per bucket (line, plan, service): sorting on it is much
    # cheaper than on two strings and an integer.
    consuming = consuming.mutate(
        bucket_key=consuming.line_id * 4096
        + consuming.plan_seq * 4
        + ibis.cases((consuming.service == "voice", 0), (consuming.service == "sms", 1), else_=2)
    )
    window = ibis.window(
        group_by=[consuming.bucket_key],
        order_by=[consuming.start_time, consuming.record_id],
        rows=(None, 0),
    )
    bucket = consuming.bucket_size.first().over(window)
    # DuckDB sums BIGINT into HUGEINT while Ibis types the sum int64 (and so drops a cast
    # to int64): a cast through DECIMAL(38, 0) forces BIGINT on both engines.
    used_through = consuming.quantity.sum().over(window).cast("decimal(38, 0)").cast("int64")
    used_before = used_through - consuming.quantity
    consumed = consuming.mutate(
        allowance_bucket=bucket.cast("int64"),
        included=ibis.ifelse(
            bucket == UNLIMITED,
            consuming.quantity,
            ibis.greatest(ibis.least(bucket - used_before, consuming.quantity), 0),
        ).cast("int64"),
    ).drop("bucket_key")
    others = prepared.filter(~counted).mutate(
        allowance_bucket=ibis.null("int64"),
        included=ibis.ifelse(prepared.unrated_reason.isnull(), 0, ibis.null("int64")).cast("int64"),
    )
    both = consumed.union(others.select(consumed.columns))
    rated = both.unrated_reason.isnull()
    charged = (both.quantity - both.included).cast("int64")
    out = both.mutate(
        charged=charged,
        charge_units=ibis.ifelse(rated, charged * both.unit_price, ibis.null("int64")).cast(
            "int64"
        ),
        status=ibis.ifelse(rated, "rated", "unrated"),
        usage_date=both.start_time.date(),
        currency=ibis.ifelse(rated, both.currency, ibis.null(str)),
    )
    return out.select(*OUTPUT_COLUMNS).order_by(
        ibis.asc(out.line_id, nulls_first=False), out.start_time, out.record_id
    )


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
