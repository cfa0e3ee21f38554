"""Counter tablets registered by a manager: each opens its counter's survey in kiosk mode."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey.models.base import Base, UTCDateTime, utcnow
from survey.models.units import Counter


class KioskDevice(Base):
    """A tablet at a counter. Its URL carries a signed token naming this row (nothing secret is
    stored); setting `revoked_at` makes that URL stop working at the tablet's next form."""

    __tablename__ = "kiosk_devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    counter_id: Mapped[int] = mapped_column(sa.ForeignKey("counters.id"), index=True)
    label: Mapped[str] = mapped_column(sa.String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    counter: Mapped[Counter] = relationship()

    def __repr__(self) -> str:
        return f"<KioskDevice {self.id} at counter {self.counter_id}>"
