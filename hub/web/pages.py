"""Routes of the clinician page (Swedish, server-rendered, usable without JavaScript).

    GET  /                          sign-in, or the search page when signed in
    POST /logga-in, /logga-ut       sign in with a token (or a demo user), sign out
    GET  /sok?q=                    search by personnummer (checked) or name
    GET  /patient/{id}              the overview
    GET  /patient/{id}/utskrift     the print view
    POST /patient/{id}/samtycke     record the patient's consent for the reader's unit
    POST /patient/{id}/nodatkomst   open emergency access (reason, time-boxed, logged)
    GET  /arbetslista?inom=7        the unit's follow-ups due
    GET  /static/hub.css            the one style sheet

Reads go through `Access` (hub/access/guard.py), the consent through the FHIR write path.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from adapters.errors import AdapterError, CenturyNotWritten
from adapters.identity import parse_person_identity
from consent.records import consent_actor, privacy_consent
from hub.access.emergency import open_emergency_access
from hub.auth import Principal
from hub.errors import Forbidden, HubError, InvalidRequest, NotFound, Unauthorized
from hub.fhir_api.http import fhir_base_url
from hub.fhir_api.interactions import ApiContext, check_id, dispatch
from hub.fhir_api.messages import FhirRequest
from hub.fhir_api.routes import _context
from hub.fhir_dates import STOCKHOLM
from hub.overview.document import notice_text
from hub.overview.model import person_name
from hub.overview.routes import find_patient, load_overview, parse_within
from hub.overview.worklist import follow_up_due
from hub.search.query import parse_search
from hub.settings import Settings
from hub.web.session import (
    COOKIE,
    DEMO_USERS,
    SESSION_HOURS,
    csrf_token,
    demo_token,
    require_csrf,
    session_token,
)
from mappings.systems import HSA_SYSTEM

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
_HERE = Path(__file__).resolve().parent
_TEMPLATES = Environment(
    loader=FileSystemLoader(_HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_CSS = (_HERE / "static" / "hub.css").read_bytes()


def _system(uri: str) -> str:
    """A source system URI as its last segment (the hub's source URIs end in the HSA-id)."""
    return uri.rstrip("/").rsplit("/", 1)[-1]


def _pnr(value: str) -> str:
    """YYYYMMDD-NNNN for a 12-digit personnummer or samordningsnummer."""
    return f"{value[:8]}-{value[8:]}" if len(value) == 12 and value.isdigit() else value


_TEMPLATES.filters["system"] = _system
_TEMPLATES.filters["pnr"] = _pnr
_TEMPLATES.globals["notice_text"] = notice_text
_PNR_LIKE = re.compile(r"^\s*\d{6,8}\s*[-+]?\s*\d{4}\s*$")
_MAX_FORM = 4096
_HSA = HSA_SYSTEM
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
ROLE_LABEL = {"user": "Personal", "representative": "Anhörig/företrädare", "system": "System"}


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _principal(request: Request) -> Principal | None:
    """The signed-in reader; Unauthorized without a valid session (HUB_AUTH=off: None)."""
    authenticator = request.app.state.authenticator
    if not authenticator.enabled:
        return None
    token = session_token(request)
    if token is None:
        raise Unauthorized("Sign in first")
    principal: Principal = authenticator.verify_token(token, fhir_base_url(request))
    return principal


def _reader_label(principal: Principal | None) -> str:
    if principal is None:
        return "Utan inloggning (HUB_AUTH=off)"
    for user in DEMO_USERS:
        if user.subject == principal.subject and user.care_unit == principal.care_unit:
            return user.label
    unit = f", enhet {principal.care_unit}" if principal.care_unit else ""
    return f"{ROLE_LABEL.get(principal.kind, principal.kind)} {principal.subject}{unit}"


def _render(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    session = session_token(request)
    values.setdefault("csrf", csrf_token(_settings(request), session) if session else "")
    html = _TEMPLATES.get_template(template).render(**values)
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def _error_page(request: Request, error: HubError) -> HTMLResponse:
    messages = {
        400: "Uppgiften kunde inte användas.",
        401: "Du behöver logga in.",
        403: "Du har inte behörighet till detta.",
        404: "Hittades inte (eller så har du inte rätt att se det).",
    }
    if isinstance(error, Unauthorized):
        return _render(
            request,
            "signin.html",
            401,
            demo_users=_demo_users(request),
            message="Logga in för att fortsätta.",
            signed_in=False,
        )
    return _render(
        request,
        "error.html",
        error.status,
        title=messages.get(error.status, "Något gick fel."),
        detail=error.message if error.status in (400, 403) else None,
        signed_in=session_token(request) is not None,
    )


def _demo_users(request: Request) -> list[Any]:
    return list(DEMO_USERS) if _settings(request).web_demo_users else []


def _ctx(request: Request) -> tuple[ApiContext, Principal | None]:
    principal = _principal(request)
    request.app.state.assignments.verify(principal)  # the unit must be the provider's
    return _context(request, principal), principal


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=HEADERS)


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > _MAX_FORM:
        raise InvalidRequest("The form is too large")
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise InvalidRequest("Send the form as application/x-www-form-urlencoded")
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def _same_site(request: Request) -> None:
    """A sign-in form is accepted only from this site (no login CSRF)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise Forbidden("Sign in from the hub's own page")
    origin = request.headers.get("origin")
    if origin and origin != "null":
        own = f"{request.url.scheme}://{request.url.netloc}"
        if origin != own:
            raise Forbidden("Sign in from the hub's own page")


# -- pages ----------------------------------------------------------------------------------


@router.get("/static/hub.css")
def stylesheet() -> Response:
    return Response(_CSS, media_type="text/css", headers={"Cache-Control": "max-age=3600"})


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    try:
        principal = _principal(request)
    except HubError:
        return _render(request, "signin.html", demo_users=_demo_users(request), signed_in=False)
    return _render(
        request,
        "search.html",
        reader=_reader_label(principal),
        signed_in=True,
        query="",
        results=None,
        message=None,
        is_user=principal is None or principal.kind == "user",
    )


@router.post("/logga-in")
async def sign_in(request: Request) -> Response:
    try:
        _same_site(request)
        form = await _form(request)
        settings = _settings(request)
        token = form.get("token", "").strip()
        demo = form.get("demo")
        if demo:
            user = next((u for u in DEMO_USERS if u.key == demo), None)
            if user is None or not settings.web_demo_users:
                raise Forbidden("Demo users are not offered here")
            token = demo_token(settings, user, fhir_base_url(request))
        if not token:
            raise Unauthorized("A token is required")
        request.app.state.authenticator.verify_token(token, fhir_base_url(request))
    except HubError as error:
        if isinstance(error, Unauthorized):
            return _render(
                request,
                "signin.html",
                401,
                demo_users=_demo_users(request),
                message="Inloggningen misslyckades: kontrollera din token.",
                signed_in=False,
            )
        return _error_page(request, error)
    response = _see_other("/")
    response.set_cookie(
        COOKIE,
        token,
        max_age=SESSION_HOURS * 3600,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logga-ut")
async def sign_out(request: Request) -> Response:
    try:
        form = await _form(request)
        require_csrf(request, _settings(request), form.get("csrf"))
    except HubError as error:
        return _error_page(request, error)
    response = _see_other("/")
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/sok", response_class=HTMLResponse)
def search(request: Request, q: str = "") -> Response:
    try:
        ctx, principal = _ctx(request)
        query = q.strip()[:100]
        results: list[dict[str, Any]] = []
        message = None
        if _PNR_LIKE.match(query):
            try:
                identity = parse_person_identity(query.replace(" ", ""))
            except CenturyNotWritten:
                message = (
                    "Skriv personnumret med århundrade (ÅÅÅÅMMDD-NNNN) eller med skiljetecken "
                    "(ÅÅMMDD-NNNN, + i stället för - från 100 år)."
                )
            except AdapterError:
                message = (
                    "Personnumret är inte giltigt: datumet eller kontrollsiffran stämmer inte."
                )
            else:
                try:
                    patient_id = find_patient(
                        ctx.access, ctx.registry, identity.system, identity.value
                    )
                except NotFound:
                    message = "Ingen patient med det personnumret finns i hubben."
                else:
                    return _see_other(f"/patient/{quote(patient_id)}")
        elif len(query) >= 2:
            found = ctx.access.search(
                parse_search("Patient", [("name", query), ("_count", "25")], ctx.registry)
            )
            for stored in found.matches:
                patient = orjson.loads(stored.content or b"{}")
                identifier: dict[str, Any] = next(iter(patient.get("identifier") or []), {})
                results.append(
                    {
                        "id": stored.id,
                        "name": person_name(patient) or "Namn saknas",
                        "birth": patient.get("birthDate") or "",
                        "identifier": identifier.get("value", ""),
                    }
                )
            if not results:
                message = "Ingen patient hittades."
        elif query:
            message = "Skriv ett personnummer (ÅÅÅÅMMDD-NNNN) eller minst två bokstäver av namnet."
        return _render(
            request,
            "search.html",
            reader=_reader_label(principal),
            signed_in=True,
            query=query,
            results=results if query and not message else None,
            message=message,
            is_user=principal is None or principal.kind == "user",
        )
    except HubError as error:
        return _error_page(request, error)


def _grant_end(ctx: ApiContext, principal: Principal | None, patient_id: str) -> datetime | None:
    if principal is None:
        return None
    for grant in ctx.access.grants.active_grants(patient_id, ctx.access.now):
        if grant.employee == principal.subject and grant.care_unit == principal.care_unit:
            return grant.end.astimezone(STOCKHOLM)
    return None


def _overview_page(request: Request, patient_id: str, template: str, **extra: Any) -> Response:
    try:
        ctx, principal = _ctx(request)
        overview = load_overview(ctx, check_id(patient_id))[0]
        return _render(
            request,
            template,
            o=overview,
            reader=_reader_label(principal),
            signed_in=True,
            is_user=principal is None or principal.kind == "user",
            grant_end=_grant_end(ctx, principal, overview.patient_id),
            now=overview.generated.astimezone(STOCKHOLM),
            consent_days=min(30, _settings(request).consent_max_days),
            consent_max=_settings(request).consent_max_days,
            notice=request.query_params.get("klart"),
            **extra,
        )
    except HubError as error:
        return _error_page(request, error)


@router.get("/patient/{patient_id}", response_class=HTMLResponse)
def overview_page(patient_id: str, request: Request) -> Response:
    return _overview_page(request, patient_id, "overview.html", printing=False)


@router.get("/patient/{patient_id}/utskrift", response_class=HTMLResponse)
def print_page(patient_id: str, request: Request) -> Response:
    return _overview_page(request, patient_id, "overview.html", printing=True)


def _unit_reference(ctx: ApiContext, principal: Principal) -> dict[str, Any]:
    query = parse_search(
        "Organization", [("identifier", f"{_HSA}|{principal.care_unit}")], ctx.registry
    )
    matches = ctx.access.search(query).matches
    if matches:
        return {"reference": f"Organization/{matches[0].id}"}
    return {"type": "Organization", "identifier": {"system": _HSA, "value": principal.care_unit}}


def consent_resource(
    patient_id: str, unit: dict[str, Any], now: datetime, days: int
) -> dict[str, Any]:
    """The patient's consent (samtycke) for the reader's care unit, for `days` days."""
    start = now.astimezone(STOCKHOLM)
    return privacy_consent(
        patient_id,
        "permit",
        [consent_actor("IRCP", unit)],
        period={
            "start": start.isoformat(timespec="seconds"),
            "end": (start + timedelta(days=days)).isoformat(timespec="seconds"),
        },
        date_time=start.isoformat(timespec="seconds"),
        organization=unit,
    )


def _record_consent(request: Request, patient_id: str, form: dict[str, str]) -> None:
    settings = _settings(request)
    ctx, principal = _ctx(request)
    if principal is not None and principal.kind != "user":
        raise Forbidden("Only staff record a patient's consent")
    if principal is None or form.get("bekraftat") != "ja":
        raise InvalidRequest("Bekräfta att patienten har samtyckt")
    raw_days = form.get("dagar", "")
    if not raw_days.isdigit() or not 1 <= int(raw_days) <= settings.consent_max_days:
        raise InvalidRequest(f"Giltighetstiden är 1–{settings.consent_max_days} dagar")
    ctx.access.read("Patient", patient_id)
    body = consent_resource(
        patient_id, _unit_reference(ctx, principal), ctx.access.now, int(raw_days)
    )
    result = dispatch(ctx, FhirRequest(method="POST", path=["Consent"], body=body))
    if result.status not in (200, 201):
        raise InvalidRequest("The consent could not be recorded")
    ctx.access.forget(patient_id)
    ctx.access.record("consent-recorded", [patient_id])


@router.post("/patient/{patient_id}/samtycke")
async def record_consent(patient_id: str, request: Request) -> Response:
    try:
        form = await _form(request)
        require_csrf(request, _settings(request), form.get("csrf"))
        patient_id = check_id(patient_id)
        await run_in_threadpool(_record_consent, request, patient_id, form)
    except HubError as error:
        return _error_page(request, error)
    return _see_other(f"/patient/{quote(patient_id)}?klart=samtycke")


def _open_emergency(request: Request, patient_id: str, reason: str) -> None:
    ctx, _ = _ctx(request)
    body = {"resourceType": "Parameters", "parameter": [{"name": "reason", "valueString": reason}]}
    open_emergency_access(ctx.access, patient_id, body, _settings(request).emergency_access_hours)


@router.post("/patient/{patient_id}/nodatkomst")
async def emergency(patient_id: str, request: Request) -> Response:
    try:
        form = await _form(request)
        require_csrf(request, _settings(request), form.get("csrf"))
        reason = form.get("skal", "").strip()
        if not reason:
            raise InvalidRequest("Ange skälet till nödåtkomsten")
        patient_id = check_id(patient_id)
        await run_in_threadpool(_open_emergency, request, patient_id, reason)
    except HubError as error:
        return _error_page(request, error)
    return _see_other(f"/patient/{quote(patient_id)}?klart=nodatkomst")


@router.get("/arbetslista", response_class=HTMLResponse)
def work_list(request: Request, inom: str = "7") -> Response:
    try:
        ctx, principal = _ctx(request)
        within = parse_within(inom)
        items = follow_up_due(ctx.access, ctx.registry, within, ctx.access.now)
        return _render(
            request,
            "worklist.html",
            reader=_reader_label(principal),
            signed_in=True,
            items=items,
            within=within,
            is_user=True,
            unit=principal.care_unit if principal else None,
        )
    except HubError as error:
        return _error_page(request, error)
