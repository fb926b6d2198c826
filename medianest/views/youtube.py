"""YouTube downloads: submit (preview, confirm), follow progress, cancel, retry, delete.

Every route reads the download through the owner filter: another user's id is a 404 here (admins
included; they see everyone's downloads under /admin/downloads). The status fragment is polled while
a download is queued or running and stops by itself: its final render carries no trigger.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, make_response, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from medianest import cache, htmx, polls, versions
from medianest.extensions import limiter
from medianest.models.youtube import DownloadStatus
from medianest.services import ServiceError, service_config
from medianest.services import youtube as service
from medianest.timeutil import human_duration
from medianest.views.forms import safe_next

bp = Blueprint("youtube", __name__, url_prefix="/youtube")

CHANGED = "downloads-changed"
FINISHED = "download-finished"
POLL = "every 1s"
STATUS_FILTERS = ("", *DownloadStatus)
QUALITY_CHOICES = [SelectChoice("best", "Best available"), SelectChoice("1080p", "Up to 1080p"),
                   SelectChoice("720p", "Up to 720p"), SelectChoice("audio", "Audio only")]
CONTAINER_CHOICES = [SelectChoice("mp4", "MP4 (best for Plex)"), SelectChoice("mkv", "MKV"),
                     SelectChoice("webm", "WebM"), SelectChoice("m4a", "M4A (audio)"),
                     SelectChoice("mp3", "MP3 (audio)"), SelectChoice("opus", "Opus (audio)")]


class DownloadForm(FlaskForm):
    url = StringField("Video or playlist link", validators=[
        DataRequired(message="Paste a YouTube link."),
        Length(max=service.URL_FIELD_MAX, message="That link is too long.")])
    quality = SelectField("Quality", choices=QUALITY_CHOICES, default="best")
    container = SelectField("Format", choices=CONTAINER_CHOICES, default="mp4")


def _submission_key() -> str:
    return f"youtube:{current_user.id}"


def _per_hour() -> str:
    return f"{max(service_config.youtube_settings().per_hour, 1)} per hour"


def _accepted(response) -> bool:
    return response.status_code < 400


def _own_or_404(download_id):
    return service.get_for_user(download_id, current_user.id) or abort(404)


# -- template helpers -------------------------------------------------------------------------------
@bp.app_template_filter("yt_size")
def yt_size(value):
    return service.human_size(value)


@bp.app_template_filter("yt_speed")
def yt_speed(value):
    return f"{service.human_size(value)}/s" if value else "—"


@bp.app_template_test("worker_stopped")
def worker_stopped(row):
    return service.worker_stopped(row)


@bp.app_template_filter("yt_eta")
def yt_eta(value):
    if value is None:
        return "—"
    return "a moment" if value < 1 else human_duration(value)


def _page_context(form=None, preview=None, **extra):
    filters = {"status": request.args.get("status", "") if request.args.get("status", "") in STATUS_FILTERS else "",
               "q": request.args.get("q", "").strip()[:200]}
    page = max(1, min(request.args.get("page", 1, type=int), 100000))
    pagination = service.list_for_user(current_user.id, status=filters["status"] or None, q=filters["q"] or None,
                                       page=page)
    return {"form": form or DownloadForm(), "preview": preview, "limits": service.limits_for(current_user.id),
            "pagination": pagination, "filters": filters, "args": request.args,
            "positions": _positions(pagination.items), "progress": _progress(pagination.items), **extra}


def _positions(rows) -> dict:
    return service.queue_positions() if any(r.status == DownloadStatus.QUEUED for r in rows) else {}


def _progress(rows) -> dict:
    return {r.id: service.progress_of(r) for r in rows if r.status == DownloadStatus.DOWNLOADING}


# -- pages ------------------------------------------------------------------------------------------
@bp.get("/")
def index():
    context = _page_context()
    if htmx.is_fragment_request():
        context["limits_oob"] = True
    return htmx.render_page_or_fragment("youtube/index.html", "youtube/_list.html", **context)


@bp.post("/preview")
@limiter.limit("60 per hour", key_func=lambda: f"youtube-preview:{current_user.id}")
def preview():
    """Step 1: check the link and list it (title, number of videos, duration) for confirmation."""
    form = DownloadForm()
    if not form.validate_on_submit():
        return _form_response(form, status=422)
    try:
        found = service.preview(current_user.id, form.url.data)
        service.check_options(form.quality.data, form.container.data)
    except ServiceError as err:
        _field_error(form, err)
        return _form_response(form, status=422)
    return _form_response(form, preview=found)


@bp.post("/")
@limiter.limit(_per_hour, key_func=_submission_key, deduct_when=_accepted,
               error_message="You have queued the most downloads allowed per hour. Try again later.")
def submit():
    """Step 2: queue it."""
    form = DownloadForm()
    if not form.validate_on_submit():
        return _form_response(form, status=422)
    try:
        row = service.submit(current_user.id, form.url.data, form.quality.data, form.container.data)
    except ServiceError as err:
        _field_error(form, err)
        return _form_response(form, status=422 if err.status in (409, 422, 429) else err.status)
    flash(f"Queued: {row.display_title}", "success")
    if not htmx.is_htmx():
        return htmx.redirect(url_for("youtube.index"))
    response = make_response(render_template("youtube/_submitted.html", form=DownloadForm(formdata=None), preview=None,
                                             limits=service.limits_for(current_user.id)))
    return htmx.hx_trigger(htmx.vary(response), CHANGED)


def _field_error(form: DownloadForm, err: ServiceError) -> None:
    target = {"url": form.url, "quality": form.quality, "container": form.container}.get(err.field or "url", form.url)
    target.errors = [*target.errors, err.message]


def _form_response(form, *, status=200, preview=None):
    if htmx.is_fragment_request():
        return htmx.vary(make_response(render_template(
            "youtube/_form.html", form=form, preview=preview, limits=service.limits_for(current_user.id)), status))
    return htmx.vary(make_response(render_template("youtube/index.html", **_page_context(form=form, preview=preview)),
                                   status))


@bp.get("/<uuid:download_id>")
def detail(download_id):
    row = _own_or_404(download_id)
    return htmx.render_page_or_fragment("youtube/detail.html", "youtube/_detail.html", d=row,
                                        progress=service.progress_of(row), position=service.queue_position(row))


@bp.get("/<uuid:download_id>/status")
@limiter.exempt
def status(download_id):
    """The polled status block (fragment only): one query, a second while queued, or a cache read."""
    row = _own_or_404(download_id)
    response = htmx.vary(make_response(render_template(
        "youtube/_status.html", d=row, progress=service.progress_of(row), position=service.queue_position(row))))
    if not row.is_active and htmx.is_htmx():
        htmx.hx_trigger(response, FINISHED)
    return response


polls.poll("youtube.status", lambda args: polls.Depends(
    versions=[versions.row_key("youtube_downloads", args["download_id"]), versions.table_key("youtube_downloads")],
    keys=[cache.key(service.progress_key(args["download_id"]))]))


# -- actions ----------------------------------------------------------------------------------------
def _done(message: str, download_id, *, category: str = "success", leave: bool = False):
    """After an action: HTMX gets the flash out of band and `downloads-changed` (lists and the detail
    reload themselves); a plain form post is redirected back."""
    flash(message, category)
    back = safe_next(request.form.get("next"))
    if htmx.is_htmx():
        if leave and back:
            return htmx.hx_trigger(htmx.redirect(back), CHANGED)
        response = htmx.reswap_none(make_response(render_template("_flash.html", oob=True)))
        return htmx.hx_trigger(response, CHANGED)
    return htmx.redirect(back or url_for("youtube.detail", download_id=download_id))


def _refused(err: ServiceError, download_id):
    if err.status == 404:
        abort(404)
    flash(err.message, "error")
    if htmx.is_htmx():
        return htmx.reswap_none(make_response(render_template("_flash.html", oob=True), err.status))
    return htmx.redirect(safe_next(request.form.get("next")) or url_for("youtube.detail", download_id=download_id))


@bp.post("/<uuid:download_id>/cancel")
def cancel(download_id):
    _own_or_404(download_id)
    try:
        row = service.cancel(download_id, user_id=current_user.id)
    except ServiceError as err:
        return _refused(err, download_id)
    message = "Cancelling…" if row.cancel_requested else "Cancelled."
    return _done(f"{message} {row.display_title}", download_id)


@bp.post("/<uuid:download_id>/retry")
def retry(download_id):
    _own_or_404(download_id)
    try:
        row = service.retry(download_id, user_id=current_user.id)
    except ServiceError as err:
        return _refused(err, download_id)
    return _done(f"Queued again: {row.display_title}", download_id)


@bp.post("/<uuid:download_id>/delete")
def delete(download_id):
    row = _own_or_404(download_id)
    title = row.display_title
    try:
        service.delete(download_id, user_id=current_user.id)
    except ServiceError as err:
        return _refused(err, download_id)
    back = safe_next(request.form.get("next"))
    if not htmx.is_htmx() and not back:
        flash(f"Deleted: {title}", "success")
        return htmx.redirect(url_for("youtube.index"))
    return _done(f"Deleted: {title}", download_id, leave=True)
