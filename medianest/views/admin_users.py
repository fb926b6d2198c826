"""Admin: user management. Routes live on the admin blueprint (admin-only by its before_request)."""
from __future__ import annotations

from flask import abort, current_app, flash, make_response, render_template, request, url_for
from flask_login import current_user

from medianest import htmx
from medianest.forms import RoleForm
from medianest.models import Role, UserStatus
from medianest.services import ServiceError, rate_limits, users
from medianest.views.admin import bp

FILTER_ROLES = [("", "Any role"), (Role.USER.value, "User"), (Role.ADMIN.value, "Admin")]
FILTER_STATUSES = [("", "Any status"), (UserStatus.ACTIVE.value, "Active"), (UserStatus.INACTIVE.value, "Inactive"),
                   (UserStatus.SUSPENDED.value, "Suspended")]
SORTS = [("newest", "Newest first"), ("last_login", "Last sign-in"), ("email", "Email")]
COUNT_CAP = 999  # the list shows "999+" beyond; a user's page shows the exact counts


@bp.get("/users", endpoint="users")
def users_list():
    args = request.args
    page = max(1, min(args.get("page", 1, type=int), 100000))
    pagination = users.search(q=args.get("q"), role=args.get("role"), status=args.get("status"),
                              sort=args.get("sort", "newest"), page=page)
    counts = users.activity_counts((u.id for u in pagination.items), cap=COUNT_CAP)
    return htmx.render_page_or_fragment(
        "admin/users.html", "admin/_users_table.html", pagination=pagination, counts=counts, count_cap=COUNT_CAP,
        args=args,
        roles=FILTER_ROLES, statuses=FILTER_STATUSES, sorts=SORTS,
    )


def _user_or_404(user_id):
    user = users.get(user_id)
    if user is None:
        abort(404)
    return user


def _detail_context(user, **extra) -> dict:
    counts = users.activity_counts([user.id]).get(user.id, (0, 0))
    return {"u": user, "counts": counts, "role_form": RoleForm(role=user.role), "is_self": user.id == current_user.id,
            **extra}


@bp.get("/users/<uuid:user_id>")
def user_detail(user_id):
    user = _user_or_404(user_id)
    return htmx.render_page_or_fragment("admin/users_detail.html", "admin/_user_detail.html", **_detail_context(user))


def _after_action(user_id, *, status: int = 200, **extra):
    """The detail fragment (+ flash out of band) for HTMX; the detail page otherwise."""
    user = _user_or_404(user_id)
    if htmx.is_htmx():
        body = render_template("admin/_user_detail.html", **_detail_context(user, **extra))
        return make_response(body + render_template("_flash.html", oob=True), status)
    if status >= 400 or extra:
        return make_response(render_template("admin/users_detail.html", **_detail_context(user, **extra)), status)
    return htmx.redirect(url_for("admin.user_detail", user_id=user_id))


def _act(user_id, action, success: str):
    _user_or_404(user_id)
    try:
        action()
    except ServiceError as err:
        flash(err.message, "error")
        return _after_action(user_id, status=err.status if err.status != 422 else 409)
    flash(success, "success")
    return _after_action(user_id)


@bp.post("/users/<uuid:user_id>/role")
def user_role(user_id):
    form = RoleForm()
    role = form.role.data if form.validate_on_submit() else request.form.get("role", "")
    return _act(user_id, lambda: users.set_role(user_id, role, actor_id=current_user.id),
                f"Role changed to {role.lower() if isinstance(role, str) else role}.")


@bp.post("/users/<uuid:user_id>/suspend")
def user_suspend(user_id):
    return _act(user_id, lambda: users.suspend(user_id, actor_id=current_user.id),
                "Suspended. Every browser of this account is signed out.")


@bp.post("/users/<uuid:user_id>/reactivate")
def user_reactivate(user_id):
    return _act(user_id, lambda: users.reactivate(user_id, actor_id=current_user.id), "Reactivated.")


@bp.post("/users/<uuid:user_id>/require-password-change")
def user_require_password_change(user_id):
    return _act(user_id, lambda: users.require_password_change(user_id, actor_id=current_user.id),
                "They must choose a new password at their next request.")


@bp.post("/users/<uuid:user_id>/sign-out")
def user_sign_out(user_id):
    from medianest.services import remember

    return _act(user_id, lambda: remember.revoke_everything(user_id, reason="signed out by an admin"),
                "Every browser of this account is signed out.")


@bp.post("/users/<uuid:user_id>/unlock")
def user_unlock(user_id):
    return _act(user_id, lambda: rate_limits.unlock_sign_in(user_id),
                "Password sign-in unlocked: earlier wrong passwords no longer count.")


@bp.post("/users/<uuid:user_id>/reset-link")
def user_reset_link(user_id):
    _user_or_404(user_id)
    try:
        token = users.issue_reset_token(user_id, actor_id=current_user.id)
    except ServiceError as err:
        flash(err.message, "error")
        return _after_action(user_id, status=err.status if err.status != 422 else 409)
    base = current_app.config.get("MEDIANEST_BASE_URL") or request.host_url.rstrip("/")
    link = base + url_for("auth.reset_password", token=token)
    flash("A new reset link is ready. It works once, for 24 hours; earlier links stop working.", "success")
    return _after_action(user_id, reset_link=link)


@bp.post("/users/<uuid:user_id>/delete")
def user_delete(user_id):
    _user_or_404(user_id)
    try:
        email = users.delete_user(user_id, actor_id=current_user.id)
    except ServiceError as err:
        flash(err.message, "error")
        return _after_action(user_id, status=err.status if err.status != 422 else 409)
    flash(f"{email} is deleted, with their requests, downloads and sessions.", "success")
    return htmx.redirect(url_for("admin.users"))


@bp.get("/users/rate-limits")
def users_rate_limits():
    rows = rate_limits.recent_breaches()
    return htmx.render_page_or_fragment("admin/users_rate_limits.html", "admin/_users_rate_limits.html", rows=rows)
