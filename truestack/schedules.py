"""Beat schedules evaluated on a local clock. CELERY_TIMEZONE stays UTC for
every other job; billing jobs run at fixed hours in Kuala Lumpur."""

from datetime import tzinfo
from zoneinfo import ZoneInfo

from celery.schedules import crontab


class KualaLumpurCrontab(crontab):
    """A crontab whose fields (minute, hour, day of month) are Kuala Lumpur time."""

    @property
    def tz(self) -> tzinfo:
        return ZoneInfo("Asia/Kuala_Lumpur")
