"""The ready-to-paste demo tour: `export` lines for each demo caller's token and, per user,
one patient whose clinical data that user sees (personnummer and Patient id).

The tokens are minted for the FHIR base URL the server answers on, so `hub serve --port
8001 --tour` (and `./scripts/run --port 8001`) prints tokens that work there.
"""

from __future__ import annotations

import shlex
from datetime import timedelta

from hub.demo.exports import demo_people
from hub.demo.load import demo_patient_id
from hub.demo.users import DEMO_CLIENTS
from hub.settings import Settings

__all__ = ["base_url_for", "tour_lines"]


def base_url_for(host: str, port: int) -> str:
    """The FHIR base URL of a server listening on host:port (0.0.0.0 is reached as 127.0.0.1)."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/fhir"


def tour_lines(
    settings: Settings,
    base_url: str,
    *,
    patients: int = 12,
    seed: int = 0,
    lifetime: timedelta = timedelta(hours=8),
) -> list[str]:
    """Shell lines to paste: B (the base URL), a token per caller, a patient per user."""
    from hub.auth.cli import demo_tokens

    audience = settings.token_audience or settings.base_url or base_url
    hours = lifetime.total_seconds() / 3600
    lines = [
        f"# Demo tour: paste these lines into a shell (tokens for {audience}, {hours:g} h).",
        f"export B={shlex.quote(settings.base_url or base_url)}",
    ]
    tokens = (
        [token for _, token in demo_tokens(settings, lifetime, audience=audience)]
        if settings.auth != "off"
        else [""] * len(DEMO_CLIENTS)
    )
    people = demo_people(patients, seed)
    taken: set[int] = set()
    for client, token in zip(DEMO_CLIENTS, tokens, strict=True):
        lines.append(f"# {client.label}")
        if settings.auth != "off":
            lines.append(f"export {client.variable}={token}")
        if client.sees is None:
            continue
        visible = [i for i in range(patients) if client.sees(i, patients)]
        fresh = [i for i in visible if i not in taken] or visible
        if not fresh:
            lines.append(f"#   (no patient of this {patients}-patient demo for this user)")
            continue
        index = fresh[0]
        taken.add(index)
        person = people[index]
        pid = demo_patient_id(person, settings.patient_id_secret)
        lines.append(
            f"export {client.variable}_PNR={person.number} {client.variable}_PATIENT={pid}"
        )
    lines += [
        "# For example:",
        '#   curl -s -H "Authorization: Bearer $NURSE" '
        '"$B/Patient?identifier=http://electronichealth.se/identifier/personnummer|$NURSE_PNR"',
        '#   curl -s -H "Authorization: Bearer $PHYSICIAN" '
        '"$B/Patient/$PHYSICIAN_PATIENT/\\$everything"',
    ]
    return lines
