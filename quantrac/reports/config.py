"""``reports:`` in site.yaml: when reports are made and who gets them (docs/reports.md).

```yaml
reports:
  recipients: so_tnmt          # a recipient group of alerting.yaml; its members' email
  daily_at: "07:00"            # local time, about the day before
  monthly_day: 1               # the day of the month the month before is reported
  formats: [pdf, xlsx]
```
"""

from __future__ import annotations

from datetime import time
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from quantrac.reports.archive import ReportFormat


class ReportsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    recipients: str | None = None  # None: made and kept, not sent
    daily: bool = True
    daily_at: time = time(7, 0)
    monthly: bool = True
    # 1…28: every month has the day (the 1st is usual: the month before is complete).
    monthly_day: Annotated[int, Field(ge=1, le=28)] = 1
    monthly_at: time = time(7, 0)
    formats: Annotated[tuple[ReportFormat, ...], Field(min_length=1)] = (
        ReportFormat.PDF,
        ReportFormat.XLSX,
    )
