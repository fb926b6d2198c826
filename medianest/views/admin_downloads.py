"""Admin: all YouTube downloads and the queue. Routes live on the admin blueprint (admin-only by its before_request)."""
from medianest.views.admin import bp  # noqa: F401
