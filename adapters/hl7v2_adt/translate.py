"""Turn one ADT message into the current state of its Encounter (and EpisodeOfCare).

Every message carries the whole visit as the sender sees it now, so each translation
emits the full resources; the store keeps the versions. Ids are uuid5 over the source
system and `<sending facility>|<visit number>` (PV1-19), so A01, A08, A03 ... of one visit
update the same Encounter. An inpatient stay (PV1-2 with a row in hl7v2-episode-type) also
gets a discharge-planning EpisodeOfCare: the admission starts the discharge-planning clock.

Encounter.location follows the HL7 v2-to-FHIR PV1 map (segment-pv1-to-encounter): PV1-3
is the location the patient is at (status active, or completed once the visit is
finished), PV1-6 on a transfer (A02) the one they left (status completed); the transfer
time (EVN-6, else the event time) ends the prior location and starts the new one. The
message carries no directory data for a location, so both are logical references.

Each record carries the message's event time (EVN-2, else MSH-7) as its source time, so
intake keeps a visit at its latest state when messages arrive out of order.

Output: the Patient (identifier only, id = HMAC of the person identifier), the Encounter,
then the EpisodeOfCare when there is one. HL7 TS values with an offset keep it; values
without one are Swedish local time (Europe/Stockholm, DST rule of adapters.swedish_time).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

from adapters.codes import canonical_system, lookup
from adapters.errors import (
    InvalidIdentifier,
    InvalidTimestamp,
    MissingElement,
    SchemaViolation,
    TranslateError,
)
from adapters.hl7v2_adt.records import AdtMessage, PatientIdentifier, PatientLocation
from adapters.identity import HSA_SYSTEM, PersonIdentity, parse_person_identity
from adapters.ids import patient_id, record_identifier_system, resource_id, source_uri
from adapters.model import TranslatedResource, TranslationContext
from adapters.swedish_time import local_timestamp_to_fhir
from mappings import MappedCode, load_table

__all__ = ["hl7_timestamp_to_fhir", "translate"]

_HSA_ID = re.compile(r"SE\d{10}-[0-9A-Za-z]{1,31}")
_TS = re.compile(r"(?P<minute>\d{12})(?P<second>\d{2})?(?:\.\d{1,4})?(?P<offset>[+-]\d{4})?")
_TWELVE_DIGITS = re.compile(r"\d{8}-?\d{4}")
_CLOSED_BY_DISCHARGE = frozenset({"A01", "A04", "A08"})
_DISCHARGE_WITHDRAWN = "A13"
_DISCHARGE = "A03"
_TRANSFER = "A02"
_ADMISSIONS = frozenset({"A01", "A04"})
_PREADMIT_CLASS = "P"


def translate(message: AdtMessage, context: TranslationContext) -> list[TranslatedResource]:
    """Patient, Encounter and (for inpatient stays) EpisodeOfCare for one ADT message."""
    event = _lookup("hl7v2-adt-event", message.trigger_event, "MSH-9.2")
    encounter_class = _lookup("hl7v2-patient-class", message.patient_class, "PV1-2")
    facility = _facility(message.sending_facility)
    identity = _person(message.patient_identifiers)
    status, period = _status_and_period(message, event.target.code)
    event_time = hl7_timestamp_to_fhir(*message.event_time)
    locations = _locations(message, status, period, event_time)

    source_id = f"{message.sending_facility}|{message.visit_number}"
    visit_identifier = {
        "system": record_identifier_system("hl7v2-visit-number", message.sending_facility),
        "value": message.visit_number,
    }
    meta = {"source": source_uri(context.source_system)}
    pid = patient_id(identity, context.patient_id_secret)
    patient = {
        "resourceType": "Patient",
        "id": pid,
        "meta": meta,
        "identifier": [{"system": identity.system, "value": identity.value}],
    }
    service_provider = {
        "type": "Organization",
        "identifier": {"system": HSA_SYSTEM, "value": message.sending_facility},
    }
    encounter: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": resource_id(context.source_system, "Encounter", source_id),
        "meta": meta,
        "identifier": [visit_identifier],
        "status": status,
        "class": encounter_class.target.as_fhir(),
        "subject": {"reference": f"Patient/{pid}"},
    }
    out = [TranslatedResource(patient, None, None)]
    care_provider = facility.target.code
    episode_type = _episode_type(message.patient_class)
    if episode_type is not None:
        episode_id = resource_id(context.source_system, "EpisodeOfCare", source_id)
        encounter["episodeOfCare"] = [{"reference": f"EpisodeOfCare/{episode_id}"}]
        episode: dict[str, Any] = {
            "resourceType": "EpisodeOfCare",
            "id": episode_id,
            "meta": meta,
            "identifier": [visit_identifier],
            "status": _lookup("hl7v2-episode-status", status, "MSH-9.2").target.code,
            "type": [{"coding": [episode_type.target.as_fhir()]}],
            "patient": {"reference": f"Patient/{pid}"},
            "managingOrganization": service_provider,
        }
        if period:
            episode["period"] = period
    if period:
        encounter["period"] = period
    if locations:
        encounter["location"] = locations
    encounter["serviceProvider"] = service_provider
    record = (care_provider, message.sending_facility, context.source_system, event_time)
    out.append(TranslatedResource(encounter, *record))
    if episode_type is not None:
        out.append(TranslatedResource(episode, *record))
    return out


def hl7_timestamp_to_fhir(value: str, location: str) -> str:
    """HL7 v2 TS (at least minutes) as a FHIR dateTime; no offset means Swedish local time."""
    match = _TS.fullmatch(value)
    if match is None:
        raise InvalidTimestamp(
            "timestamp must be YYYYMMDDHHMM[SS[.S]][+/-ZZZZ] (at least minutes)"
        ).at(location)
    compact = match["minute"] + (match["second"] or "00")
    offset = match["offset"]
    try:
        if offset is None:
            return local_timestamp_to_fhir(compact)
        hours, minutes = int(offset[1:3]), int(offset[3:])
        if hours > 14 or minutes > 59:
            raise ValueError("offset out of range")
        sign = 1 if offset[0] == "+" else -1
        zone = timezone(sign * timedelta(hours=hours, minutes=minutes))
        moment = datetime.strptime(compact, "%Y%m%d%H%M%S").replace(tzinfo=zone)
        if not 1900 <= moment.year <= 2099:
            raise ValueError("year out of range")
        return moment.isoformat(timespec="seconds")
    except InvalidTimestamp as error:
        raise error.at(location) from None
    except ValueError:
        raise InvalidTimestamp("timestamp names a time that does not exist").at(location) from None


def _status_and_period(message: AdtMessage, event_status: str) -> tuple[str, dict[str, str]]:
    event = message.trigger_event
    period: dict[str, str] = {}
    if message.admit_time:
        period["start"] = hl7_timestamp_to_fhir(message.admit_time, "PV1-44")
    elif event in ("A01", "A04", _DISCHARGE_WITHDRAWN):
        raise MissingElement("PV1-44 (admit time) must have a value").at("PV1-44")
    status = event_status
    if message.discharge_time and event != _DISCHARGE_WITHDRAWN:
        period["end"] = hl7_timestamp_to_fhir(message.discharge_time, "PV1-45")
        if event in _CLOSED_BY_DISCHARGE:
            status = lookup(load_table("hl7v2-adt-event"), _DISCHARGE).target.code
    elif event == _DISCHARGE:
        raise MissingElement("PV1-45 (discharge time) must have a value").at("PV1-45")
    if "start" in period and "end" in period:
        start = datetime.fromisoformat(period["start"])
        if datetime.fromisoformat(period["end"]) < start:
            raise SchemaViolation("discharge (PV1-45) is before admission (PV1-44)").at("PV1-45")
    return status, period


def _locations(
    message: AdtMessage, status: str, period: dict[str, str], event_time: str
) -> list[dict[str, Any]]:
    """Encounter.location: the prior location a transfer left (A02, PV1-6) and the
    assigned one (PV1-3), each with the status and period the message tells."""
    assigned, prior = message.assigned_location, message.prior_location
    if message.trigger_event != _TRANSFER:
        if assigned is None:
            return []
        current: dict[str, Any] = {"location": _location_reference(assigned, message)}
        if status == "finished":
            current["status"] = "completed"
        elif message.patient_class == _PREADMIT_CLASS:
            current["status"] = "planned"
        else:
            current["status"] = "active"
        location_period = {
            key: value
            for key, value in period.items()
            if key == "end" or message.trigger_event in _ADMISSIONS
        }
        if location_period:
            current["period"] = location_period
        return [current]
    if assigned is None:
        raise MissingElement("PV1-3 (assigned patient location) must have a value").at("PV1-3")
    transfer = event_time
    where = message.event_time[1]
    if message.event_occurred:
        transfer = hl7_timestamp_to_fhir(message.event_occurred, "EVN-6")
        where = "EVN-6"
    if "start" in period and datetime.fromisoformat(transfer) < datetime.fromisoformat(
        period["start"]
    ):
        raise SchemaViolation(f"transfer ({where}) is before admission (PV1-44)").at(where)
    out: list[dict[str, Any]] = []
    if prior is not None:
        out.append(
            {
                "location": _location_reference(prior, message),
                "status": "completed",
                "period": {"end": transfer},
            }
        )
    out.append(
        {
            "location": _location_reference(assigned, message),
            "status": "active",
            "period": {"start": transfer},
        }
    )
    return out


def _location_reference(location: PatientLocation, message: AdtMessage) -> dict[str, Any]:
    """A logical reference to a PL location: point of care, room and bed as one value
    (PL.1^PL.2^PL.3, trailing empty parts left out) in the namespace of its facility (PL.4,
    else the sending facility)."""
    parts = [location.point_of_care, location.room, location.bed]
    while parts and not parts[-1]:
        parts.pop()
    facility = location.facility or message.sending_facility
    return {
        "type": "Location",
        "identifier": {
            "system": record_identifier_system("hl7v2-location", facility),
            "value": "^".join(parts),
        },
    }


def _person(identifiers: tuple[PatientIdentifier, ...]) -> PersonIdentity:
    """The first PID-3 repetition whose assigning authority is a Swedish person identifier."""
    person_systems = {
        "http://electronichealth.se/identifier/personnummer",
        "http://electronichealth.se/identifier/samordningsnummer",
    }
    for identifier in identifiers:
        try:
            system = canonical_system(identifier.assigning_authority)
        except TranslateError:
            continue
        if system not in person_systems:
            continue
        if not _TWELVE_DIGITS.fullmatch(identifier.id_number):
            raise InvalidIdentifier("person identifier must be 12 digits YYYYMMDDNNNC").at(
                identifier.location
            )
        try:
            identity = parse_person_identity(identifier.id_number)
        except InvalidIdentifier as error:
            raise error.at(identifier.location) from None
        if identity.system != system:
            raise InvalidIdentifier(
                f"identifier is a {identity.kind} but its assigning authority says otherwise"
            ).at(f"{identifier.location}.4")
        return identity
    raise MissingElement(
        "PID-3 has no personnummer or samordningsnummer (assigning authority "
        "1.2.752.129.2.1.3.1 or 1.2.752.129.2.1.3.3)"
    ).at("PID-3")


def _facility(sending_facility: str) -> MappedCode:
    if not _HSA_ID.fullmatch(sending_facility):
        raise SchemaViolation("sending facility must be an HSA-id").at("MSH-4")
    return _lookup("hl7v2-sending-facility", sending_facility, "MSH-4")


def _episode_type(patient_class: str) -> MappedCode | None:
    table = load_table("hl7v2-episode-type")
    return next((row for row in table.rows if row.code == patient_class), None)


def _lookup(table: str, code: str, location: str) -> MappedCode:
    try:
        return lookup(load_table(table), code)
    except TranslateError as error:
        raise error.at(location) from None
