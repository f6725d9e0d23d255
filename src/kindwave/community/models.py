"""The community: a commission-free social network of people and causes.

Profiles (``Account``: a person's or a cause's), posts (``Status``, Mastodon's word, so
that the client API maps one to one), follows, favourites, reblogs, mentions, hashtags,
media, notifications, blocks, mutes and reports; the home timeline is fanned out on write
into ``TimelineEntry`` rows (one per follower per post). Projects gather people around a
goal in money and volunteers. Rows are written only by :mod:`kindwave.community.services`;
counters on ``Account`` and ``Status`` are kept by the same transactions.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

#: The longest post, in characters (Mastodon's default).
MAX_STATUS_CHARS = 500


class Visibility(models.TextChoices):
    PUBLIC = "public", _("Public")
    UNLISTED = "unlisted", _("Unlisted")
    PRIVATE = "private", _("Followers only")
    DIRECT = "direct", _("Mentioned people only")


class Account(models.Model):
    """A profile on the community: a person's (``user``) or a cause's (``cause``)."""

    class Kind(models.TextChoices):
        PERSON = "person", _("Person")
        CAUSE = "cause", _("Cause")

    username = models.CharField(_("username"), max_length=30, unique=True)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="community_account",
        verbose_name=_("person"),
    )
    cause = models.OneToOneField(
        "causes.Cause",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="community_account",
        verbose_name=_("cause"),
    )
    display_name = models.CharField(_("display name"), max_length=100, blank=True)
    note = models.TextField(_("about"), max_length=500, blank=True)
    avatar = models.ImageField(_("avatar"), upload_to="community/avatars/", blank=True)
    discoverable = models.BooleanField(_("listed in search and the directory"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    followers_count = models.PositiveIntegerField(default=0)
    following_count = models.PositiveIntegerField(default=0)
    statuses_count = models.PositiveIntegerField(default=0)
    last_status_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("community account")
        verbose_name_plural = _("community accounts")
        ordering = ["username"]
        constraints = [
            models.UniqueConstraint(Lower("username"), name="community_username_ci_unique"),
            models.CheckConstraint(
                condition=Q(kind="person", user__isnull=False, cause__isnull=True)
                | Q(kind="cause", cause__isnull=False),
                name="community_account_owner",
            ),
        ]

    def __str__(self) -> str:
        return f"@{self.username}"


class Tag(models.Model):
    """A hashtag, stored lower-case (``#Eau`` and ``#eau`` are one tag)."""

    name = models.CharField(_("name"), max_length=100, unique=True)

    class Meta:
        verbose_name = _("hashtag")
        verbose_name_plural = _("hashtags")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"#{self.name}"


class Project(models.Model):
    """A project a cause or a member runs: a goal in money and/or volunteers, a deadline,
    a place. Donations to it reach its cause's ledger account."""

    owner = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="projects", verbose_name=_("run by")
    )
    cause = models.ForeignKey(
        "causes.Cause",
        on_delete=models.PROTECT,
        related_name="projects",
        verbose_name=_("cause receiving the money"),
    )
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    # "title" is also a person's form of address (Gift Aid): the context tells them apart.
    title = models.CharField(pgettext_lazy("the name of a project", "title"), max_length=140)
    description = models.TextField(_("description"), max_length=5_000)
    place = models.CharField(_("place"), max_length=140, blank=True)
    currency = models.CharField(_("currency"), max_length=3)
    goal_minor = models.PositiveBigIntegerField(
        _("money goal (minor units)"), null=True, blank=True
    )
    volunteers_goal = models.PositiveIntegerField(_("volunteers wanted"), null=True, blank=True)
    deadline = models.DateField(_("deadline"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    raised_minor = models.PositiveBigIntegerField(_("raised (minor units)"), default=0)
    volunteers_count = models.PositiveIntegerField(default=0)
    followers_count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("project")
        verbose_name_plural = _("projects")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(goal_minor__isnull=False) | Q(volunteers_goal__isnull=False),
                name="community_project_has_goal",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class Status(models.Model):
    """A post: text up to ``MAX_STATUS_CHARS``, a reply, or a reblog (``reblog_of`` set and
    no text). Deleting one keeps a tombstone (``deleted_at``) so replies and reblogs stay
    consistent; its text is erased."""

    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="statuses", verbose_name=_("author")
    )
    text = models.TextField(_("text"), blank=True)
    content_html = models.TextField(_("content (HTML)"), blank=True)
    spoiler_text = models.CharField(_("content warning"), max_length=200, blank=True)
    sensitive = models.BooleanField(_("sensitive"), default=False)
    language = models.CharField(_("language"), max_length=8, blank=True)
    visibility = models.CharField(
        _("visibility"), max_length=8, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    in_reply_to = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="replies",
        verbose_name=_("in reply to"),
    )
    in_reply_to_account = models.ForeignKey(
        Account, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    conversation_root = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reblog_of = models.ForeignKey(
        "self",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="reblogs",
        verbose_name=_("reblog of"),
    )
    # A donate button for a cause or a project (it spreads with reblogs).
    donate_cause = models.ForeignKey(
        "causes.Cause", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    donate_project = models.ForeignKey(
        Project, on_delete=models.SET_NULL, null=True, blank=True, related_name="statuses"
    )
    tags = models.ManyToManyField(Tag, related_name="statuses", blank=True)
    mentions = models.ManyToManyField(Account, related_name="mentioned_in", blank=True)
    # The client's Idempotency-Key: the same key from the same account is the same post.
    idempotency_key = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    replies_count = models.PositiveIntegerField(default=0)
    reblogs_count = models.PositiveIntegerField(default=0)
    favourites_count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("post")
        verbose_name_plural = _("posts")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="community_status_idempotency",
            ),
            models.UniqueConstraint(
                fields=["account", "reblog_of"],
                condition=Q(reblog_of__isnull=False, deleted_at__isnull=True),
                name="community_one_reblog_each",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "-id"], name="community_status_account_idx"),
            models.Index(fields=["visibility", "-id"], name="community_status_public_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.account} #{self.pk}"


class MediaAttachment(models.Model):
    """An image attached to a post: resized on upload, its EXIF stripped."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="media")
    status = models.ForeignKey(
        Status, on_delete=models.CASCADE, null=True, blank=True, related_name="media"
    )
    file = models.ImageField(_("image"), upload_to="community/media/")
    preview = models.ImageField(_("preview"), upload_to="community/previews/", blank=True)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    description = models.CharField(_("description (alt text)"), max_length=1_500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("media attachment")
        verbose_name_plural = _("media attachments")

    def __str__(self) -> str:
        return self.file.name


class Follow(models.Model):
    """``account`` follows ``target``: ``target``'s posts reach ``account``'s home."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="following")
    target = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="followers")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("follow")
        verbose_name_plural = _("follows")
        constraints = [
            models.UniqueConstraint(fields=["account", "target"], name="community_follow_once"),
            models.CheckConstraint(
                condition=~Q(account=models.F("target")), name="community_no_self_follow"
            ),
        ]
        indexes = [models.Index(fields=["target", "account"], name="community_followers_idx")]

    def __str__(self) -> str:
        return f"{self.account} → {self.target}"


class Favourite(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="favourites")
    status = models.ForeignKey(Status, on_delete=models.CASCADE, related_name="favourites")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("favourite")
        verbose_name_plural = _("favourites")
        constraints = [
            models.UniqueConstraint(fields=["account", "status"], name="community_favourite_once")
        ]

    def __str__(self) -> str:
        return f"{self.account} ♥ {self.status_id}"


class Block(models.Model):
    """``account`` blocks ``target``: neither sees the other's posts; follows are removed."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="blocking")
    target = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="blocked_by")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("blocked account")
        verbose_name_plural = _("blocked accounts")
        constraints = [
            models.UniqueConstraint(fields=["account", "target"], name="community_block_once")
        ]

    def __str__(self) -> str:
        return f"{self.account} ⊘ {self.target}"


class Mute(models.Model):
    """``account`` mutes ``target``: ``target``'s posts and notifications are hidden from
    ``account`` only."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="muting")
    target = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="muted_by")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("mute")
        verbose_name_plural = _("mutes")
        constraints = [
            models.UniqueConstraint(fields=["account", "target"], name="community_mute_once")
        ]

    def __str__(self) -> str:
        return f"{self.account} mutes {self.target}"


class TimelineEntry(models.Model):
    """One post in one account's home timeline (fan-out on write). ``status_id`` orders the
    timeline; a reblog's entry points at the reblog status."""

    # No index of its own: the unique (account, status) index below serves every lookup by
    # account, and a third index would be one more random write per fan-out delivery.
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+", db_index=False)
    status = models.ForeignKey(Status, on_delete=models.CASCADE, related_name="+")

    class Meta:
        verbose_name = _("home timeline entry")
        verbose_name_plural = _("home timeline entries")
        constraints = [
            models.UniqueConstraint(fields=["account", "status"], name="community_home_once")
        ]
        # The unique index also serves each home's reads, newest first (read backwards);
        # a second index on the same columns would double every delivery's writes.

    def __str__(self) -> str:
        return f"{self.account_id}: {self.status_id}"


class Notification(models.Model):
    class Kind(models.TextChoices):
        MENTION = "mention", _("Mention")
        FOLLOW = "follow", _("Follow")
        FAVOURITE = "favourite", _("Favourite")
        REBLOG = "reblog", _("Reblog")
        DONATION = "donation", _("Donation")
        PROJECT = "project", _("Project update")

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="notifications")
    from_account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    status = models.ForeignKey(
        Status, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [models.Index(fields=["account", "-id"], name="community_notification_idx")]

    def __str__(self) -> str:
        return f"{self.kind} for {self.account_id}"


class Report(models.Model):
    """A report to the moderators about an account (and some of its posts)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="reports_made")
    target = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="reports")
    statuses = models.ManyToManyField(Status, blank=True, related_name="+")
    comment = models.TextField(_("comment"), max_length=1_000, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    resolution = models.CharField(_("resolution"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        ordering = ["resolved_at", "-created_at"]

    def __str__(self) -> str:
        return f"report on {self.target}"


class ProjectFollow(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="follows")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "account"], name="community_pfollow_once")
        ]

    def __str__(self) -> str:
        return f"{self.account_id} follows project {self.project_id}"


class Volunteer(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="volunteers")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "account"], name="community_volunteer_once")
        ]

    def __str__(self) -> str:
        return f"{self.account_id} volunteers for project {self.project_id}"


class Donation(models.Model):
    """A gift to a cause (and maybe one of its projects), by card or on the phone bill. The
    whole amount reaches the cause's ledger account; any processor fee is the operator's."""

    class Method(models.TextChoices):
        CARD = "card", _("Card")
        PHONE_BILL = "phone_bill", _("Phone bill")

    class State(models.TextChoices):
        PENDING = "pending", _("Awaiting confirmation")
        COMPLETED = "completed", _("Completed")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    reference = models.UUIDField(_("reference"), unique=True)
    donor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="donations"
    )
    cause = models.ForeignKey("causes.Cause", on_delete=models.PROTECT, related_name="donations")
    project = models.ForeignKey(
        Project, on_delete=models.PROTECT, null=True, blank=True, related_name="donations"
    )
    via_status = models.ForeignKey(
        Status, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    amount_minor = models.PositiveBigIntegerField(_("amount"))
    currency = models.CharField(_("currency"), max_length=3)
    method = models.CharField(_("method"), max_length=10, choices=Method.choices)
    state = models.CharField(_("state"), max_length=10, choices=State.choices)
    carrier_charge = models.OneToOneField(
        "billing.CarrierCharge",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="donation",
    )
    card_payment_ref = models.CharField(max_length=120, blank=True)
    # The donor's key for a card donation: the same key is the same donation (a retry).
    client_key = models.CharField(max_length=120, blank=True)
    # UK Gift Aid: the donor's declaration, kept for the charity's claim. HMRC's schedule
    # wants the title, first and last names and the house name or number apart.
    gift_aid = models.BooleanField(_("Gift Aid declared"), default=False)
    gift_aid_name = models.CharField(max_length=150, blank=True)
    gift_aid_title = models.CharField(max_length=4, blank=True)
    gift_aid_first_name = models.CharField(max_length=35, blank=True)
    gift_aid_last_name = models.CharField(max_length=35, blank=True)
    gift_aid_house = models.CharField(max_length=40, blank=True)
    gift_aid_address = models.CharField(max_length=300, blank=True)
    gift_aid_postcode = models.CharField(max_length=10, blank=True)
    gift_aid_statement = models.TextField(blank=True)
    gift_aid_declared_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("donation")
        verbose_name_plural = _("donations")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="community_donation_gt_0"),
            models.UniqueConstraint(
                fields=["donor", "client_key"],
                condition=~Q(client_key=""),
                name="community_donation_client_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.amount_minor} {self.currency}"


class AppScopes(models.Model):
    """The scopes a Mastodon client app registered with (``POST /api/v1/apps``), space
    separated. Its tokens may carry only these, or granular scopes under them
    (``scopes.scopes_within``); django-oauth-toolkit's ``Application`` has no field for
    them. Written by ``mastodon.oauth.create_app`` with the application."""

    application = models.OneToOneField(
        "oauth2_provider.Application",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="mastodon_scopes",
    )
    scopes = models.TextField(_("scopes"))

    class Meta:
        verbose_name = _("app's registered scopes")
        verbose_name_plural = _("apps' registered scopes")

    def __str__(self) -> str:
        return self.scopes
