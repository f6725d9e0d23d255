# The home entries' own index on account_id repeated the first column of the unique
# (account, status) index, which serves every lookup by account: dropping it saves one
# random index write per fan-out delivery (docs/community.md, "Home timelines").
# Dropped by name (the one Django gave it, the same on SQLite and PostgreSQL) rather
# than by AlterField, which on SQLite would copy the whole table (tens of millions of
# rows at scale).

import django.db.models.deletion
from django.db import migrations, models

INDEX = "community_timelineentry_account_id_b410f788"


class Migration(migrations.Migration):
    dependencies = [
        ("community", "0006_timeline_one_index"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="timelineentry",
                    name="account",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="community.account",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f"DROP INDEX IF EXISTS {INDEX}",
                    reverse_sql=f"CREATE INDEX {INDEX} ON community_timelineentry (account_id)",
                ),
            ],
        ),
    ]
