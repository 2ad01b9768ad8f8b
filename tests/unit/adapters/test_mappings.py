"""Code tables: every row names its source; unmapped codes are explicit errors."""

import pytest

from adapters.identity import HSA_SYSTEM, PERSONNUMMER_SYSTEM, SAMORDNINGSNUMMER_SYSTEM
from mappings.loader import NoMapping, load_identifier_systems, load_table, table_names

RIVTA_TABLES = [
    "rivta-careplan-type",
    "kv-vardkontakttyp-encounter-class",
    "rivta-care-contact-status",
    "rivta-security-label",
    "hub-organization-kind",
]


@pytest.mark.parametrize("name", table_names())
def test_every_row_of_every_table_names_its_source(name: str) -> None:
    table = load_table(name)
    assert table.rows
    for row in table.rows:
        assert row.source.strip(), (name, row.code)
        assert row.target.system and row.target.code
    assert len({row.code for row in table.rows}) == len(table.rows)


def test_identifier_system_rows_name_their_source() -> None:
    for entry in load_identifier_systems().systems:
        assert entry.source.strip()


@pytest.mark.parametrize("name", RIVTA_TABLES)
def test_the_rivta_tables_exist(name: str) -> None:
    assert name in table_names()


def test_all_eight_care_plan_types_are_mapped_case_sensitively() -> None:
    table = load_table("rivta-careplan-type")
    assert {row.code for row in table.rows} == {
        "SIP",
        "SPLPTLRV",
        "SPU",
        "VP",
        "HP",
        "RP",
        "GP",
        "SVP",
    }
    with pytest.raises(NoMapping, match="'sip'"):
        table.lookup("sip")


def test_care_contact_status_follows_the_domain_table() -> None:
    table = load_table("rivta-care-contact-status")
    assert table.lookup("53661000052105").target.code == "finished"
    assert table.lookup("53691000052102").target.code == "entered-in-error"
    assert table.lookup_absent().target.code == "unknown"


def test_a_code_from_another_code_system_is_unmapped() -> None:
    with pytest.raises(NoMapping) as caught:
        load_table("kv-vardkontakttyp-encounter-class").lookup("1", system="1.2.3.4")
    assert caught.value.code_system == "1.2.3.4"


def test_besok_is_ambulatory_and_never_home_health() -> None:
    assert load_table("kv-vardkontakttyp-encounter-class").lookup("1").target.code == "AMB"


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("1.2.752.129.2.1.3.1", PERSONNUMMER_SYSTEM),
        ("urn:oid:1.2.752.129.2.1.3.3", SAMORDNINGSNUMMER_SYSTEM),
        ("urn:oid:1.2.752.29.4.19", HSA_SYSTEM),
        ("http://electronichealth.se/identifier/hsaid", HSA_SYSTEM),
    ],
)
def test_identifier_aliases_map_to_the_canonical_system(given: str, canonical: str) -> None:
    assert load_identifier_systems().canonical(given) == canonical


def test_an_unknown_identifier_oid_is_unmapped() -> None:
    with pytest.raises(NoMapping, match=r"1\.2\.752\.129\.2\.1\.3\.99"):
        load_identifier_systems().canonical("1.2.752.129.2.1.3.99")
