"""The GOV.UK date input (community/dates.py): what three typed boxes read as, the messages of
the GOV.UK dates pattern, and how a form shows the boxes that are wrong (issue 20, item 12)."""

import datetime as dt

import pytest
from werkzeug.datastructures import MultiDict

from community.dates import DateError, DateInputField, parse_date_parts
from community.forms import AppForm


@pytest.mark.parametrize(("day", "month", "year", "expected"), [
    ("1", "4", "2026", dt.date(2026, 4, 1)),
    ("01", "04", "2026", dt.date(2026, 4, 1)),
    (" 27 ", " 3", "2026 ", dt.date(2026, 3, 27)),  # spaces around a part are not a mistake
    ("29", "2", "2028", dt.date(2028, 2, 29)),
    ("5", "Feb", "2026", dt.date(2026, 2, 5)),  # GOV.UK: accept a month's name
    ("5", "december", "2026", dt.date(2026, 12, 5)),
    ("", "", "", None),
    ("  ", " ", "", None),  # all three empty: no date (an optional field's None)
])
def test_three_parts_read_as_a_date(day, month, year, expected):
    assert parse_date_parts(day, month, year, called="Date paid") == expected


@pytest.mark.parametrize(("day", "month", "year", "message", "parts"), [
    ("5", "", "2026", "Date paid must include a month", {"month"}),
    ("", "", "2026", "Date paid must include a day and month", {"day", "month"}),
    ("5", "4", "", "Date paid must include a year", {"year"}),
    ("31", "2", "2026", "Date paid must be a real date", {"day"}),
    ("29", "2", "2026", "Date paid must be a real date", {"day"}),
    ("1", "13", "2026", "Date paid must be a real date", {"month"}),
    ("0", "4", "2026", "Date paid must be a real date", {"day"}),
    ("32", "1", "2026", "Date paid must be a real date", {"day"}),
    ("1", "4", "twenty", "Date paid must be a real date", {"year"}),
    ("-1", "4", "2026", "Date paid must be a real date", {"day"}),
    ("1.5", "4", "2026", "Date paid must be a real date", {"day"}),
    ("001", "4", "2026", "Date paid must be a real date", {"day"}),
    ("1", "4", "26", "Year must include 4 numbers", {"year"}),  # 1926 or 2026? ask
    ("1", "4", "02026", "Year must include 4 numbers", {"year"}),
    ("２", "4", "2026", "Use the digits 0 to 9", {"day"}),  # int("２") is 2
    ("1", "٤", "2026", "Use the digits 0 to 9", {"month"}),
    ("1", "4", "２０２６", "Use the digits 0 to 9", {"year"}),
    ("1", "4", "202²", "Use the digits 0 to 9", {"year"}),
])
def test_a_date_that_cannot_be_read_names_the_parts_that_are_wrong(day, month, year, message, parts):
    with pytest.raises(DateError) as caught:
        parse_date_parts(day, month, year, called="Date paid")
    assert str(caught.value) == message and caught.value.parts == parts


class _Form(AppForm):
    class Meta:
        csrf = False

    paid_on = DateInputField("Date paid", required="Enter the date paid",
                             latest=lambda: dt.date(2026, 11, 23), too_late="Date paid must be today or in the past")
    due_on = DateInputField("By when? (optional)", called="The date")


def _bound(app, **typed):
    with app.test_request_context("/", method="POST"):
        form = _Form(formdata=MultiDict(typed))
        form.validate()
        return form, str(form.paid_on(params={"label": {"text": "Date paid"}}))


def test_an_optional_date_left_empty_is_none_and_a_required_one_asks_for_it(app):
    form, html = _bound(app, **{"paid_on-day": "", "paid_on-month": "", "paid_on-year": ""})
    assert form.due_on.data is None and form.due_on.errors == []
    assert form.paid_on.errors == ["Enter the date paid"]
    assert html.count("govuk-input--error") == 3  # nothing typed: the whole date is wrong


def test_a_range_message_of_the_caller_is_shown_beside_the_field(app):
    form, _html = _bound(app, **{"paid_on-day": "24", "paid_on-month": "11", "paid_on-year": "2026"})
    assert form.paid_on.errors == ["Date paid must be today or in the past"]
    form, _html = _bound(app, **{"paid_on-day": "23", "paid_on-month": "11", "paid_on-year": "2026",
                                 "due_on-day": "1", "due_on-month": "", "due_on-year": "2027"})
    assert form.paid_on.data == dt.date(2026, 11, 23) and form.paid_on.errors == []
    assert form.due_on.errors == ["The date must include a month"]


def test_the_field_renders_three_numeric_inputs_with_the_error_on_the_wrong_part(app):
    form, html = _bound(app, **{"paid_on-day": "31", "paid_on-month": "2", "paid_on-year": "2026"})
    for part in ("day", "month", "year"):
        assert f'name="paid_on-{part}"' in html and f'id="paid_on-{part}"' in html
    assert html.count('inputmode="numeric"') == 3 and html.count('autocomplete="off"') == 3
    assert 'class="govuk-form-group govuk-form-group--error"' in html
    assert 'id="paid_on-error"' in html and "Date paid must be a real date" in html
    day = html[html.index('id="paid_on-day"') - 200:html.index('id="paid_on-day"')]
    month = html[html.index('id="paid_on-month"') - 200:html.index('id="paid_on-month"')]
    assert "govuk-input--error" in day and "govuk-input--error" not in month
    assert 'value="31"' in html and 'value="2"' in html  # what was typed is shown again
    assert "<legend" in html and "Date paid" in html
    assert form.paid_on.error_href == "#paid_on-day"


def test_a_date_already_known_is_shown_in_the_three_boxes(app):
    with app.test_request_context("/"):
        form = _Form(formdata=None)
        form.paid_on.data = dt.date(2026, 3, 7)
        html = str(form.paid_on())
    assert 'value="7"' in html and 'value="3"' in html and 'value="2026"' in html
    assert "govuk-input--error" not in html
