"""Device profiles: one YAML file per station model in ``firmware_configs/``.

A profile says which registers a model serves, how each decodes, and which canonical parameter
and unit it yields. Stations in the site config name a profile; they never repeat a map.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gateway.config import RegisterOverride, StatusOverride
from gateway.model import DeviceStatus
from gateway.mqtt_input.profile import MqttProfile
from gateway.parameters import UnknownParameterError, registry
from gateway.registers import DataType, Order

RegisterTable = Literal["holding", "input"]
FUNCTION_CODE: dict[str, int] = {"holding": 3, "input": 4}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegisterSpec(_Strict):
    param: str
    table: RegisterTable = "holding"
    address: Annotated[int, Field(ge=0, le=65535)]
    type: DataType = DataType.UINT16
    byte_order: Order | None = None  # None: the profile's default
    word_order: Order | None = None
    scale: float = 1.0
    offset: float = 0.0
    unit: str
    # Values the device sends for "no measurement" (raw, before scaling), e.g. 0x7FFF.
    sentinels: tuple[float, ...] = ()
    # bitfield only: (first bit, number of bits), bit 0 the least significant.
    bits: tuple[int, int] | None = None
    # What this sensor can measure, when narrower than the parameter's physical limits
    # (a 0-10 m radar); used by the probe's verdict and by QC.
    limits: tuple[float, float] | None = None

    @property
    def count(self) -> int:
        return self.type.register_count

    @model_validator(mode="after")
    def _canonical(self) -> RegisterSpec:
        try:
            parameter = registry()[self.param]
        except UnknownParameterError as exc:
            # A KeyError would escape pydantic; a ValueError becomes a validation error.
            raise ValueError(f"register {self.address}: {exc}") from None
        if self.unit != parameter.unit:
            raise ValueError(
                f"register {self.address} ({self.param}): unit {self.unit!r} is not the "
                f"canonical {parameter.unit!r}; scale the raw value into it"
            )
        if self.address + self.count > 65536:
            raise ValueError(f"register {self.address} ({self.param}) runs past address 65535")
        if (self.type is DataType.BITFIELD) != (self.bits is not None):
            raise ValueError(f"register {self.address} ({self.param}): bits go with type bitfield")
        if self.bits is not None and not (
            0 <= self.bits[0] <= 15 and 1 <= self.bits[1] <= 16 - self.bits[0]
        ):
            raise ValueError(f"register {self.address} ({self.param}): bits {self.bits} do not fit")
        if self.limits is not None and not self.limits[0] < self.limits[1]:
            raise ValueError(f"register {self.address} ({self.param}): limits must be low < high")
        return self

    def effective_limits(self) -> tuple[float, float]:
        if self.limits is not None:
            return self.limits
        parameter = registry()[self.param]
        return (parameter.low, parameter.high)


class StatusSpec(_Strict):
    """A register holding the device status, mapped to TT10's measuring/calibrating/error."""

    table: RegisterTable = "holding"
    address: Annotated[int, Field(ge=0, le=65535)]
    map: dict[int, Literal["measuring", "calibrating", "error"]]
    # A code not in the map means the device is in a state we do not know: call it an error.
    default: Literal["measuring", "calibrating", "error"] = "error"

    def status_of(self, code: int) -> DeviceStatus:
        return DeviceStatus[self.map.get(code, self.default).upper()]


class InfoSpec(_Strict):
    """Identity text a device serves (model, serial number, firmware): shown by the probe."""

    name: str
    table: RegisterTable = "holding"
    address: Annotated[int, Field(ge=0, le=65535)]
    count: Annotated[int, Field(ge=1, le=64)]  # registers, two characters each


class DeviceProfile(_Strict):
    id: str
    model: str
    kind: Literal["air", "water", "rain", "hydro", "weather"]
    description: str = ""
    byte_order: Order = Order.BIG
    word_order: Order = Order.BIG
    registers: Annotated[tuple[RegisterSpec, ...], Field(min_length=1)]
    status: StatusSpec | None = None
    info: tuple[InfoSpec, ...] = ()

    @model_validator(mode="after")
    def _no_overlap(self) -> DeviceProfile:
        taken: dict[tuple[str, int], str] = {}
        # Bitfields may share a register with each other (several flags in one word).
        spans = [
            (r.table, r.address, r.count, r.param)
            for r in self.registers
            if r.type is not DataType.BITFIELD
        ]
        if self.status is not None:
            spans.append((self.status.table, self.status.address, 1, "status"))
        for table, address, count, name in spans:
            for offset in range(count):
                key = (table, address + offset)
                if key in taken:
                    raise ValueError(
                        f"{table} register {address + offset} is used by both "
                        f"{taken[key]} and {name}"
                    )
                taken[key] = name
        return self

    def orders(self, spec: RegisterSpec) -> tuple[Order, Order]:
        return spec.byte_order or self.byte_order, spec.word_order or self.word_order

    def with_overrides(
        self, overrides: Sequence[RegisterOverride], status: StatusOverride | None = None
    ) -> DeviceProfile:
        """This profile as one station has it: registers moved, rescaled or absent; its status
        register moved, remapped or absent.

        Raises ValueError naming the override that does not fit (unknown param, overlap).
        """
        if not overrides and status is None:
            return self
        by_param = {spec.param: spec for spec in self.registers}
        registers = dict(by_param)
        for override in overrides:
            if override.param not in by_param:
                raise ValueError(f"profile {self.id!r} has no register for {override.param!r}")
            if not override.enabled:
                registers.pop(override.param, None)
                continue
            changes = override.model_dump(exclude={"param", "enabled"}, exclude_none=True)
            merged = by_param[override.param].model_dump() | changes
            registers[override.param] = RegisterSpec.model_validate(merged)
        document = self.model_dump()
        document["registers"] = [spec.model_dump() for spec in registers.values()]
        if status is not None and not status.enabled:
            document["status"] = None
        elif status is not None:
            changes = status.model_dump(exclude={"enabled"}, exclude_none=True)
            if self.status is None and not {"address", "map"} <= changes.keys():
                raise ValueError(
                    f"profile {self.id!r} has no status register: give its address and map"
                )
            document["status"] = (self.status.model_dump() if self.status else {}) | changes
        return DeviceProfile.model_validate(document)


class ProfileError(ValueError):
    """A profile file that cannot be used; ``problems`` lists every mistake in it."""

    def __init__(self, path: Path, problems: Sequence[str]) -> None:
        self.path = path
        self.problems = list(problems)
        super().__init__("\n".join(f"{path}: {p}" for p in self.problems))


def _describe(error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        problems.append(f"{location}: {message}" if location else message)
    return problems


# A profile file's top-level ``protocol:`` picks its model; left out, it is a Modbus register map.
Profile = DeviceProfile | MqttProfile
PROFILE_MODELS: dict[str, type[DeviceProfile] | type[MqttProfile]] = {
    "modbus": DeviceProfile,
    "mqtt": MqttProfile,
}


def load_any_profile(path: Path) -> Profile:
    """Load a profile of any protocol (``protocol:`` key, default modbus)."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ProfileError(path, [str(exc)]) from exc
    if not isinstance(document, dict):
        raise ProfileError(path, ["a profile is a YAML mapping"])
    document.setdefault("id", path.stem)
    if document["id"] != path.stem:
        raise ProfileError(path, [f"id {document['id']!r} differs from the file name"])
    protocol = document.get("protocol", "modbus")
    model = PROFILE_MODELS.get(str(protocol))
    if model is None:
        known = ", ".join(PROFILE_MODELS)
        raise ProfileError(path, [f"protocol: {protocol!r} is not one of {known}"])
    if model is DeviceProfile:
        document.pop("protocol", None)
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise ProfileError(path, _describe(exc)) from exc


def load_profile(path: Path) -> DeviceProfile:
    """Load a Modbus profile (a file with ``protocol: mqtt`` is refused with a clear error)."""
    profile = load_any_profile(path)
    if not isinstance(profile, DeviceProfile):
        raise ProfileError(path, [f"this is a {profile.protocol} profile, not a Modbus one"])
    return profile


def load_mqtt_profile(path: Path) -> MqttProfile:
    profile = load_any_profile(path)
    if not isinstance(profile, MqttProfile):
        raise ProfileError(path, ["this is a Modbus profile, not an MQTT one (protocol: mqtt)"])
    return profile


def default_profiles_dir() -> Path:
    """``firmware_configs/`` of the source tree, or the copy a wheel installs."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "firmware_configs", here.parent / "quantrac/_firmware_configs"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("no firmware_configs directory found beside the gateway package")


def load_profiles(directory: Path) -> tuple[dict[str, Profile], list[ProfileError]]:
    """Every profile (of any protocol) in ``directory`` that loads, and the errors of the rest.

    Only the directory's own files: the shipped MQTT profiles sit in ``mqtt/`` below it and are
    loaded by a second call (quantrac.site does both).
    """
    profiles: dict[str, Profile] = {}
    errors: list[ProfileError] = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            profiles[path.stem] = load_any_profile(path)
        except ProfileError as exc:
            errors.append(exc)
    return profiles, errors
