"""Which phone numbers are called back: allowed countries and kinds, never premium-rate,
shared-cost, satellite or the system's own desk phones; refused with a message that
names the phone field, on the form and in the API (a real server on loopback)."""

from __future__ import annotations

from typing import Any

import pytest
from tornado.testing import gen_test

from reference_impl.web import WebSettings
from reference_impl.web.limits import RequestLimits
from reference_impl.web.validation import FieldError, NumberRules, normalise_phone

from .test_web import GOOD, WebCase

DESK = "+34910000001"                   # a desk phone of tests/webfakes.directory()
SPAIN = NumberRules.of("ES", None, ("fixed_line", "mobile"), {DESK})


def refusal(text: str, rules: NumberRules = SPAIN) -> str:
    with pytest.raises(FieldError) as refused:
        normalise_phone(text, rules.region, rules)
    assert refused.value.field == "phone"
    return refused.value.message


@pytest.mark.parametrize("typed, e164", [
    ("612 345 678", "+34612345678"),            # mobile, typed without the country
    ("+34 912 345 678", "+34912345678"),        # a fixed line in Madrid
    ("0034 612-345-678", "+34612345678"),
])
def test_fixed_and_mobile_numbers_of_the_country_are_called(typed: str, e164: str) -> None:
    assert normalise_phone(typed, "ES", SPAIN) == e164


@pytest.mark.parametrize("typed, words", [
    ("+34 803 123 456", "premium-rate"),
    ("+34 806 123 456", "premium-rate"),
    ("807 123 456", "premium-rate"),
    ("+34 901 123 456", "shared-cost"),
    ("+34 900 123 456", "freephone"),
    ("+34 51 123 4567", "universal access"),
])
def test_premium_shared_cost_and_other_kinds_are_refused_by_name(typed: str, words: str) -> None:
    message = refusal(typed)
    assert words in message and "Please give a fixed-line or mobile number." in message


@pytest.mark.parametrize("typed", ["+882 342 1234", "+881 6 1234 5678", "+870 301 234 567",
                                   "+883 510 012 345"])
def test_satellite_and_international_networks_are_refused(typed: str) -> None:
    message = refusal(typed)
    assert message.startswith("That is a satellite or international-network number")
    assert "We call numbers in Spain." in message


def test_other_countries_are_refused_naming_the_ones_called() -> None:
    assert refusal("+44 7400 123456") == ("We cannot call numbers in United Kingdom. "
                                          "We call numbers in Spain.")
    assert "United Kingdom" in refusal("+44 909 876 5432")       # premium, and abroad


def test_the_systems_own_desk_phones_are_refused() -> None:
    for typed in (DESK, "910 000 001", "+34 91 000 00 01"):
        assert refusal(typed).startswith("That is one of our own numbers.")


def test_a_deployment_chooses_its_countries_and_kinds() -> None:
    rules = NumberRules.of("ES", {"ES", "PT", "GB", "US"}, ("fixed_line", "mobile"))
    assert normalise_phone("+351 912 345 678", "ES", rules) == "+351912345678"
    assert normalise_phone("+44 7400 123456", "ES", rules) == "+447400123456"
    assert normalise_phone("+1 201 555 0123", "ES", rules) == "+12015550123"   # fixed or mobile
    assert "premium-rate" in refusal("+44 909 876 5432", rules)
    assert "personal" in refusal("+44 70 1234 5678", rules)
    assert "France" in refusal("+33 6 12 34 56 78", rules)
    assert "Portugal, Spain, United Kingdom or United States" in refusal("+33 6 12 34 56 78",
                                                                         rules)
    freephone = NumberRules.of("ES", None, ("fixed_line", "mobile", "toll_free"))
    assert normalise_phone("+34 900 123 456", "ES", freephone) == "+34900123456"
    with pytest.raises(ValueError, match="unknown number type 'landline'"):
        NumberRules.of("ES", None, ("landline",))


class TestNumbersOverHttp(WebCase):
    def web_settings(self, **values: Any) -> WebSettings:
        return WebSettings(**{**values, "allowed_regions": frozenset({"ES", "PT"})})

    def setUp(self) -> None:
        super().setUp()
        self._app.requests = RequestLimits(None, 600.0, None, 60.0)  # type: ignore[attr-defined]

    @gen_test
    async def test_refused_numbers_get_a_400_naming_the_phone_field_and_start_nothing(
            self) -> None:
        for typed, words in (("+34 803 123 456", "premium-rate"),
                             ("+34 806 123 456", "premium-rate"),
                             ("+44 909 876 5432", "United Kingdom"),
                             ("+882 342 1234", "satellite"),
                             (DESK, "our own numbers"),
                             ("+34 910 000 002", "our own numbers"),
                             ("+34 901 123 456", "shared-cost")):
            status, answer = await self.api("/api/callbacks", {**GOOD, "phone": typed})
            assert (status, answer["field"]) == (400, "phone"), typed
            assert words in answer["error"], (typed, answer["error"])
            assert "Portugal or Spain" in answer["error"] or "Please give" in answer["error"] \
                or "our own" in answer["error"]
        assert len(self.records) == 0 and not self.runtime.switchboard.live
        status, answer = await self.api("/api/callbacks", {**GOOD, "phone": "+351 912 345 678"})
        assert status == 201 and answer["phone"] == "+351912345678"      # an allowed country

    @gen_test
    async def test_the_form_says_why_and_marks_the_phone_field(self) -> None:
        response = await self.post_form("/", {**GOOD, "phone": "+34 806 123 456",
                                              "consent": "yes"})
        page = response.body.decode()
        assert response.code == 400 and "premium-rate number: we cannot call it" in page
        assert 'value="+34 806 123 456"' in page and 'aria-invalid="true"' in page
        assert len(self.records) == 0

    def test_an_unknown_number_type_in_the_settings_is_refused(self) -> None:
        from reference_impl.web import make_app

        with pytest.raises(ValueError, match="unknown number type"):
            make_app(self.runtime, self.directory, self.records,
                     WebSettings(allowed_number_types=frozenset({"landline"})))
