"""Source records of a GetCarePlans 2.0 response, with the contract's element names kept."""

from __future__ import annotations

from dataclasses import dataclass

from adapters.rivta_logistics.records import PatientSummaryHeader, Result

__all__ = ["II", "CarePlan", "CarePlanBody", "CarePlansResponse", "Multimedia"]


@dataclass(frozen=True)
class Multimedia:
    """MultimediaType: the plan document, embedded (`value`, decoded bytes) xor by `reference`."""

    media_type: str
    value: bytes | None
    reference: str | None
    path: str


@dataclass(frozen=True)
class II:
    """IIType: root (OID) + extension."""

    root: str
    extension: str
    path: str


@dataclass(frozen=True)
class CarePlanBody:
    """CarePlanBodyType: documents, participating care units and the plan type."""

    content: tuple[Multimedia, ...]
    participating_care_unit_hsa_id: tuple[II, ...]
    type_of_care_plan_enum: str | None
    path: str


@dataclass(frozen=True)
class CarePlan:
    """One `carePlan` element."""

    care_plan_header: PatientSummaryHeader
    care_plan_body: CarePlanBody
    path: str


@dataclass(frozen=True)
class CarePlansResponse:
    """GetCarePlansResponse: zero or more care plans and the result."""

    care_plan: tuple[CarePlan, ...]
    result: Result
    filename: str
