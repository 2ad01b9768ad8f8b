"""Writes the validation corpus: valid/*.json and invalid/*.json, plus expected.json naming the
exact issue each invalid resource must raise (severity, code, expression, rule).

Run from the repository root: `python tests/validation/corpus/make_corpus.py`. The files it
writes are committed; review a change as a diff. Personal identity numbers are synthetic
(Skatteverket's test number 19121212-1212 and numbers generated with a valid check digit).
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
B = "https://hub.example.se/fhir"
SD = f"{B}/StructureDefinition/"
PNR = "http://electronichealth.se/identifier/personnummer"
SNR = "http://electronichealth.se/identifier/samordningsnummer"
HSA = "urn:oid:1.2.752.129.2.1.4.1"
ROLE = f"{B}/CodeSystem/care-team-role"
PT = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"


def luhn(nine: str) -> str:
    total = 0
    for i, ch in enumerate(nine):
        product = int(ch) * (2 if i % 2 == 0 else 1)
        total += product - 9 if product > 9 else product
    return str((10 - total % 10) % 10)


def number(date: str, serial: str) -> str:
    """12-digit number from YYYYMMDD and NNN (day + 60 for a samordningsnummer)."""
    return date + serial + luhn(date[2:] + serial)


def patient(system: str, value: str, pid: str = "p1") -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": pid,
        "meta": {"profile": [SD + "hub-patient"]},
        "identifier": [{"system": system, "value": value}],
        "name": [{"family": "Tolvansson", "given": ["Tolvan"]}],
        "gender": "male",
        "birthDate": "1912-12-12",
    }


def coding(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def sip() -> dict[str, Any]:
    return {
        "resourceType": "CarePlan",
        "id": "sip1",
        "meta": {"profile": [SD + "hub-sip-careplan"]},
        "extension": [
            {
                "url": SD + "sip-overall-responsibility",
                "valueReference": {"reference": "Organization/kommun"},
            },
            {"url": SD + "sip-follow-up-date", "valueDate": "2025-04-21"},
        ],
        "status": "active",
        "intent": "plan",
        "category": [coding(f"{B}/CodeSystem/care-plan-type", "SIP")],
        "title": "SIP efter utskrivning",
        "subject": {"reference": "Patient/p1"},
        "period": {"start": "2025-03-10"},
        "careTeam": [{"reference": "CareTeam/team1"}],
        "activity": [
            {
                "detail": {
                    "extension": [
                        {
                            "url": SD + "sip-activity-responsible-huvudman",
                            "valueReference": {"reference": "Organization/kommun"},
                        }
                    ],
                    "status": "in-progress",
                    "description": "Rollator",
                }
            }
        ],
    }


def careteam() -> dict[str, Any]:
    def member(ref: str, *codes: str) -> dict[str, Any]:
        return {"role": [coding(ROLE, c) for c in codes], "member": {"reference": ref}}

    return {
        "resourceType": "CareTeam",
        "id": "team1",
        "meta": {"profile": [SD + "hub-careteam"]},
        "status": "active",
        "subject": {"reference": "Patient/p1"},
        "participant": [
            member("Practitioner/nurse", "fast-vardkontakt", "samordnande-vardkontakt"),
            member("Practitioner/gp", "fast-lakarkontakt", "fast-vardkontakt"),
            member("Practitioner/helper", "fast-omsorgskontakt"),
        ],
    }


KV = {
    "1": ("AMB", "http://terminology.hl7.org/CodeSystem/v3-ActCode"),
    "2": ("VR", "http://terminology.hl7.org/CodeSystem/v3-ActCode"),
    "3": ("IMP", "http://terminology.hl7.org/CodeSystem/v3-ActCode"),
    "4": ("SS", "http://terminology.hl7.org/CodeSystem/v3-ActCode"),
    "5": ("OTH", "http://terminology.hl7.org/CodeSystem/v3-NullFlavor"),
}


def encounter(kv: str = "1") -> dict[str, Any]:
    code, system = KV[kv]
    return {
        "resourceType": "Encounter",
        "id": "enc1",
        "meta": {"profile": [SD + "hub-encounter"]},
        "status": "finished",
        "class": {"system": system, "code": code},
        "type": [coding("urn:oid:1.2.752.129.2.2.2.25", kv)],
        "subject": {"reference": "Patient/p1"},
        "period": {"start": "2025-03-30T03:30:00+02:00", "end": "2025-03-30T03:45:00+02:00"},
        "serviceProvider": {"reference": "Organization/unit"},
    }


def episode() -> dict[str, Any]:
    return {
        "resourceType": "EpisodeOfCare",
        "id": "eoc1",
        "meta": {"profile": [SD + "hub-episodeofcare"]},
        "status": "active",
        "type": [coding(f"{B}/CodeSystem/episode-of-care-type", "utskrivningsplanering")],
        "patient": {"reference": "Patient/p1"},
        "managingOrganization": {"reference": "Organization/unit"},
        "period": {"start": "2025-03-01"},
    }


def consent(kind: str = "permit", role: str = "IRCP") -> dict[str, Any]:
    return {
        "resourceType": "Consent",
        "id": "c1",
        "meta": {"profile": [SD + "hub-consent"]},
        "status": "active",
        "scope": coding("http://terminology.hl7.org/CodeSystem/consentscope", "patient-privacy"),
        "category": [coding("http://loinc.org", "59284-0")],
        "patient": {"reference": "Patient/p1"},
        "policyRule": coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "OPTIN"),
        "provision": {
            "type": kind,
            "actor": [{"role": coding(PT, role), "reference": {"reference": "Organization/unit"}}],
        },
    }


def organization() -> dict[str, Any]:
    return {
        "resourceType": "Organization",
        "id": "unit",
        "identifier": [{"system": HSA, "value": "SE2120000001-1001"}],
        "active": True,
        "name": "Hemsjukvård Väster",
        "telecom": [{"system": "phone", "value": "019-000000", "use": "work"}],
    }


def observation() -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": "obs1",
        "status": "final",
        "code": coding("http://loinc.org", "8867-4"),
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2025-03-10T10:00:00+01:00",
        "valueQuantity": {
            "value": 72,
            "unit": "/min",
            "system": "http://unitsofmeasure.org",
            "code": "/min",
        },
    }


def main() -> None:
    valid: dict[str, dict[str, Any]] = {}
    invalid: dict[str, tuple[dict[str, Any], dict[str, str]]] = {}

    def bad(
        name: str, resource: dict[str, Any], severity: str, code: str, expression: str, rule: str
    ) -> None:
        invalid[name] = (
            resource,
            {"severity": severity, "code": code, "expression": expression, "rule": rule},
        )

    # -- valid -------------------------------------------------------------------------
    valid["patient-testnumber"] = patient(PNR, "191212121212")
    for i, (date, serial) in enumerate(
        [
            ("19450101", "123"),
            ("19380512", "234"),
            ("19291230", "345"),
            ("20010228", "456"),
            ("19520229", "567"),
            ("19671111", "678"),
            ("19330707", "789"),
            ("19400919", "890"),
            ("19500315", "901"),
            ("19270620", "012"),
        ]
    ):
        valid[f"patient-personnummer-{i:02d}"] = patient(PNR, number(date, serial), f"p{i}")
        snr_date = date[:6] + str(int(date[6:]) + 60)
        valid[f"patient-samordningsnummer-{i:02d}"] = patient(
            SNR, number(snr_date, serial), f"s{i}"
        )
    valid["patient-samordningsnummer-testnumber"] = patient(SNR, "191212721219")
    valid["sip-careplan"] = sip()
    no_follow_up = sip()
    no_follow_up["extension"] = no_follow_up["extension"][:1]
    valid["sip-careplan-no-follow-up-date"] = no_follow_up  # hub-sip-2 is a warning
    valid["careteam"] = careteam()
    for kv in KV:
        valid[f"encounter-kv-{kv}"] = encounter(kv)
    municipal = encounter()
    del municipal["type"]
    municipal["class"] = {
        "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
        "code": "HH",
    }
    valid["encounter-home-visit-no-kv-type"] = municipal
    valid["episodeofcare"] = episode()
    valid["consent-permit"] = consent()
    valid["consent-deny"] = consent("deny", "CST")
    valid["organization"] = organization()
    valid["observation"] = observation()
    no_profile = patient(PNR, "191212121212")
    del no_profile["meta"]
    valid["patient-base-only"] = no_profile

    # -- invalid: the hub's profiles ----------------------------------------------------
    bad(
        "patient-personnummer-check-digit",
        patient(PNR, "191212121213"),
        "error",
        "invariant",
        "Patient.identifier[0]",
        "hub-pnr-2",
    )
    bad(
        "patient-personnummer-month-13",
        patient(PNR, number("19121312", "121")),
        "error",
        "invariant",
        "Patient.identifier[0]",
        "hub-pnr-1",
    )
    bad(
        "patient-personnummer-day-32",
        patient(PNR, number("19121232", "121")),
        "error",
        "invariant",
        "Patient.identifier[0]",
        "hub-pnr-1",
    )
    bad(
        "patient-personnummer-ten-digits",
        patient(PNR, "1212121212"),
        "error",
        "invariant",
        "Patient.identifier[0]",
        "hub-pnr-1",
    )
    bad(
        "patient-samordningsnummer-as-personnummer",
        patient(PNR, "191212721219"),
        "error",
        "invariant",
        "Patient.identifier[0]",
        "hub-pnr-1",
    )
    bad(
        "patient-personnummer-as-samordningsnummer",
        patient(SNR, "191212121212"),
        "error",
        "invariant",
        "Patient.identifier[0]",
        "hub-snr-1",
    )
    bad(
        "patient-samordningsnummer-check-digit",
        patient(SNR, "191212721218"),
        "error",
        "invariant",
        "Patient.identifier[0]",
        "hub-snr-2",
    )
    for i, serial in enumerate(["111", "222", "333", "444", "555"]):
        good = number("19700101", serial)
        wrong = good[:-1] + str((int(good[-1]) + 1 + i) % 10)
        bad(
            f"patient-personnummer-check-digit-{i}",
            patient(PNR, wrong),
            "error",
            "invariant",
            "Patient.identifier[0]",
            "hub-pnr-2",
        )
    both = patient(PNR, "191212121212")
    both["identifier"].append({"system": SNR, "value": "191212721219"})
    bad("patient-two-person-identifiers", both, "error", "invariant", "Patient", "hub-pat-1")
    none = patient("urn:oid:1.2.752.129.2.1.4.1", "SE2120000001-1")
    bad("patient-no-person-identifier", none, "error", "invariant", "Patient", "hub-pat-1")
    two = patient(PNR, "191212121212")
    two["identifier"].append({"system": PNR, "value": number("19450101", "123")})
    bad(
        "patient-two-personnummer",
        two,
        "error",
        "structure",
        "Patient.identifier",
        "max:Patient.identifier:personnummer",
    )
    no_value = patient(PNR, "191212121212")
    del no_value["identifier"][0]["value"]
    bad(
        "patient-personnummer-without-value",
        no_value,
        "error",
        "required",
        "Patient.identifier[0].value",
        "min:Patient.identifier:personnummer.value",
    )
    no_ids = patient(PNR, "191212121212")
    del no_ids["identifier"]
    bad(
        "patient-without-identifier",
        no_ids,
        "error",
        "required",
        "Patient.identifier",
        "min:Patient.identifier",
    )

    s = sip()
    s["extension"] = s["extension"][1:]
    bad(
        "sip-without-overall-responsibility",
        s,
        "error",
        "required",
        "CarePlan.extension",
        "min:CarePlan.extension:overallResponsibility",
    )
    s = sip()
    del s["extension"]
    bad(
        "sip-without-extensions",
        s,
        "error",
        "required",
        "CarePlan.extension",
        "min:CarePlan.extension:overallResponsibility",
    )
    s = sip()
    s["extension"].append(copy.deepcopy(s["extension"][0]))
    bad(
        "sip-two-overall-responsibilities",
        s,
        "error",
        "structure",
        "CarePlan.extension",
        "max:CarePlan.extension:overallResponsibility",
    )
    s = sip()
    s["category"] = [coding(f"{B}/CodeSystem/care-plan-type", "VP")]
    bad(
        "sip-category-vardplan",
        s,
        "error",
        "required",
        "CarePlan.category",
        "min:CarePlan.category:sip",
    )
    s = sip()
    del s["category"]
    bad(
        "sip-without-category", s, "error", "required", "CarePlan.category", "min:CarePlan.category"
    )
    s = sip()
    del s["activity"][0]["detail"]["extension"]
    bad("sip-activity-without-huvudman", s, "error", "invariant", "CarePlan", "hub-sip-1")
    s = sip()
    del s["period"]
    bad("sip-without-period", s, "error", "required", "CarePlan.period", "min:CarePlan.period")
    s = sip()
    s["period"] = {"end": "2025-06-01"}
    bad(
        "sip-without-start",
        s,
        "error",
        "required",
        "CarePlan.period.start",
        "min:CarePlan.period.start",
    )
    s = sip()
    s["subject"] = {"reference": "Group/g1"}
    bad(
        "sip-subject-group",
        s,
        "error",
        "structure",
        "CarePlan.subject.reference",
        "type:CarePlan.subject",
    )
    s = sip()
    s["extension"][1]["valueString"] = s["extension"][1].pop("valueDate")
    bad(
        "sip-follow-up-date-as-string",
        s,
        "error",
        "structure",
        "CarePlan.extension[1].valueString",
        "unknown-element",
    )
    s = sip()
    s["status"] = "ongoing"
    bad(
        "sip-status-unknown",
        s,
        "error",
        "code-invalid",
        "CarePlan.status",
        "binding:CarePlan.status",
    )

    t = careteam()
    t["participant"][1]["role"].append(coding(ROLE, "samordnande-vardkontakt"))
    bad("careteam-two-coordinating", t, "error", "invariant", "CareTeam", "hub-ct-1")
    t = careteam()
    t["participant"][0]["role"] = [coding(ROLE, "fast-vardkontakt")]
    bad("careteam-no-coordinating", t, "error", "invariant", "CareTeam", "hub-ct-1")
    t = careteam()
    t["participant"][0]["role"] = [coding(ROLE, "samordnande-vardkontakt")]
    bad("careteam-coordinating-not-fast", t, "error", "invariant", "CareTeam", "hub-ct-2")
    t = careteam()
    del t["subject"]
    bad(
        "careteam-without-subject",
        t,
        "error",
        "required",
        "CareTeam.subject",
        "min:CareTeam.subject",
    )
    t = careteam()
    del t["participant"][2]["member"]
    bad(
        "careteam-participant-without-member",
        t,
        "error",
        "required",
        "CareTeam.participant[2].member",
        "min:CareTeam.participant.member",
    )
    t = careteam()
    t["status"] = "running"
    bad(
        "careteam-status-unknown",
        t,
        "error",
        "code-invalid",
        "CareTeam.status",
        "binding:CareTeam.status",
    )
    t = careteam()
    t["participant"][2]["role"] = [coding(ROLE, "kontaktperson")]
    bad(
        "careteam-role-not-in-codesystem",
        t,
        "error",
        "code-invalid",
        "CareTeam.participant[2].role[0].coding[0].code",
        f"code-system:{ROLE}",
    )

    for kv in ("0", "6", "9"):
        e = encounter()
        e["type"] = [coding("urn:oid:1.2.752.129.2.2.2.25", kv)]
        bad(
            f"encounter-kv-type-{kv}",
            e,
            "error",
            "code-invalid",
            "Encounter.type[0]",
            "binding:Encounter.type:kvVardkontakttyp",
        )
    e = encounter()
    e["type"].append(coding("urn:oid:1.2.752.129.2.2.2.25", "2"))
    bad(
        "encounter-two-kv-types",
        e,
        "error",
        "structure",
        "Encounter.type",
        "max:Encounter.type:kvVardkontakttyp",
    )
    e = encounter()
    e["class"] = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "FLD"}
    bad(
        "encounter-class-field",
        e,
        "error",
        "code-invalid",
        "Encounter.class",
        "binding:Encounter.class",
    )
    e = encounter()
    e["class"] = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "HOME"}
    bad(
        "encounter-class-not-a-code",
        e,
        "error",
        "code-invalid",
        "Encounter.class.code",
        "code-system:http://terminology.hl7.org/CodeSystem/v3-ActCode",
    )
    e = encounter()
    e["period"] = {"start": "2025-03-30T10:00:00+02:00", "end": "2025-03-30T09:00:00+02:00"}
    bad("encounter-ends-before-start", e, "error", "invariant", "Encounter.period", "per-1")
    e = encounter()
    del e["subject"]
    bad(
        "encounter-without-subject",
        e,
        "error",
        "required",
        "Encounter.subject",
        "min:Encounter.subject",
    )
    e = encounter()
    del e["period"]
    bad(
        "encounter-without-period",
        e,
        "error",
        "required",
        "Encounter.period",
        "min:Encounter.period",
    )
    e = encounter()
    e["period"] = {"end": "2025-03-30T09:00:00+02:00"}
    bad("encounter-finished-without-start", e, "error", "invariant", "Encounter", "hub-enc-1")
    e = encounter()
    e["subject"] = {"reference": "Organization/unit"}
    bad(
        "encounter-subject-organization",
        e,
        "error",
        "structure",
        "Encounter.subject.reference",
        "type:Encounter.subject",
    )
    e = encounter()
    e["status"] = "done"
    bad(
        "encounter-status-unknown",
        e,
        "error",
        "code-invalid",
        "Encounter.status",
        "binding:Encounter.status",
    )
    e = encounter()
    e["period"]["start"] = "2025-03-30 03:30"
    bad(
        "encounter-start-not-datetime",
        e,
        "error",
        "structure",
        "Encounter.period.start",
        "type:dateTime",
    )
    e = encounter()
    e["class"] = [e["class"]]
    bad(
        "encounter-class-as-array",
        e,
        "error",
        "structure",
        "Encounter.class",
        "max:Encounter.class",
    )

    ep = episode()
    del ep["managingOrganization"]
    bad(
        "episode-without-managing-organization",
        ep,
        "error",
        "required",
        "EpisodeOfCare.managingOrganization",
        "min:EpisodeOfCare.managingOrganization",
    )
    ep = episode()
    del ep["type"]
    bad(
        "episode-without-type",
        ep,
        "error",
        "required",
        "EpisodeOfCare.type",
        "min:EpisodeOfCare.type",
    )
    ep = episode()
    ep["period"] = {"end": "2025-06-01"}
    bad(
        "episode-without-start",
        ep,
        "error",
        "required",
        "EpisodeOfCare.period.start",
        "min:EpisodeOfCare.period.start",
    )
    ep = episode()
    ep["status"] = "open"
    bad(
        "episode-status-unknown",
        ep,
        "error",
        "code-invalid",
        "EpisodeOfCare.status",
        "binding:EpisodeOfCare.status",
    )
    ep = episode()
    ep["patient"] = {"reference": "Practitioner/nurse"}
    bad(
        "episode-patient-practitioner",
        ep,
        "error",
        "structure",
        "EpisodeOfCare.patient.reference",
        "type:EpisodeOfCare.patient",
    )

    c = consent("deny", "IRCP")
    bad("consent-deny-with-reader", c, "error", "invariant", "Consent", "hub-cons-2")
    c = consent("permit", "CST")
    bad("consent-permit-without-reader", c, "error", "invariant", "Consent", "hub-cons-1")
    c = consent()
    c["scope"] = coding("http://terminology.hl7.org/CodeSystem/consentscope", "research")
    bad("consent-scope-research", c, "error", "value", "Consent.scope", "pattern:Consent.scope")
    c = consent()
    c["provision"]["actor"][0]["role"] = coding(PT, "AUT")
    bad(
        "consent-actor-author",
        c,
        "error",
        "code-invalid",
        "Consent.provision.actor[0].role",
        "binding:Consent.provision.actor.role",
    )
    c = consent()
    del c["provision"]
    bad(
        "consent-without-provision",
        c,
        "error",
        "required",
        "Consent.provision",
        "min:Consent.provision",
    )
    c = consent()
    del c["policyRule"]
    bad("consent-without-policy", c, "error", "invariant", "Consent", "ppc-1")
    c = consent()
    c["provision"]["actor"][0]["reference"] = {"reference": "Patient/p1"}
    bad(
        "consent-actor-patient",
        c,
        "error",
        "structure",
        "Consent.provision.actor[0].reference.reference",
        "type:Consent.provision.actor.reference",
    )

    # -- invalid: base R4 rules (no profile) ------------------------------------------------
    base = copy.deepcopy(no_profile)
    p = copy.deepcopy(base)
    p["gender"] = "man"
    bad(
        "base-patient-gender-man",
        p,
        "error",
        "code-invalid",
        "Patient.gender",
        "binding:Patient.gender",
    )
    p = copy.deepcopy(base)
    p["birthDate"] = "1912-13-12"
    bad(
        "base-patient-birthdate-month-13", p, "error", "structure", "Patient.birthDate", "type:date"
    )
    p = copy.deepcopy(base)
    p["birthDate"] = "19121212"
    bad(
        "base-patient-birthdate-no-dashes",
        p,
        "error",
        "structure",
        "Patient.birthDate",
        "type:date",
    )
    p = copy.deepcopy(base)
    p["active"] = "true"
    bad(
        "base-patient-active-string",
        p,
        "error",
        "structure",
        "Patient.active",
        "type:Patient.active",
    )
    p = copy.deepcopy(base)
    p["favouriteColour"] = "blue"
    bad(
        "base-patient-unknown-element",
        p,
        "error",
        "structure",
        "Patient.favouriteColour",
        "unknown-element",
    )
    p = copy.deepcopy(base)
    p["name"] = {"family": "Tolvansson"}
    bad("base-patient-name-not-array", p, "error", "structure", "Patient.name", "type:Patient.name")
    p = copy.deepcopy(base)
    p["name"][0]["family"] = ["Tolvansson"]
    bad(
        "base-patient-family-array",
        p,
        "error",
        "structure",
        "Patient.name[0].family",
        "max:HumanName.family",
    )
    p = copy.deepcopy(base)
    p["name"][0]["family"] = ""
    bad("base-patient-empty-family", p, "error", "structure", "Patient.name[0].family", "ele-1")
    p = copy.deepcopy(base)
    p["name"][0]["given"] = []
    bad("base-patient-empty-given", p, "error", "structure", "Patient.name[0].given", "ele-1")
    p = copy.deepcopy(base)
    p["telecom"] = [{}]
    bad("base-patient-empty-telecom", p, "error", "structure", "Patient.telecom[0]", "ele-1")
    p = copy.deepcopy(base)
    p["telecom"] = [{"value": "019-000000"}]
    bad(
        "base-patient-telecom-without-system",
        p,
        "error",
        "invariant",
        "Patient.telecom[0]",
        "cpt-2",
    )
    p = copy.deepcopy(base)
    p["deceasedBoolean"] = True
    p["deceasedDateTime"] = "2020-01-01"
    bad("base-patient-two-deceased", p, "error", "structure", "Patient.deceasedDateTime", "max")
    p = copy.deepcopy(base)
    p["contact"] = [{"gender": "female"}]
    bad(
        "base-patient-contact-without-details",
        p,
        "error",
        "invariant",
        "Patient.contact[0]",
        "pat-1",
    )
    p = copy.deepcopy(base)
    p["id"] = "bad id!"
    bad("base-patient-bad-id", p, "error", "structure", "Patient.id", "type:id")
    p = copy.deepcopy(base)
    p["extension"] = [{"url": "http://example.org/x"}]
    bad(
        "base-patient-extension-without-value",
        p,
        "error",
        "invariant",
        "Patient.extension[0]",
        "ext-1",
    )
    p = copy.deepcopy(base)
    p["multipleBirthInteger"] = 1.5
    bad(
        "base-patient-multiple-birth-decimal",
        p,
        "error",
        "structure",
        "Patient.multipleBirthInteger",
        "type:Patient.multipleBirth[x]",
    )
    p = copy.deepcopy(base)
    p["maritalStatus"] = coding("http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", "Q")
    bad(
        "base-patient-marital-status-unknown",
        p,
        "error",
        "code-invalid",
        "Patient.maritalStatus.coding[0].code",
        "code-system:http://terminology.hl7.org/CodeSystem/v3-MaritalStatus",
    )
    p = copy.deepcopy(base)
    p["communication"] = [{"preferred": True}]
    bad(
        "base-patient-communication-without-language",
        p,
        "error",
        "required",
        "Patient.communication[0].language",
        "min:Patient.communication.language",
    )
    o = organization()
    o["telecom"][0]["system"] = "telefon"
    bad(
        "base-organization-telecom-system",
        o,
        "error",
        "code-invalid",
        "Organization.telecom[0].system",
        "binding:ContactPoint.system",
    )
    o = organization()
    del o["identifier"]
    del o["name"]
    bad(
        "base-organization-without-name-or-identifier",
        o,
        "error",
        "invariant",
        "Organization",
        "org-1",
    )
    o = organization()
    o["address"] = [{"use": "work"}]
    o["address"][0]["use"] = "office"
    bad(
        "base-organization-address-use",
        o,
        "error",
        "code-invalid",
        "Organization.address[0].use",
        "binding:Address.use",
    )
    ob = observation()
    del ob["status"]
    bad(
        "base-observation-without-status",
        ob,
        "error",
        "required",
        "Observation.status",
        "min:Observation.status",
    )
    ob = observation()
    del ob["code"]
    bad(
        "base-observation-without-code",
        ob,
        "error",
        "required",
        "Observation.code",
        "min:Observation.code",
    )
    ob = observation()
    ob["valueQuantity"]["value"] = "72"
    bad(
        "base-observation-value-string",
        ob,
        "error",
        "structure",
        "Observation.valueQuantity.value",
        "type:Quantity.value",
    )
    ob = observation()
    ob["valueQuantity"]["comparator"] = "=="
    bad(
        "base-observation-comparator",
        ob,
        "error",
        "code-invalid",
        "Observation.valueQuantity.comparator",
        "binding:Quantity.comparator",
    )
    ob = observation()
    ob["effectivePeriod"] = {"start": "2025-03-10", "end": "2025-03-01"}
    del ob["effectiveDateTime"]
    bad(
        "base-observation-period-reversed",
        ob,
        "error",
        "invariant",
        "Observation.effectivePeriod",
        "per-1",
    )
    ob = observation()
    ob["dataAbsentReason"] = coding(
        "http://terminology.hl7.org/CodeSystem/data-absent-reason", "unknown"
    )
    bad(
        "base-observation-value-and-absent-reason", ob, "error", "invariant", "Observation", "obs-6"
    )
    ob = observation()
    ob["referenceRange"] = [{"text": "normal"}]
    ob["referenceRange"] = [{"appliesTo": [coding("http://snomed.info/sct", "248153007")]}]
    bad(
        "base-observation-reference-range-empty",
        ob,
        "error",
        "invariant",
        "Observation.referenceRange[0]",
        "obs-3",
    )
    ob = observation()
    ob["subject"] = {"reference": "Medication/m1"}
    bad(
        "base-observation-subject-medication",
        ob,
        "error",
        "structure",
        "Observation.subject.reference",
        "type:Observation.subject",
    )
    ob = observation()
    ob["resourceType"] = "Observaton"
    bad("base-unknown-resource-type", ob, "error", "structure", "resourceType", "type")
    ob = observation()
    ob["text"] = {
        "status": "generated",
        "div": '<div xmlns="http://www.w3.org/1999/xhtml"><script>x</script></div>',
    }
    bad(
        "base-observation-narrative-script",
        ob,
        "error",
        "invariant",
        "Observation.text.div",
        "txt-1",
    )

    for folder in ("valid", "invalid"):
        shutil.rmtree(HERE / folder, ignore_errors=True)
        (HERE / folder).mkdir()
    for name, resource in valid.items():
        (HERE / "valid" / f"{name}.json").write_text(
            json.dumps(resource, ensure_ascii=False, indent=1) + "\n", "utf-8"
        )
    expected = {}
    for name, (resource, issue) in invalid.items():
        (HERE / "invalid" / f"{name}.json").write_text(
            json.dumps(resource, ensure_ascii=False, indent=1) + "\n", "utf-8"
        )
        expected[f"{name}.json"] = issue
    (HERE / "expected.json").write_text(
        json.dumps(expected, ensure_ascii=False, indent=1, sort_keys=True) + "\n", "utf-8"
    )
    print(f"{len(valid)} valid, {len(invalid)} invalid")


if __name__ == "__main__":
    main()
