"""The processing systems allowed to call the API (admins only): add one, revoke one.

A new client's secret is shown once, in the answer to the POST (never in a flash message:
those travel in the session cookie), and is stored only encrypted (api/clients.py)."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for

from admin.auth import now, role_required, runtime
from api.clients import SecretBox, add_client, all_clients, revoke_client
from api.models import ApiScope
from intake.errors import InvalidInput
from intake.models import Role

blueprint = Blueprint("api_clients", __name__, url_prefix="/admin/api-clients")
SCOPE_LABELS = {ApiScope.READ: "Chỉ đọc hồ sơ", ApiScope.WRITE: "Đọc và gửi sự kiện"}


def _box() -> SecretBox:
    return current_app.extensions["tongdai_api_secrets"]


def _page(*, error: str = "", form: dict | None = None, shown: dict | None = None, status=200):
    with runtime().sessions() as session:
        clients = all_clients(session)
    return render_template(
        "admin/api_clients.html",
        clients=clients,
        scopes=list(ApiScope),
        scope_labels=SCOPE_LABELS,
        default_rate=runtime().settings.api.rate_per_minute,
        error=error,
        form=form or {},
        shown=shown,
    ), status


@blueprint.get("")
@role_required(Role.ADMIN)
def index():
    return _page()


@blueprint.post("")
@role_required(Role.ADMIN)
def add():
    form = {k: request.form.get(k, "").strip() for k in ("name", "scope", "rate")}
    try:
        scope = ApiScope(form["scope"])
    except ValueError:
        return _page(error="Chọn quyền của hệ thống.", form=form, status=400)
    rate = None
    if form["rate"]:
        if not form["rate"].isascii() or not form["rate"].isdigit() or len(form["rate"]) > 7:
            return _page(error="Giới hạn mỗi phút là một số nguyên dương.", form=form, status=400)
        rate = int(form["rate"])
    try:
        with runtime().sessions() as session, session.begin():
            new = add_client(session, _box(), form["name"], scope,
                             created_by=f"staff:{g.user.username}", now=now(),
                             rate_per_minute=rate)  # fmt: skip
            shown = {"name": new.client.name, "id": new.client.public_id, "secret": new.secret}
    except InvalidInput as exc:
        return _page(error=str(exc), form=form, status=400)
    return _page(shown=shown)


@blueprint.post("/<int:client_id>/revoke")
@role_required(Role.ADMIN)
def revoke(client_id: int):
    with runtime().sessions() as session, session.begin():
        done = revoke_client(session, client_id, revoked_by=f"staff:{g.user.username}", now=now())
    if done:
        flash(
            "Đã thu hồi quyền gọi API của hệ thống này; mọi yêu cầu của nó bị từ chối ngay.",
            "success",
        )
    else:
        flash("Hệ thống này đã bị thu hồi từ trước.", "info")
    return redirect(url_for("api_clients.index"))
