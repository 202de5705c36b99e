"""Device request models and constrained field types (API.md §2).

Stored items are not these models: devices/db.py maps items to the public view, so the write-only
password cannot reach a response.
"""
import ipaddress
import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    StrictBool,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from chalicelib.ids import Id, whole
from chalicelib.paging import PageQuery


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def _imei(value: str) -> str:
    if not re.fullmatch(r"\d{15}", value) or not _luhn_ok(value):
        raise ValueError("an IMEI is 15 digits with a valid check digit")
    return value


def _hex_id(length: int, name: str):
    def check(value: str) -> str:
        compact = re.sub(r"[-:\s]", "", value).upper()
        if not re.fullmatch(rf"[0-9A-F]{{{length}}}", compact):
            raise ValueError(f"an {name} is {length} hexadecimal digits")
        return compact
    return check


def _digits(low: int, high: int, name: str, plus: bool = False):
    def check(value: str) -> str:
        compact = value.removeprefix("+") if plus else value
        if not re.fullmatch(rf"\d{{{low},{high}}}", compact):
            raise ValueError(f"an {name} is {low} to {high} digits")
        return compact
    return check


def _iccid(value: str) -> str:
    if not re.fullmatch(r"\d{18,21}F?", value.upper()):
        raise ValueError("an ICCID is 18 to 21 digits, optionally followed by F")
    return value.upper()


IdentifierValue = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]


class Identifiers(BaseModel):
    """Network identities of a device; each value is unique system-wide."""
    model_config = ConfigDict(extra="forbid")

    imei: Annotated[IdentifierValue, AfterValidator(_imei)] | None = None
    iccid: Annotated[IdentifierValue, AfterValidator(_iccid)] | None = None
    imsi: Annotated[IdentifierValue, AfterValidator(_digits(6, 15, "IMSI"))] | None = None
    meid: Annotated[IdentifierValue, AfterValidator(_hex_id(14, "MEID"))] | None = None
    esn: Annotated[IdentifierValue, AfterValidator(_hex_id(8, "ESN"))] | None = None
    mdn: Annotated[IdentifierValue, AfterValidator(_digits(10, 15, "MDN"))] | None = None
    msisdn: Annotated[IdentifierValue, AfterValidator(_digits(8, 15, "MSISDN", plus=True))] | None = None
    eid: Annotated[IdentifierValue, AfterValidator(_digits(32, 32, "EID"))] | None = None
    eui: Annotated[IdentifierValue, AfterValidator(_hex_id(16, "EUI-64"))] | None = None


IDENTIFIER_KINDS: tuple[str, ...] = tuple(Identifiers.model_fields)
# What names a device from outside (telemetry, connection history): its serial number or any identifier.
LOOKUP_KINDS: tuple[str, ...] = ("serial", *IDENTIFIER_KINDS)


def _coordinate(limit: int, name: str):
    def check(value) -> str:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ValueError(f"{name} is a decimal number")
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError(f"{name} is a decimal number") from None
        if not number.is_finite() or abs(number) > limit:
            raise ValueError(f"{name} must be between -{limit} and {limit}")
        return str(value).strip()
    return check


Latitude = Annotated[str, BeforeValidator(_coordinate(90, "latitude"))]
"""Decimal degrees as a string, -90 to 90 (numbers are accepted and kept as written)."""
Longitude = Annotated[str, BeforeValidator(_coordinate(180, "longitude"))]
"""Decimal degrees as a string, -180 to 180."""


_MAC_FORMS = re.compile(r"([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}|([0-9A-Fa-f]{4}\.){2}[0-9A-Fa-f]{4}|[0-9A-Fa-f]{12}")


def _mac(value: str) -> str:
    if not _MAC_FORMS.fullmatch(value.strip()):
        raise ValueError("a MAC address is six hexadecimal pairs, e.g. 00:1B:44:11:3A:B7")
    compact = re.sub(r"[-:.]", "", value.strip()).upper()
    return ":".join(compact[i:i + 2] for i in range(0, 12, 2))


MacAddress = Annotated[str, AfterValidator(_mac)]
"""A MAC-48 address in colon, hyphen, dotted or bare form; stored as 00:1B:44:11:3A:B7."""

_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*\.?$")


def _address(value: str) -> str:
    value = value.strip()
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        pass
    if not _HOSTNAME.match(value) or re.fullmatch(r"[\d.]+", value):
        raise ValueError("an address is an IPv4 or IPv6 address or a host name")
    return value.lower()


Address = Annotated[str, AfterValidator(_address)]
"""The management address: an IP address or an RFC 1123 host name."""

SerialNumber = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64,
                                                pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/+-]*$")]
"""Letters, digits and . _ : / + -; unique system-wide regardless of case."""


def _status(value):
    if value is True:
        return "Up"
    if value is False:
        return "Down"
    return value


Status = Annotated[Literal["Up", "Down"], BeforeValidator(_status)]


Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)]


class DeviceFields(BaseModel):
    """The writable fields; required ones are re-declared by Create/Replace."""
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)] | None = None
    customer_id: ShortText | None = None
    # Always hold a value (a default when not sent): null is refused rather than stored.
    is_active: bool = None
    status: Status = None
    type: Id | None = None
    software_version: ShortText | None = None
    hardware_version: ShortText | None = None
    manufacturer: Text | None = None
    unique_identifier: Annotated[str, StringConstraints(strip_whitespace=True, max_length=128)] | None = None
    product_class: ShortText | None = None
    serial_number: SerialNumber | None = None
    serial_number_alt: ShortText | None = None
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None
    organization_id: Id | None = None
    firmware_image: Id | None = None
    location: Id | None = None
    location_name: Text | None = None
    location_short_name: ShortText | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    address: Address | None = None
    mac_address: MacAddress | None = None
    identifiers: Identifiers | None = None
    username: Annotated[str, StringConstraints(max_length=128)] | None = None
    password: Annotated[SecretStr, Field(min_length=1, max_length=256)] | None = None
    update_frequency: whole(30, 7 * 86400) | None = None

    @model_validator(mode="after")
    def _coordinates_together(self):
        # Half a position is no position: both are sent and both set, or both cleared.
        pair = {"latitude", "longitude"}
        given = pair & self.model_fields_set
        held = {name for name in given if getattr(self, name) is not None}
        missing = pair - given if len(given) == 1 else (pair - held if len(held) == 1 else set())
        if missing:
            # Raised as a ValidationError so that the detail names the field, not the whole body.
            raise ValidationError.from_exception_data(type(self).__name__, [InitErrorDetails(
                type=PydanticCustomError("value_error", "latitude and longitude are given together"),
                loc=(name,), input=None) for name in sorted(missing)])
        return self

    def changes(self) -> dict:
        """The fields the client sent, secrets unwrapped for storage (never for logs)."""
        values = {}
        for name in self.model_fields_set:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            elif isinstance(value, Identifiers):
                value = value.model_dump(exclude_none=True)
            values[name] = value
        return values


REQUIRED = ("name", "type", "serial_number", "organization_id")
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]


class DeviceCreate(DeviceFields):
    """POST body: the required fields must be present."""
    name: Name
    type: Id
    serial_number: SerialNumber
    organization_id: Id


class DeviceReplace(DeviceCreate):
    """PUT body: a full replacement; what is left out is cleared, except the stored password."""


class DevicePatch(DeviceFields):
    """PATCH body: only what is sent changes; required fields may be changed but not cleared.

    It also carries the remote-operation flags (API.md §2): each queues an operation instead of
    changing a field. Strict booleans: "yes" or 1 for a flag is a 422, not a reboot.
    """
    name: Name = None
    type: Id = None
    serial_number: SerialNumber = None
    organization_id: Id = None
    reboot: StrictBool = None
    factory: StrictBool = None
    device_factory: StrictBool = None
    sync: StrictBool = None
    reconf: StrictBool = None
    debug: StrictBool = None
    firmware_image_is_pending: StrictBool = None

    def operation_flags(self) -> dict[str, bool]:
        return {name: getattr(self, name) for name in OPERATION_FLAGS if name in self.model_fields_set}


OPERATION_FLAGS = ("reboot", "factory", "device_factory", "sync", "reconf", "debug", "firmware_image_is_pending")


def _flag(value):
    if isinstance(value, str):
        mapping = {"1": True, "true": True, "True": True, "0": False, "false": False, "False": False}
        if value not in mapping:
            raise ValueError("expected 1/true/True or 0/false/False")
        return mapping[value]
    return value


Flag = Annotated[bool, BeforeValidator(_flag)]


class DeviceListQuery(PageQuery):
    type: Id | None = None
    status: Flag | None = None
    last_status_change_from: datetime | None = None
    organization: Id | None = None
    pending: Flag = False
    update_status: Flag = False


class DeviceQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pending: Flag = False
    update_status: Flag = False
