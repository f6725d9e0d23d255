"""What the simulator hands to the platform besides the usage files: the columns of
``subscribers.csv`` (docs/simulator.md). Kept free of numpy so that the importer in
``lines`` can share it without loading the simulator."""

SUBSCRIBERS_HEADER: tuple[str, ...] = (
    "subscriber_ref",
    "given_name",
    "family_name",
    "email",
    "language",
    "time_zone",
    "msisdn",
    "iccid",
    "imsi",
    "plan_code",
    "cause_slug",
    "activated_at",
    "home_cell_id",
)
