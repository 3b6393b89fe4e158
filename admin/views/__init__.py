"""The staff pages, one blueprint per area (all under /admin)."""

from __future__ import annotations

from flask import Blueprint

from admin.views.apologies import blueprint as apologies
from admin.views.audit import blueprint as audit
from admin.views.calendar_admin import blueprint as calendar_admin
from admin.views.callbacks import blueprint as callbacks
from admin.views.calls import blueprint as calls
from admin.views.dashboard import blueprint as dashboard
from admin.views.dossiers import blueprint as dossiers
from admin.views.health_page import blueprint as health_page
from admin.views.outbox import blueprint as outbox
from admin.views.recordings import blueprint as recordings
from admin.views.reports import blueprint as reports
from admin.views.users import blueprint as users

# The admin's own files: its stylesheet and script, and the folder of every admin template.
static_admin = Blueprint(
    "static_admin",
    __name__,
    static_folder="../static",
    static_url_path="/admin/static",
    template_folder="../templates",
)

BLUEPRINTS = [
    static_admin, dashboard, dossiers, recordings, calls, outbox, callbacks, reports, users,
    audit, calendar_admin, health_page, apologies,
]  # fmt: skip
