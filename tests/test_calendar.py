"""Care's business hours and paused targets, as pure rules (issue 18): the calendar itself (a
weekend, a public holiday, a target over several days, a zone without daylight saving and one
with a change), the targets that count in it, requests for information and holds."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from core.settings import Settings
from domain.calendar import BusinessCalendar, business_add, business_between
from domain.case import DeadlineEvent, PauseKind
from domain.dispute import Dispute, DisputeStatus
from domain.errors import InvalidInput
from domain.events import Acted, InfoRequested, PauseEnded
from domain.notices import render
from domain.outbound import EventType
from domain.reactions import NoticeCategory, consequences
from domain.ticket import TicketStatus
from domain.types import CareTarget, Deadline, EvidenceType, Locale, PausedDeadline, Role, Then
from domain.views import current_details, deadline_name, dispute_details
from tests.factories import (
    BUYER,
    CARE,
    CLOCKED_POLICY,
    DECISION_TARGET,
    SELLER,
    SUPERVISOR,
    TICKET_POLICY,
    USER,
    appeal_decision,
    ask_help,
    decide,
    dispute_request,
    drive_clocked,
    drive_dispute,
    drive_ticket,
    hold,
    message,
    offer,
    reply,
    request_info,
    resume,
    write,
)

WIB = ZoneInfo("Asia/Jakarta")
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]
#: The issue's example: Monday to Friday 08:00-17:00 WIB, Indonesia's public holidays closed.
JAKARTA = BusinessCalendar(
    timezone="Asia/Jakarta",
    hours={day: ("08:00", "17:00") for day in WEEKDAYS},
    holidays="ID",
    extra_holidays=[date(2026, 12, 31)],
).for_cases_opened(2026)
#: Office hours in a zone with daylight saving (the clocks go forward on 29 March 2026, back on
#: 25 October 2026).
DUTCH_OFFICE = BusinessCalendar(
    timezone="Europe/Amsterdam", hours={day: ("09:00", "17:00") for day in WEEKDAYS}
)
#: Open every hour of every day, in the same zone: a day is 23 or 25 hours long when it changes.
DUTCH_ALWAYS = BusinessCalendar(
    timezone="Europe/Amsterdam",
    hours={day: ("00:00", "24:00") for day in [*WEEKDAYS, "sat", "sun"]},
)


def wib(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    """A local time in Jakarta (WIB, UTC+7)."""
    return datetime(year, month, day, hour, minute, tzinfo=WIB)


def ams(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    """A local time in Amsterdam."""
    return datetime(year, month, day, hour, minute, tzinfo=AMSTERDAM)


# -- the calendar --------------------------------------------------------------------------------


def test_a_report_filed_on_friday_evening_with_an_8_hour_target_is_due_on_monday_at_16() -> None:
    """The issue's example: Friday 19:00 WIB + 8 business hours = Monday 16:00 WIB."""
    filed = wib(2026, 11, 27, 19, 0)  # a Friday
    assert filed.weekday() == 4
    due = JAKARTA.add(filed, timedelta(hours=8))
    assert due == wib(2026, 11, 30, 16, 0)
    assert JAKARTA.between(filed, due) == timedelta(hours=8)


def test_nothing_counts_over_a_weekend() -> None:
    saturday = wib(2026, 11, 28, 10, 0)
    assert JAKARTA.add(saturday, timedelta(hours=1)) == wib(2026, 11, 30, 9, 0)
    assert JAKARTA.between(saturday, wib(2026, 11, 30, 8, 0)) == timedelta(0)
    # a target ending exactly at closing time is due at closing time, not the next morning
    assert JAKARTA.add(wib(2026, 11, 27, 8, 0), timedelta(hours=9)) == wib(2026, 11, 27, 17, 0)


def test_nothing_counts_on_a_public_holiday() -> None:
    """17 August 2026 (Independence Day) is a Monday: Friday 16:00 + 2h is Tuesday 09:00."""
    assert date(2026, 8, 17) in JAKARTA.public_holidays
    assert JAKARTA.closed_on(date(2026, 8, 17))
    assert JAKARTA.add(wib(2026, 8, 14, 16, 0), timedelta(hours=2)) == wib(2026, 8, 18, 9, 0)
    assert JAKARTA.between(wib(2026, 8, 17, 0, 0), wib(2026, 8, 18, 0, 0)) == timedelta(0)
    # an extra holiday of the setting too: 31 December is a Thursday
    assert JAKARTA.add(wib(2026, 12, 30, 16, 0), timedelta(hours=2)) == wib(2027, 1, 4, 9, 0)


def test_a_target_crossing_several_days_counts_only_the_open_hours() -> None:
    """24 business hours from Monday 08:00 at 9 hours a day: Wednesday 14:00."""
    monday = wib(2026, 11, 23, 8, 0)
    assert JAKARTA.add(monday, timedelta(hours=24)) == wib(2026, 11, 25, 14, 0)
    # from Thursday noon, over the weekend: 5 + 9 + 9 + 1 hours
    assert JAKARTA.add(wib(2026, 11, 26, 12, 0), timedelta(hours=24)) == wib(2026, 12, 1, 9, 0)
    assert JAKARTA.between(wib(2026, 11, 26, 12, 0), wib(2026, 12, 1, 9, 0)) == timedelta(hours=24)


def test_a_zone_without_daylight_saving_keeps_its_offset_all_year() -> None:
    """Asia/Jakarta is UTC+7 all year: 08:00 opens at 01:00 UTC in January as in July."""
    for month, monday in ((1, 5), (7, 6)):
        start = datetime(2026, month, monday, 0, 0, tzinfo=UTC)
        assert start.weekday() == 0
        assert JAKARTA.add(start, timedelta(minutes=1)) == datetime(2026, month, monday, 1, 1, tzinfo=UTC)


def test_a_zone_with_a_daylight_saving_change() -> None:
    """Amsterdam moves from UTC+1 to UTC+2 on Sunday 29 March 2026: Friday 16:00 local + 2 business
    hours is Monday 10:00 local, 08:00 UTC (not 09:00 UTC as before the change)."""
    friday = ams(2026, 3, 27, 16, 0)
    due = DUTCH_OFFICE.add(friday, timedelta(hours=2))
    assert due == ams(2026, 3, 30, 10, 0)
    assert due.astimezone(UTC) == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)
    assert friday.astimezone(UTC) == datetime(2026, 3, 27, 15, 0, tzinfo=UTC)
    # open round the clock: the day of the change has 23 hours in spring, 25 in autumn
    assert DUTCH_ALWAYS.between(ams(2026, 3, 28, 12, 0), ams(2026, 3, 30, 12, 0)) == timedelta(hours=47)
    assert DUTCH_ALWAYS.add(ams(2026, 3, 28, 12, 0), timedelta(hours=24)) == ams(2026, 3, 29, 13, 0)
    assert DUTCH_ALWAYS.between(ams(2026, 10, 24, 12, 0), ams(2026, 10, 26, 12, 0)) == timedelta(hours=49)


def test_without_a_calendar_everything_counts() -> None:
    start = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    assert business_add(None, start, timedelta(hours=8)) == start + timedelta(hours=8)
    assert business_between(None, start, start + timedelta(days=2)) == timedelta(days=2)
    assert business_between(None, start, start - timedelta(hours=1)) == timedelta(0)


def test_a_case_carries_the_public_holidays_of_three_years_from_its_opening() -> None:
    setting = BusinessCalendar.model_validate(
        {"timezone": "Asia/Jakarta", "hours": {"mon": ["08:00", "17:00"]}, "holidays": "ID"}
    )
    assert setting.public_holidays == []
    copied = setting.for_cases_opened(2026)
    assert {day.year for day in copied.public_holidays} == {2026, 2027, 2028}
    assert date(2027, 8, 17) in copied.public_holidays
    assert copied.model_dump(mode="json")["hours"] == {"mon": ["08:00", "17:00"]}


@pytest.mark.parametrize(
    ("setting", "field"),
    [
        ({"timezone": "Asia/Jakart", "hours": {"mon": ["08:00", "17:00"]}}, "timezone"),
        ({"timezone": "Asia/Jakarta", "hours": {"mon": ["17:00", "08:00"]}}, "hours.mon"),
        ({"timezone": "Asia/Jakarta", "hours": {"mon": ["8am", "17:00"]}}, "hours"),
        ({"timezone": "Asia/Jakarta", "hours": {"someday": ["08:00", "17:00"]}}, "hours"),
        ({"timezone": "Asia/Jakarta", "hours": {}}, "at least one day"),
    ],
)
def test_a_calendar_that_cannot_work_is_refused(setting: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        BusinessCalendar.model_validate(setting)
    with pytest.raises(ValidationError, match="care_calendar"):
        Settings(care_calendar=setting)


def test_a_calendar_setting_names_a_country_the_holidays_library_knows() -> None:
    """Checked as a setting only: a case's copy lists its days and is read back as it was."""
    setting = {"timezone": "Asia/Jakarta", "hours": {"mon": ["08:00", "17:00"]}, "holidays": "XX"}
    with pytest.raises(ValidationError, match="no public holidays known for country 'XX'"):
        Settings(care_calendar=setting)
    assert BusinessCalendar.model_validate(setting).holidays == "XX"
    assert Settings(care_calendar=setting | {"holidays": "ID"}).care_calendar is not None


# -- care's targets count business time; parties' windows do not ----------------------------------

FRIDAY_EVENING = wib(2026, 11, 27, 19, 0).astimezone(UTC)
BUSINESS_TICKET_POLICY = TICKET_POLICY.model_copy(
    update={
        "care_calendar": JAKARTA,
        "care_reply_target": timedelta(hours=8),
        "care_reply_warning": timedelta(hours=6),
    }
)


def test_a_reports_reply_target_counts_business_hours() -> None:
    from domain.ticket import Ticket
    from tests.factories import ticket_request

    ticket = Ticket.open("t-1", ticket_request(policy=BUSINESS_TICKET_POLICY), FRIDAY_EVENING)
    assert ticket.care_reply_due_at == wib(2026, 11, 30, 16, 0)
    assert ticket.next_deadline() == (wib(2026, 11, 30, 14, 0), DeadlineEvent.CARE_REPLY_WARNING)
    [deadline] = ticket.deadlines
    assert deadline == Deadline(
        party=Role.CARE,
        action="reply",
        due_at=wib(2026, 11, 30, 16, 0),
        then=Then.TARGET_BREACHED,
        business_hours=True,
    )
    assert ticket.model_dump(mode="json")["deadlines"][0]["business_hours"] is True
    assert deadline_name(ticket, DeadlineEvent.CARE_REPLY_BREACHED) == "care reply target 8h business hours"
    assert "**Business hours** Asia/Jakarta: mon 08:00-17:00" in current_details(ticket)
    # nothing happens over the weekend: the warning fires on Monday 14:00
    assert ticket.tick(wib(2026, 11, 30, 13, 59)) == []
    assert len(ticket.tick(wib(2026, 11, 30, 14, 0))) == 1


def test_a_disputes_decision_target_counts_business_hours_and_the_parties_windows_do_not() -> None:
    policy = CLOCKED_POLICY.model_copy(update={"care_calendar": JAKARTA})
    opened = wib(2026, 11, 23, 8, 0).astimezone(UTC)  # a Monday
    dispute = Dispute.open("d-1", dispute_request(policy=policy), opened)
    # the seller's window is calendar time: two days later, to the minute
    [seller] = dispute.deadlines[:1]
    assert seller.due_at == opened + timedelta(days=2)
    assert seller.business_hours is False
    escalated = wib(2026, 11, 23, 10, 0)
    dispute.apply(offer(SELLER), escalated - timedelta(hours=1))
    dispute.apply(ask_help(BUYER), escalated)
    assert dispute.decision_clock is not None
    # 3 days of business time (72 hours at 9 hours a day) from Monday 10:00: 8 working days later
    assert dispute.care_decision_due_at == JAKARTA.add(escalated, DECISION_TARGET)
    assert dispute.care_decision_due_at == wib(2026, 12, 3, 10, 0)
    hours = {d.action: d.business_hours for d in dispute.deadlines}
    assert hours == {"reply": True, "decide": True}
    assert "care targets in business hours (Asia/Jakarta" in dispute_details(dispute_request(policy=policy))


def test_a_case_opened_before_the_calendar_counts_round_the_clock() -> None:
    """A policy recorded without a calendar (every case opened before it) keeps 24-hour days."""
    dispute = drive_clocked(offer(SELLER), ask_help(BUYER))
    assert dispute.policy.care_calendar is None
    clock = dispute.decision_clock
    assert clock is not None and clock.business_hours is False
    assert clock.due_at - clock.started_at == DECISION_TARGET


# -- asking a party for information pauses care's decision ----------------------------------------


def mediated_and_asked() -> tuple[Dispute, datetime]:
    dispute = drive_clocked(offer(SELLER), ask_help(BUYER))
    asked_at = dispute.timeline[-1].at + timedelta(hours=1)
    happened = dispute.apply(request_info(Role.SELLER, due_in=timedelta(days=1)), asked_at)
    assert happened == [
        Acted(actor=CARE, action="request_info"),
        InfoRequested(
            party=Role.SELLER,
            text="please send the proof of delivery",
            due_at=asked_at + timedelta(days=1),
            evidence_type=EvidenceType.PROOF_OF_DELIVERY,
        ),
    ]
    return dispute, asked_at


def test_a_request_for_information_pauses_the_decision_and_tells_the_party() -> None:
    dispute, asked_at = mediated_and_asked()
    assert dispute.status is DisputeStatus.IN_MEDIATION
    decision = dispute.decision_clock
    assert decision is not None and decision.paused
    left = decision.remaining
    assert left == DECISION_TARGET - timedelta(hours=1)
    assert dispute.care_clock is None  # asking the party is care's reply
    assert dispute.care_decision_due_at is None
    assert dispute.deadlines == [
        Deadline(
            party=Role.SELLER, action="message", due_at=asked_at + timedelta(days=1), then=Then.TARGET_RESUMES
        ),
        PausedDeadline(party=Role.CARE, action="decide", then=Then.TARGET_BREACHED, remaining=left),
    ]
    shown = dispute.model_dump(mode="json")["deadlines"][1]
    assert (shown["paused"], shown["due_at"], shown["remaining"]) == (True, None, "P2DT23H")
    assert dispute.next_deadline() == (asked_at + timedelta(days=1), DeadlineEvent.INFO_REQUEST_DUE)
    assert [e.event for e in dispute.timeline[-2:]] == ["target_paused", "request_info"]
    assert dispute.timeline[-1].detail == {
        "party": "seller",
        "text": "please send the proof of delivery",
        "due_in": "P1D",
        "evidence_type": "PROOF_OF_DELIVERY",
    }
    follows = consequences(dispute, [InfoRequested(Role.SELLER, "send it", asked_at + timedelta(days=1))])
    [notice] = follows.notices
    assert (notice.party, notice.party_id) == (Role.SELLER, SELLER.id)
    assert notice.category is NoticeCategory.CARE_REPLY  # in the seller's inbox (Pesan Bantuan)
    assert (notice.template, notice.locale) == ("dispute.info_requested", Locale.ID)
    assert notice.params == {
        "dispute_id": "d-1",
        "text": "send it",
        "due_at": "2026-01-02T03:00:00Z",
        "evidence_type": None,
    }
    assert notice.text.startswith("Tokopedia Care meminta informasi untuk komplain d-1: send it")
    english = render(notice.template, notice.params, Locale.EN, strict=True)
    assert english.startswith("Care asks you for information on dispute d-1: send it")
    details = current_details(dispute)
    assert "**Care decision paused** with 71h left" in details
    assert "**Information asked of the seller** until" in details


def test_the_partys_answer_resumes_the_decision_with_the_time_it_had_left() -> None:
    dispute, asked_at = mediated_and_asked()
    answered_at = asked_at + timedelta(hours=5)
    happened = dispute.apply(message(SELLER, "here is the receipt"), answered_at)
    assert PauseEnded(kind="info_request", party=Role.SELLER, reason="info_request_answered") in happened
    decision = dispute.decision_clock
    assert decision is not None and not decision.paused
    assert decision.due_at == answered_at + DECISION_TARGET - timedelta(hours=1)
    assert dispute.pauses == []
    assert [e.event for e in dispute.timeline[-3:]] == ["info_request_answered", "target_resumed", "message"]
    assert dispute.timeline[-2].detail["due_at"] == decision.due_at.isoformat()
    # the answer is a party's message: care owes a reply to it
    assert dispute.care_clock is not None and dispute.care_clock.started_at == answered_at
    assert consequences(dispute, happened).published == [EventType.DISPUTE_UPDATED]


def test_the_other_partys_message_does_not_answer_the_request() -> None:
    dispute, asked_at = mediated_and_asked()
    dispute.apply(message(BUYER), asked_at + timedelta(hours=2))
    assert dispute.open_request(Role.SELLER) is not None
    assert dispute.decision_clock is not None and dispute.decision_clock.paused


def test_an_unanswered_request_expires_and_the_decision_resumes() -> None:
    dispute, asked_at = mediated_and_asked()
    due = asked_at + timedelta(days=1)
    assert dispute.tick(due - timedelta(seconds=1)) == []
    happened = dispute.tick(due)
    assert happened == [PauseEnded(kind="info_request", party=Role.SELLER, reason="info_request_expired")]
    assert [e.event for e in dispute.timeline[-2:]] == ["info_request_expired", "target_resumed"]
    decision = dispute.decision_clock
    assert decision is not None and decision.due_at == due + DECISION_TARGET - timedelta(hours=1)
    follows = consequences(dispute, happened)
    assert follows.published == [EventType.DISPUTE_UPDATED]
    [notice] = follows.notices
    assert (notice.party, notice.template, notice.params) == (
        Role.SELLER,
        "dispute.info_request_expired",
        {"dispute_id": "d-1"},
    )
    assert "has passed" in render(notice.template, notice.params, Locale.EN, strict=True)
    assert "sudah habis" in notice.text


def test_two_parties_asked_resume_when_the_last_one_answers() -> None:
    dispute, asked_at = mediated_and_asked()
    dispute.apply(request_info(Role.BUYER), asked_at + timedelta(hours=1))
    dispute.apply(message(SELLER), asked_at + timedelta(hours=2))
    assert dispute.decision_clock is not None and dispute.decision_clock.paused
    dispute.apply(message(BUYER), asked_at + timedelta(hours=3))
    assert dispute.decision_clock is not None and not dispute.decision_clock.paused
    assert dispute.decision_clock.due_at == asked_at + timedelta(hours=3) + DECISION_TARGET - timedelta(
        hours=1
    )


def test_a_request_ends_when_care_decides() -> None:
    dispute, asked_at = mediated_and_asked()
    dispute.apply(decide(), asked_at + timedelta(hours=1))
    assert dispute.pauses == [] and dispute.decision_clock is None
    assert dispute.timeline[-2].event == "info_request_closed"
    assert dispute.timeline[-2].detail["because"] == "the case is now DECIDED"


def test_a_request_care_cannot_make_is_refused_naming_the_field() -> None:
    dispute, asked_at = mediated_and_asked()
    with pytest.raises(InvalidInput) as again:
        dispute.check(request_info(Role.SELLER), asked_at)
    assert again.value.details["errors"][0]["field"] == "party"
    with pytest.raises(InvalidInput) as too_long:
        dispute.check(request_info(Role.BUYER, due_in=timedelta(days=15)), asked_at)
    assert too_long.value.details["errors"][0]["field"] == "due_in"
    with pytest.raises(ValidationError, match="party"):
        request_info(Role.CARE)


def test_a_supervisor_may_ask_during_the_review_which_then_waits() -> None:
    dispute = drive_clocked(offer(SELLER), ask_help(BUYER), decide(), appeal_decision(SELLER))
    review = dispute.care_clock
    assert review is not None and review.target is CareTarget.REVIEW
    now = dispute.timeline[-1].at + timedelta(hours=1)
    dispute.apply(request_info(Role.BUYER, actor=SUPERVISOR), now)
    assert dispute.care_clock is review and review.paused
    assert [d.action for d in dispute.deadlines] == ["message", "review_decision"]


def test_a_dispute_without_a_decision_target_still_asks() -> None:
    """With the decision clock off, the request still has its deadline and its answer."""
    dispute = drive_dispute(offer(SELLER), ask_help(BUYER))
    assert dispute.decision_clock is None
    now = dispute.timeline[-1].at + timedelta(hours=1)
    dispute.apply(request_info(Role.BUYER), now)
    assert dispute.open_request(Role.BUYER) is not None
    assert dispute.next_deadline() == (
        now + CLOCKED_POLICY.info_request_window,
        DeadlineEvent.INFO_REQUEST_DUE,
    )


# -- a report on hold -------------------------------------------------------------------------------


def test_a_report_on_hold_pauses_its_reply_target_until_the_user_writes() -> None:
    ticket = drive_ticket()
    held_at = ticket.timeline[-1].at + timedelta(hours=2)
    ticket.apply(hold("waiting for the bank"), held_at)
    clock = ticket.care_clock
    assert clock is not None and clock.paused and clock.remaining == timedelta(hours=22)
    assert ticket.status is TicketStatus.AWAITING_CARE
    assert ticket.on_hold is not None and ticket.on_hold.kind is PauseKind.HOLD
    assert ticket.care_reply_due_at is None
    assert ticket.next_deadline() is None
    assert ticket.deadlines == [
        PausedDeadline(
            party=Role.CARE, action="reply", then=Then.TARGET_BREACHED, remaining=timedelta(hours=22)
        )
    ]
    assert "**On hold** since" in current_details(ticket)
    # the user is not told of a hold or its end (docs/rules.md: the reason is care's)
    assert consequences(ticket, [Acted(actor=CARE, action="hold")]).notices == []
    assert consequences(ticket, [Acted(actor=CARE, action="resume")]).notices == []
    assert "waiting for the bank" not in current_details(ticket, redact=True)
    written = held_at + timedelta(days=3)
    ticket.apply(write("any news?"), written)
    assert ticket.on_hold is None
    assert ticket.care_reply_due_at == written + timedelta(hours=22)
    assert [e.event for e in ticket.timeline[-3:]] == ["hold_ended", "target_resumed", "message"]


def test_care_resumes_a_report_on_hold() -> None:
    ticket = drive_ticket(hold())
    resumed_at = ticket.timeline[-1].at + timedelta(days=1)
    ticket.apply(resume(), resumed_at)
    assert ticket.on_hold is None
    assert ticket.care_reply_due_at == resumed_at + timedelta(hours=23)
    assert ticket.timeline[-3].detail == {"party": "user", "by": CARE.id}


def test_care_replying_ends_a_hold() -> None:
    ticket = drive_ticket(hold())
    ticket.apply(reply(), ticket.timeline[-1].at + timedelta(hours=1))
    assert ticket.on_hold is None and ticket.care_clock is None
    assert ticket.status is TicketStatus.AWAITING_USER
    assert ticket.timeline[-2].event == "hold_ended"


def test_a_hold_counts_the_time_left_in_business_hours() -> None:
    """Held Monday 10:00 WIB with 6 of 8 business hours left; resumed Tuesday 16:00: due
    Wednesday 13:00 (1 hour on Tuesday, 5 on Wednesday from 08:00)."""
    from domain.ticket import Ticket
    from tests.factories import ticket_request

    ticket = Ticket.open("t-1", ticket_request(policy=BUSINESS_TICKET_POLICY), FRIDAY_EVENING)
    ticket.apply(hold(), wib(2026, 11, 30, 10, 0))
    assert ticket.care_clock is not None and ticket.care_clock.remaining == timedelta(hours=6)
    ticket.apply(resume(), wib(2026, 12, 1, 16, 0))
    assert ticket.care_reply_due_at == wib(2026, 12, 2, 13, 0)
    assert ticket.care_clock is not None and ticket.care_clock.warn_at == wib(2026, 12, 2, 11, 0)
    assert USER.role is Role.USER


def test_the_settings_copy_the_calendar_with_this_years_holidays_into_new_cases() -> None:
    setting = {"timezone": "Asia/Jakarta", "hours": {"mon": ["08:00", "17:00"]}, "holidays": "ID"}
    settings = Settings(care_calendar=setting)
    assert settings.care_calendar is not None and settings.care_calendar.public_holidays == []
    year = datetime.now(UTC).year
    for policy in (settings.dispute_policy(), settings.ticket_policy()):
        calendar = policy.care_calendar
        assert calendar is not None
        assert {day.year for day in calendar.public_holidays} == {year, year + 1, year + 2}
        assert date(year, 8, 17) in calendar.public_holidays  # Hari Kemerdekaan
    assert Settings().dispute_policy().care_calendar is None  # unset: round the clock


def test_on_call_reads_what_a_request_waits_for() -> None:
    dispute, _ = mediated_and_asked()
    assert deadline_name(dispute, DeadlineEvent.INFO_REQUEST_DUE) == "seller asked for information"
    policy = CLOCKED_POLICY.model_copy(update={"care_calendar": JAKARTA})
    in_hours = drive_dispute(offer(SELLER), ask_help(BUYER), policy=policy)
    assert (
        deadline_name(in_hours, DeadlineEvent.CARE_DECISION_BREACHED) == "care decision target business hours"
    )
    assert deadline_name(dispute, DeadlineEvent.CARE_DECISION_BREACHED) == "care decision target"
