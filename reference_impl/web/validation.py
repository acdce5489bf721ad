"""A callback request from the form or the API: checked field by field.

Both entry points use the same rules, so a bad field gets the same message
on the page and in the API's 400 (which names the field).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Mapping

import phonenumbers

from ..directory import Directory

NAME_MAX = 100


@dataclass(frozen=True, slots=True)
class FieldError(Exception):
    """A request field at fault, with the message the person reads."""

    field: str
    message: str


@dataclass(frozen=True, kw_only=True, slots=True)
class CallbackForm:
    """A checked callback request: the number in E.164, the name, the service code."""

    phone: str          # E.164
    name: str
    service: str

    def as_form(self) -> dict[str, str]:
        """The form data kept in the callback's record."""
        return {"service": self.service, "name": self.name, "consent": "yes"}


def normalise_phone(text: str, region: str) -> str:
    """E.164 of a number typed by a person; `FieldError` with a plain message otherwise."""
    text = text.strip()
    if not text:
        raise FieldError("phone", "Please enter the phone number we should call.")
    if len(text) > 40:
        raise FieldError("phone", "That phone number is too long.")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise FieldError("phone", "That does not look like a phone number. "
                                  "Try the international form, like +34 612 345 678.") from None
    if not phonenumbers.is_valid_number(number):
        raise FieldError("phone", "That number cannot be called: check the digits "
                                  "and the country code.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def clean_name(value: object) -> str:
    """A name without control characters; `FieldError` if empty, too long or not text."""
    if not isinstance(value, str):
        raise FieldError("name", "The name must be text.")
    # Control characters have no place in a name and could upset logs or pages.
    name = "".join(ch for ch in value if unicodedata.category(ch)[0] != "C").strip()
    if not name:
        raise FieldError("name", "Please tell us your name.")
    if len(name) > NAME_MAX:
        raise FieldError("name", f"The name is too long (at most {NAME_MAX} characters).")
    return name


def check_request(data: Mapping[str, object], directory: Directory, region: str) -> CallbackForm:
    """The checked request, or `FieldError` naming the first field at fault."""
    phone = data.get("phone", "")
    if not isinstance(phone, str):
        raise FieldError("phone", "The phone number must be text.")
    e164 = normalise_phone(phone, region)
    name = clean_name(data.get("name", ""))
    service = data.get("service", "")
    if not isinstance(service, str) or service not in directory.services:
        raise FieldError("service", "Please choose one of the services listed.")
    if data.get("consent") not in (True, "yes", "on", "true", "1"):
        raise FieldError("consent", "Please agree that we may call you.")
    return CallbackForm(phone=e164, name=name, service=service)
