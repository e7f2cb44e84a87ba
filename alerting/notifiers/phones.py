"""Vietnamese phone numbers: the one check the SMS and Zalo notifiers and ``quantrac config
check`` share, so a number that would be refused in a flood is refused before the season."""

from __future__ import annotations

import re
from typing import Literal

from alerting.model import Recipient

_NON_DIGITS = re.compile(r"[\s.\-()]")

PhoneFormat = Literal["84", "0", "+84"]

# Vietnam's numbering plan since the 2018 conversion (docs/notifiers.md): a mobile number is 0 and
# nine digits whose first is 3, 5, 7, 8 or 9 (03x Viettel, 05x Vietnamobile/Gmobile, 07x
# MobiFone, 08x VinaPhone and others, 09x all); a landline is 0, a 2xx area code and ten digits
# in all after the 0 (0234 3822 000 in Huế, 024 3… in Hà Nội). SMS gateways and ZNS take only
# mobile numbers: a landline is refused by the provider, every time.
MOBILE_FIRST_DIGITS = frozenset("35789")


def vn_phone(phone: str, style: PhoneFormat = "84") -> str:
    """A Vietnamese mobile number in the provider's form: ``84xxxxxxxxx`` (ZNS, most gateways),
    ``0xxxxxxxxx`` or ``+84xxxxxxxxx``. Accepts 0…, 84…, +84… with spaces, dots, dashes or
    brackets. Raises ValueError saying why for anything else: a landline ("… is a landline:
    it cannot receive SMS or Zalo"), a number of the wrong length or prefix.

    The one check of a phone number: the SMS and Zalo notifiers send only what it returns, and
    ``quantrac config check`` refuses what it refuses, before the season and not during it."""
    digits = _NON_DIGITS.sub("", phone.strip())
    if digits.startswith("+84"):
        national = digits[3:]
    elif digits.startswith("84") and len(digits) in (11, 12):
        national = digits[2:]
    elif digits.startswith("0") and not digits.startswith("00"):
        national = digits[1:]
    else:
        raise ValueError(f"not a Vietnamese phone number: {phone!r}")
    if not national.isdigit():
        raise ValueError(f"not a Vietnamese phone number: {phone!r}")
    if len(national) == 10 and national.startswith("2"):
        # Hà Nội (024) and Hồ Chí Minh City (028) have 8-digit subscribers, the rest 02xx and 7.
        area = "0" + (national[:2] if national[:2] in ("24", "28") else national[:3])
        raise ValueError(
            f"{phone!r} is a landline (area code {area}): it cannot receive SMS or Zalo"
        )
    if len(national) != 9 or national[0] not in MOBILE_FIRST_DIGITS:
        raise ValueError(
            f"not a Vietnamese phone number: {phone!r} (a mobile number is 0 and 9 digits "
            "starting 03, 05, 07, 08 or 09, or +84 and those 9 digits)"
        )
    return style + national


def recipient_phone(recipient: Recipient, style: PhoneFormat = "84") -> str:
    """The recipient's mobile number as the provider wants it; ValueError says why not."""
    if not recipient.phone:
        raise ValueError("recipient has no phone")
    return vn_phone(recipient.phone, style)
