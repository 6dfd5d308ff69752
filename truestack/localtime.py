"""Operators' local time: the portal shows times in PORTAL_TIME_ZONE
(Asia/Kuala_Lumpur, where billing months are counted) with the zone named."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

# zoneinfo names Asia/Kuala_Lumpur "+08"; operators know it as MYT.
_ZONE_LABELS = {"Asia/Kuala_Lumpur": "MYT"}


def portal_tz() -> ZoneInfo:
    return ZoneInfo(settings.PORTAL_TIME_ZONE)


def zone_label() -> str:
    return _ZONE_LABELS.get(settings.PORTAL_TIME_ZONE) or timezone.now().astimezone(portal_tz()).strftime("UTC%z")


def local_datetime(moment: datetime | None, *, seconds: bool = False) -> str:
    """'28 Nov 2026 21:24 MYT' (empty for None)."""
    if moment is None:
        return ""
    local = moment.astimezone(portal_tz())
    return local.strftime("%d %b %Y %H:%M" + (":%S" if seconds else "")) + f" {zone_label()}"


def local_today(now: datetime | None = None) -> date:
    return (now or timezone.now()).astimezone(portal_tz()).date()


def day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=portal_tz())


def month_start(day: date) -> datetime:
    return datetime(day.year, day.month, 1, tzinfo=portal_tz())


def months_back(day: date, count: int) -> list[date]:
    """The first days of the `count` months ending with `day`'s month, oldest first."""
    months = []
    year, month = day.year, day.month
    for _ in range(count):
        months.append(date(year, month, 1))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return months[::-1]


def days_back(day: date, count: int) -> list[date]:
    return [day - timedelta(days=offset) for offset in range(count - 1, -1, -1)]


def local_compact(moment: datetime | None) -> str:
    """'2026-11-28 21:24' for columns whose header names the zone."""
    return moment.astimezone(portal_tz()).strftime("%Y-%m-%d %H:%M") if moment else ""
