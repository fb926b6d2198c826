"""Admin: incidents (list, manual incidents, notes, status changes) and metrics (charts, uptime, history).
Routes live on the admin blueprint (admin-only by its before_request)."""
from __future__ import annotations

from flask import flash, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice

from medianest import htmx
from medianest.extensions import db
from medianest.models import IncidentStatus, IncidentType, ServiceStatus, Severity
from medianest.services import ServiceError, incidents, metrics, service_config
from medianest.views.admin import bp
from medianest.views.forms import form_error_response

STATUS_FILTERS = [("active", "Open and investigating"), ("", "All"), ("open", "Open"),
                  ("investigating", "Investigating"), ("resolved", "Resolved"), ("closed", "Closed")]


class IncidentForm(FlaskForm):
    service = SelectField("Service", choices=[SelectChoice(n, s.label) for n, s in service_config.SPECS.items()])
    incident_type = SelectField("Type", choices=[SelectChoice(t.value, t.value.capitalize()) for t in IncidentType],
                                default=IncidentType.OUTAGE.value)
    severity = SelectField("Severity", choices=[SelectChoice(s.value, s.value.capitalize()) for s in Severity],
                           default=Severity.MEDIUM.value)
    description = TextAreaField("What is going on?")


class NoteForm(FlaskForm):
    note = TextAreaField("Add a note")


def _filters() -> dict:
    status = request.args.get("status", "active")
    service = request.args.get("service", "")
    return {
        "status": status if status in {value for value, _ in STATUS_FILTERS} else "active",
        "service": service if service in service_config.SPECS else "",
    }


def _list_context(form=None) -> dict:
    filters = _filters()
    page = max(1, min(request.args.get("page", 1, type=int), 100000))
    pagination = incidents.search(status=filters["status"] or None, service=filters["service"] or None, page=page)
    return {"pagination": pagination, "filters": filters, "status_filters": STATUS_FILTERS,
            "services": service_config.SPECS, "form": form or IncidentForm(formdata=None), "args": request.args,
            "label": incidents.label}


@bp.get("/incidents", endpoint="incidents")
def incidents_index():
    return htmx.render_page_or_fragment("admin/incidents.html", "admin/_incidents_table.html", **_list_context())


@bp.post("/incidents")
def incident_create():
    form = IncidentForm()
    try:
        incident = incidents.open_manual(form.service.data or "", form.incident_type.data or "",
                                         form.severity.data or "", form.description.data or "",
                                         by_user_id=current_user.id)
    except ServiceError as err:
        field = getattr(form, err.field or "description", form.description)
        field.errors = [*field.errors, err.message]
        return form_error_response("admin/incidents.html", "admin/_incident_form.html", **_list_context(form))
    flash(f"Incident opened for {incidents.label(incident.service_name)}.", "success")
    return htmx.redirect(url_for("admin.incident_detail", incident_id=incident.id))


def _detail(incident, *, note_form=None, status_error=None, status: int = 200):
    context = {"incident": incident, "label": incidents.label(incident.service_name),
               "note_form": note_form or NoteForm(formdata=None), "status_error": status_error,
               "transitions": sorted(incidents.TRANSITIONS[IncidentStatus(incident.status)]),
               "words": {IncidentStatus.OPEN: "Reopen", IncidentStatus.INVESTIGATING: "Investigating",
                         IncidentStatus.RESOLVED: "Resolve", IncidentStatus.CLOSED: "Close"}}
    if status == 422:
        return form_error_response("admin/incident.html", "admin/_incident_detail.html", **context)
    return htmx.render_page_or_fragment("admin/incident.html", "admin/_incident_detail.html", status=status, **context)


@bp.get("/incidents/<uuid:incident_id>")
def incident_detail(incident_id):
    return _detail(incidents.get_or_404(incident_id))


@bp.post("/incidents/<uuid:incident_id>/notes")
def incident_note(incident_id):
    form = NoteForm()
    try:
        incident = incidents.add_note(incident_id, form.note.data or "", by_user_id=current_user.id)
    except ServiceError as err:
        form.note.errors = [err.message]
        return _detail(incidents.get_or_404(incident_id), note_form=form, status=422)
    return _detail(incident)


@bp.post("/incidents/<uuid:incident_id>/status")
def incident_status(incident_id):
    try:
        incident = incidents.set_status(incident_id, request.form.get("status", ""), by_user_id=current_user.id)
    except ServiceError as err:
        return _detail(incidents.get_or_404(incident_id), status_error=err.message, status=422)
    response = _detail(incident)
    return htmx.hx_trigger(response, "incidents-changed")


@bp.get("/metrics", endpoint="metrics")
def metrics_index():
    window = request.args.get("window", "24h")
    if window not in metrics.WINDOWS:
        window = "24h"
    names = list(service_config.MONITORED)
    series = metrics.series_for(names, window, cache_ttl=metrics.WINDOW_CACHE_SECONDS[window])
    uptime_30d = {row.service_name: row.uptime_percentage for row in db.session.scalars(
        db.select(ServiceStatus).where(ServiceStatus.service_name.in_(names)))}  # kept current by the health round
    history = incidents.history(names)
    cards = [{"service": n, "label": incidents.label(n), "series": series[n], "chart": metrics.line_chart(series[n]),
              "uptime_window": series[n].uptime, "uptime_30d": uptime_30d.get(n), "incidents": history[n]}
             for n in names]
    return htmx.render_page_or_fragment("admin/metrics.html", "admin/_metrics_panel.html", cards=cards, window=window,
                                        windows=metrics.WINDOW_LABELS)
