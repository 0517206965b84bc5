"""Care's business hours: a weekly timetable in one time zone, with public holidays closed.

Care's targets (a reply, a decision, a supervisor's review) count business time under the calendar
in force when a case opened (``DISPUTES_CARE_CALENDAR``, copied into the case's policy); without
one they count round the clock. Parties' windows always count calendar time. Everything here is
pure: instants in, instants out, the zone's daylight-saving changes handled by ``zoneinfo``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holiday_library
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

#: A clock time "HH:MM"; "24:00" closes a day at midnight.
ClockTime = Annotated[str, StringConstraints(pattern=r"^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$")]
#: How many years of a country's public holidays a case carries, from the year it opens.
HOLIDAY_YEARS = 3


class Weekday(StrEnum):
    """A day of the week, as the calendar's ``hours`` name it (Monday first, like ``date.weekday``)."""

    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


_WEEKDAYS = list(Weekday)


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


@lru_cache(maxsize=64)
def public_holidays(country: str, years: tuple[int, ...]) -> tuple[date, ...]:
    """The public holidays of ``country`` (ISO 3166 code) in ``years``, from the ``holidays`` library."""
    return tuple(sorted(holiday_library.country_holidays(country, years=list(years))))


class BusinessCalendar(BaseModel):
    """When care works: opening hours per weekday in ``timezone`` (a day left out is closed), and
    closed days: the country's public holidays and ``extra_holidays``.

    As a setting it names the country (``holidays``); the copy a case carries also lists that
    country's holidays for the years it may run (``public_holidays``), so a running case keeps the
    days it opened with, whatever the library learns later."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    timezone: str = Field(description="an IANA time zone, e.g. Asia/Jakarta")
    hours: dict[Weekday, tuple[ClockTime, ClockTime]] = Field(
        description='opening hours per day, e.g. {"mon": ["08:00", "17:00"]}; a day left out is closed'
    )
    holidays: str | None = Field(
        default=None, description="a country code (ISO 3166, e.g. ID) whose public holidays are closed"
    )
    extra_holidays: list[date] = Field(default=[], description="more closed days, e.g. 2026-12-31")
    public_holidays: list[date] = Field(
        default=[],
        description="the country's public holidays, listed when the calendar is copied into a case",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _some_hours(self) -> Self:
        for day, (opens, closes) in self.hours.items():
            if _minutes(opens) >= _minutes(closes):
                raise ValueError(f"hours.{day.value}: {opens} is not before {closes}")
        if not self.hours:
            raise ValueError("hours: at least one day must be open")
        return self

    def checked(self) -> Self:
        """The calendar as a setting, once its country is one the ``holidays`` library knows (not
        checked when a case's copy is read back: a running case keeps the days it listed, even
        if a later library dropped the country)."""
        if self.holidays is not None and self.holidays not in holiday_library.list_supported_countries():
            raise ValueError(f"holidays: no public holidays known for country {self.holidays!r}")
        return self

    @property
    def zone(self) -> ZoneInfo:
        """The calendar's time zone."""
        return ZoneInfo(self.timezone)

    def for_cases_opened(self, year: int) -> BusinessCalendar:
        """The copy a case opened in ``year`` carries: the country's public holidays of that
        year and the next ones listed (``HOLIDAY_YEARS``)."""
        if self.holidays is None:
            return self
        years = tuple(range(year, year + HOLIDAY_YEARS))
        return self.model_copy(update={"public_holidays": list(public_holidays(self.holidays, years))})

    def closed_on(self, day: date) -> bool:
        """Whether ``day`` (a local date) is a closed day: not in the timetable, or a holiday."""
        return (
            _WEEKDAYS[day.weekday()] not in self.hours
            or day in self.public_holidays
            or day in self.extra_holidays
        )

    def _open_periods(self, since: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The open periods, as UTC instants, from the local day of ``since`` on (forever)."""
        zone = self.zone
        day = since.astimezone(zone).date()
        while True:
            if not self.closed_on(day):
                opens, closes = self.hours[_WEEKDAYS[day.weekday()]]
                yield _instant(day, _minutes(opens), zone), _instant(day, _minutes(closes), zone)
            day += timedelta(days=1)

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant ``duration`` of business time after ``start`` (at a closing time when it
        ends exactly there)."""
        if duration <= timedelta(0):
            return start
        left = duration
        for opens, closes in self._open_periods(start):
            begin = max(opens, start)
            if begin >= closes:
                continue
            if left <= closes - begin:
                return begin + left
            left -= closes - begin
        raise AssertionError("unreachable: a calendar has open days")  # pragma: no cover

    def between(self, start: datetime, end: datetime) -> timedelta:
        """The business time from ``start`` to ``end`` (none when ``end`` is not after it)."""
        counted = timedelta(0)
        if end <= start:
            return counted
        for opens, closes in self._open_periods(start):
            if opens >= end:
                return counted
            counted += max(timedelta(0), min(closes, end) - max(opens, start))
        raise AssertionError("unreachable: the periods go on")  # pragma: no cover

    def describe(self) -> str:
        """The calendar in a few words for on-call: zone, days and hours, holidays."""
        days = ", ".join(f"{day.value} {opens}-{closes}" for day, (opens, closes) in self.hours.items())
        closed = f" · {self.holidays} public holidays" if self.holidays else ""
        extra = f" · {len(self.extra_holidays)} extra closed day(s)" if self.extra_holidays else ""
        return f"{self.timezone}: {days}{closed}{extra}"


def _instant(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    """The UTC instant of local ``minutes`` after midnight on ``day`` (24:00 is the next midnight)."""
    # Aware arithmetic in one zone is wall-clock arithmetic: the offset of that local time applies.
    return (datetime.combine(day, time(0), tzinfo=zone) + timedelta(minutes=minutes)).astimezone(UTC)


def business_add(calendar: BusinessCalendar | None, start: datetime, duration: timedelta) -> datetime:
    """``start`` plus ``duration``: business time under ``calendar``, round the clock without one."""
    return start + duration if calendar is None else calendar.add(start, duration)


def business_between(calendar: BusinessCalendar | None, start: datetime, end: datetime) -> timedelta:
    """The time from ``start`` to ``end`` that counts: business time under ``calendar``, else all."""
    if calendar is None:
        return max(end - start, timedelta(0))
    return calendar.between(start, end)
