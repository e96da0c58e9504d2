"""Terminal output: tables (rich); the progress bar is `progress.py`'s."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from outreach.delivery.reports import (
    OCCURRENCE_COLUMNS,
    CampaignFeedback,
    PlannedSend,
    SendStatus,
    campaign_feedback,
)


def out_console() -> Console:
    """Standard output."""
    return Console()


def err_console() -> Console:
    """Standard error: progress goes here, so output stays clean for pipes."""
    return Console(stderr=True)


SEND_COLUMNS = (*OCCURRENCE_COLUMNS, "audience")


def plan_table(planned: Sequence[PlannedSend]) -> Table:
    """`outreach plan` as a table."""
    table = Table(title="Upcoming sends")
    for column in ("campaign", "reminder", "local time", "UTC window", "audience", "excluded"):
        table.add_column(column)
    for item in planned:
        window = f"{item.first_fire:%Y-%m-%d %H:%M} → {item.last_expiry:%Y-%m-%d %H:%M}"
        excluded = f"{item.suppressed} suppressed, {item.lapsed} lapsed consent"
        table.add_row(
            item.campaign, item.reminder, item.local_time, window, str(item.audience), excluded
        )
    return table


def status_table(rows: Sequence[SendStatus], pause_rate: float) -> RenderableType:
    """`outreach status`: per reminder, then feedback per campaign, then any pause in red."""
    table = Table(title="Delivery status")
    for column in ("campaign", "reminder", *SEND_COLUMNS):
        table.add_column(column, justify="right" if column in SEND_COLUMNS else "left")
    for row in rows:
        table.add_row(row.campaign, row.reminder, *(str(getattr(row, c)) for c in SEND_COLUMNS))
    parts: list[RenderableType] = [table]
    campaigns = campaign_feedback(rows)
    if any(c.sent or c.delivered or c.bounces or c.spam_reports or c.paused for c in campaigns):
        parts.append(feedback_table(campaigns, pause_rate))
    parts.extend(
        Text(
            f"{c.campaign} PAUSED: {c.paused}; resume with `outreach campaign resume {c.campaign}`",
            style="bold red",
        )
        for c in campaigns
        if c.paused
    )
    return Group(*parts)


def feedback_table(campaigns: Sequence[CampaignFeedback], pause_rate: float) -> Table:
    """What the email provider reported, per campaign, and the spam rate that pauses it."""
    table = Table(
        title="Provider feedback",
        caption=f"A campaign pauses when its spam rate passes {pause_rate:.2%} "
        "(OUTREACH_SPAM_PAUSE_RATE)",
    )
    columns = ("sent", "delivered", "bounces", "spam reports", "spam rate")
    for column in ("campaign", *columns, "state"):
        table.add_column(column, justify="right" if column in columns else "left")
    for c in campaigns:
        table.add_row(
            c.campaign,
            str(c.sent),
            str(c.delivered),
            str(c.bounces),
            str(c.spam_reports),
            f"{c.spam_rate:.2%}",
            "PAUSED" if c.paused else "sending",
        )
    return table
