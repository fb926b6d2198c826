"""Admin: service connections and "Test connection". Routes live on the admin blueprint (admin-only by its
before_request). Secrets are never rendered back: the forms say whether one is set and allow replacing or
clearing it.
"""
from __future__ import annotations

from flask import abort, flash, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from medianest import htmx
from medianest.services import ServiceError, service_config
from medianest.views.admin import bp
from medianest.views.forms import form_error_response


def _number(low, high, step=None) -> dict:
    """A number keyboard on phones; the service still validates (and words) every value."""
    attrs = {"type": "number", "min": f"{low:g}", "max": f"{high:g}", "inputmode": "decimal" if step else "numeric"}
    return attrs | ({"step": step} if step else {})


class ServiceForm(FlaskForm):
    enabled = BooleanField("Watch and use this service", default=True)


class PlexForm(ServiceForm):
    url = StringField("Server URL", validators=[Optional(), Length(max=2000)])
    secret = PasswordField("Plex token", validators=[Optional(), Length(max=1024)])
    clear_secret = BooleanField("Remove the stored token")
    library_section = StringField("Library section for YouTube downloads", validators=[Optional(), Length(max=20)],
                                  render_kw=_number(1, 999999999))
    path_map = StringField("Path map (LOCAL=PLEX)", validators=[Optional(), Length(max=2000)])


class OverseerrForm(ServiceForm):
    url = StringField("Overseerr URL", validators=[Optional(), Length(max=2000)])
    secret = PasswordField("API key", validators=[Optional(), Length(max=1024)])
    clear_secret = BooleanField("Remove the stored API key")
    webhook_secret = PasswordField("Webhook secret (Overseerr sends it as Authorization)",
                                   validators=[Optional(), Length(max=1024)])
    clear_webhook_secret = BooleanField("Remove the stored webhook secret")


class UptimeKumaForm(ServiceForm):
    url = StringField("Uptime Kuma URL", validators=[Optional(), Length(max=2000)])
    slug = StringField("Status page slug", validators=[Optional(), Length(max=100)])
    secret = PasswordField("Metrics API key (optional)", validators=[Optional(), Length(max=1024)])
    clear_secret = BooleanField("Remove the stored API key")


class YoutubeForm(ServiceForm):
    allowed_hosts = TextAreaField("Allowed hosts", validators=[Optional(), Length(max=5000)])
    max_concurrent = StringField("Downloads at once", validators=[Optional(), Length(max=20)],
                                 render_kw=_number(*service_config.YOUTUBE_LIMITS["max_concurrent"][2:]))
    per_hour = StringField("Downloads per user per hour", validators=[Optional(), Length(max=20)],
                           render_kw=_number(*service_config.YOUTUBE_LIMITS["per_hour"][2:]))
    quota_gb = StringField("Storage quota per user (GB)", validators=[Optional(), Length(max=20)],
                           render_kw=_number(*service_config.YOUTUBE_LIMITS["quota_gb"][2:], step="any"))
    max_playlist_entries = StringField("Videos per playlist", validators=[Optional(), Length(max=20)],
                                       render_kw=_number(*service_config.YOUTUBE_LIMITS["max_playlist_entries"][2:]))


FORMS = {"plex": PlexForm, "overseerr": OverseerrForm, "uptime-kuma": UptimeKumaForm, "youtube": YoutubeForm}
HELP = {
    "plex": {"url": "Like http://192.168.1.20:32400.",
             "library_section": "The number of the Plex library that receives YouTube downloads (Test connection lists them).",
             "path_map": "When Plex sees the download folder under another path: /srv/downloads=/data/youtube."},
    "overseerr": {"url": "Like http://192.168.1.20:5055."},
    "uptime-kuma": {"url": "Like http://192.168.1.20:3001.", "slug": "The last part of the status page URL: /status/<slug>."},
    "youtube": {"allowed_hosts": "Host names, separated by commas.",
                "quota_gb": "Disk space each user's downloads may take."},
}


def _form_values(entry: dict) -> dict:
    """What a form shows for a stored service: never a secret."""
    name, settings = entry["name"], entry["settings"]
    # A service not saved yet shows "Watch and use" ticked: saving it with a URL turns it on.
    values = {"enabled": entry["enabled"] if entry["configured"] else True}
    if entry["url"] is not None:
        values["url"] = entry["url"]
    if name == "plex":
        values["library_section"] = settings.get("library_section") or ""
        path_map = settings.get("path_map")
        values["path_map"] = f"{path_map[0]}={path_map[1]}" if isinstance(path_map, list) and len(path_map) == 2 else ""
    elif name == "uptime-kuma":
        values["slug"] = settings.get("slug") or ""
    elif name == "youtube":
        yt = service_config.youtube_settings()
        values.update(allowed_hosts=", ".join(yt.allowed_hosts), max_concurrent=str(yt.max_concurrent),
                      per_hour=str(yt.per_hour), quota_gb=f"{yt.quota_gb:g}",
                      max_playlist_entries=str(yt.max_playlist_entries))
    return values


def _blank_form(entry: dict) -> FlaskForm:
    return FORMS[entry["name"]](formdata=None, prefix=entry["name"], data=_form_values(entry))


def _entries() -> dict[str, dict]:
    return {entry["name"]: entry for entry in service_config.describe_all()}


def _entry_or_404(name: str) -> tuple[dict, dict]:
    if name not in FORMS:
        abort(404)
    entries = _entries()
    return entries, entries[name]


def _render(name: str, entries: dict, *, form=None, status: int = 200, saved: bool = False, result=None):
    forms = {n: _blank_form(e) for n, e in entries.items()}
    if form is not None:
        forms[name] = form
    context = {"entries": entries, "forms": forms, "help": HELP, "results": {name: result} if result else {},
               "entry": entries[name], "form": forms[name], "name": name, "saved": saved, "result": result}
    # A save re-renders the whole card (badge, form, "Test connection"), a test only its result.
    fragment = "admin/_service_test.html" if result is not None else "admin/_service.html"
    if status == 422:
        return form_error_response("admin/services.html", fragment, **context)
    return htmx.render_page_or_fragment("admin/services.html", fragment, status=status, **context)


@bp.get("/services")
def services():
    entries = _entries()
    forms = {n: _blank_form(e) for n, e in entries.items()}
    return htmx.render_page_or_fragment("admin/services.html", "admin/_services_list.html", entries=entries,
                                        forms=forms, help=HELP, results={})


def _secret_input(form, field: str):
    if getattr(form, f"clear_{field}").data:
        return ""
    value = getattr(form, field).data
    return value if value else service_config.UNCHANGED


@bp.post("/services/<name>")
def service_save(name):
    _entry_or_404(name)
    form = FORMS[name](prefix=name)
    kwargs = {"enabled": bool(form.enabled.data), "updated_by": current_user.id,
              "settings": {key: getattr(form, key).data or "" for key in service_config.SETTINGS[name]}}
    if hasattr(form, "url"):
        kwargs["url"] = form.url.data or ""
    if hasattr(form, "secret"):
        kwargs["secret"] = _secret_input(form, "secret")
    if hasattr(form, "webhook_secret"):
        kwargs["extra_secrets"] = {"webhook_secret": _secret_input(form, "webhook_secret")}
    try:
        service_config.configure(name, **kwargs)
    except service_config.ConfigInvalid as err:
        _attach_errors(form, err.errors)
        return _render(name, _entries(), form=_scrubbed(form), status=422)
    except ServiceError as err:
        _attach_errors(form, {err.field or "url": err.message})
        return _render(name, _entries(), form=_scrubbed(form), status=422)
    label = service_config.spec(name).label
    if not htmx.is_htmx():
        flash(f"{label} saved.", "success")
        return htmx.redirect(url_for("admin.services"))
    entries = _entries()
    response = _render(name, entries, form=_blank_form(entries[name]), saved=True)
    return htmx.hx_trigger(response, "services-changed")


def _attach_errors(form, errors: dict):
    for key, message in errors.items():
        field = getattr(form, key, None) or getattr(form, "url", None) or form.enabled
        field.errors = [*field.errors, message]


def _scrubbed(form):
    """A refused form goes back without credentials typed into the URL (secret fields never render values)."""
    if hasattr(form, "url") and form.url.data:
        form.url.data = service_config.redact_url(form.url.data)
    return form


@bp.post("/services/<name>/test")
def service_test(name):
    """Test the values on the form (sent along by the button), saved or not; the stored ones without a form."""
    _entry_or_404(name)
    try:
        result = service_config.test_connection(name, _typed_config(name))
    except service_config.ConfigInvalid as err:
        result = service_config.ConnectionResult(name, False, " ".join(err.errors.values()))
    return _render(name, _entries(), result=result)


def _typed_config(name: str):
    if not any(key.startswith(f"{name}-") for key in request.form):
        return None
    form = FORMS[name](prefix=name)
    secret = service_config.UNCHANGED
    if hasattr(form, "secret"):
        secret = _secret_input(form, "secret")
    return service_config.draft(name, url=form.url.data if hasattr(form, "url") else None, secret=secret,
                                settings={key: getattr(form, key).data or "" for key in service_config.SETTINGS[name]})


@bp.post("/services/<name>/enabled")
def service_enabled(name):
    """Switch watching a service on or off without touching its settings."""
    entries, entry = _entry_or_404(name)
    try:
        service_config.set_enabled(name, not entry["enabled"], updated_by=current_user.id)
    except ServiceError as err:
        form = _blank_form(entry)
        _attach_errors(form, {"enabled": err.message})
        return _render(name, entries, form=form, status=422)
    entries = _entries()
    return htmx.hx_trigger(_render(name, entries, form=_blank_form(entries[name]), saved=True), "services-changed")
