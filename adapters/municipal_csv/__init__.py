"""Municipal home-care CSV export (docs/formats/municipal-csv.md) -> FHIR R4 resources.

`parse` reads a zip of the export's CSV files into records; `translate` turns them into
Organization, Patient, Practitioner(Role), CareTeam, Goal, CarePlan (SIP) and Encounter.
"""

from adapters.municipal_csv.parse import parse, parse_files, read_folder
from adapters.municipal_csv.records import MunicipalExport
from adapters.municipal_csv.translate import translate

__all__ = ["MunicipalExport", "parse", "parse_files", "read_folder", "translate"]
