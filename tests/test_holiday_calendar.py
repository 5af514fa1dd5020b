"""The holiday calendar one deployment configures (contracts/holidays.py): its settings parse or fail naming the
entry, an explicit day replaces the rule's, and the simulator plants its holidays on exactly the calendar's days
(the forecasts read the same calendar, never the simulator's truth)."""

from __future__ import annotations

from datetime import date

import pytest

from analytics_assets.contracts.holidays import HolidayCalendar
from analytics_assets.sources.simulator import SeriesPatterns, SimulatorConfig
from analytics_assets.sources.simulator import series_patterns as sp


def test_the_default_rules_and_explicit_days():
    calendar = HolidayCalendar.from_settings("us_retail", " 2026-03-17=spring_sale:peak, 2026-12-25=office_closed:closure ")
    days = {h.day: (h.name, h.kind) for h in calendar.holidays(date(2026, 1, 1), date(2026, 12, 31))}
    assert days[date(2026, 11, 27)] == ("black_friday", "peak")  # the day after the fourth Thursday of November
    assert days[date(2026, 3, 17)] == ("spring_sale", "peak")
    assert days[date(2026, 12, 25)] == ("office_closed", "closure")  # the explicit day replaces the rule's
    assert len(days) == 9
    assert HolidayCalendar.from_settings("none", None).holidays(date(2026, 1, 1), date(2026, 12, 31)) == []
    frame = calendar.frame(date(2026, 11, 26), date(2026, 11, 30))
    assert list(frame["name"]) == ["thanksgiving", "black_friday", "cyber_monday"]


@pytest.mark.parametrize(
    "rules, dates, message",
    [
        ("us_retial", None, "unknown holiday calendar 'us_retial'"),
        ("us_retail", "2026-02-30=sale:peak", "2026-02-30=sale:peak"),
        ("us_retail", "2026-03-01=sale", "expected YYYY-MM-DD=name:kind"),
        ("us_retail", "2026-03-01=sale:party", "kind must be one of closure, peak"),
        ("us_retail", "2026-03-01=Big Sale!:peak", "holiday name must be"),
    ],
)
def test_a_malformed_setting_is_refused_naming_it(rules, dates, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        HolidayCalendar.from_settings(rules, dates)


def test_the_simulator_plants_holidays_on_the_calendars_days():
    calendar = HolidayCalendar.from_settings("none", "2026-03-19=spring_sale:peak")
    start = date(2026, 3, 2)
    planted = SimulatorConfig(seed=3, patterns=SeriesPatterns(start=start, calendar=calendar))
    plain = SimulatorConfig(seed=3, patterns=SeriesPatterns(start=start, calendar=calendar, holidays=False))

    def lift(day: date) -> float:
        return sp.factor(planted, "google_ads", "1", day, ads=True) / sp.factor(plain, "google_ads", "1", day, ads=True)

    assert lift(date(2026, 3, 19)) == pytest.approx(sp.KIND_EFFECTS["peak"][0])
    # the rules are off in this calendar: Black Friday is an ordinary day, and so is every other day
    assert lift(date(2026, 11, 27)) == pytest.approx(1.0)
    assert lift(date(2026, 3, 18)) == pytest.approx(1.0)
    # the default calendar's named days keep their own planted sizes
    default = SimulatorConfig(seed=3, patterns=SeriesPatterns(start=start))
    no_holidays = SimulatorConfig(seed=3, patterns=SeriesPatterns(start=start, holidays=False))
    bf = date(2026, 11, 27)
    assert sp.factor(default, "google_ads", "1", bf, ads=True) / sp.factor(no_holidays, "google_ads", "1", bf, ads=True) \
        == pytest.approx(sp.HOLIDAY_EFFECTS["black_friday"][0])
