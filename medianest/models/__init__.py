"""Every model, importable from one place: ``from medianest.models import User, MediaRequest``.

Importing this package registers all tables on ``db.metadata`` (create_app relies on it, and so do migrations).
"""
from medianest.models.media import ACTIVE_REQUEST_STATUSES, MediaRequest, MediaType, RequestStatus
from medianest.models.monitoring import (
    OPEN_INCIDENT_STATUSES,
    SERVICES_NEEDING_API_KEY,
    ErrorLog,
    IncidentStatus,
    IncidentType,
    ServiceConfig,
    ServiceHealth,
    ServiceIncident,
    ServiceMetric,
    ServiceName,
    ServiceStatus,
    Severity,
)
from medianest.models.notifications import Notification, NotificationRead, NotificationType
from medianest.models.users import Account, RateLimit, Role, Session, SessionToken, User, UserStatus, VerificationToken
from medianest.models.youtube import ACTIVE_DOWNLOAD_STATUSES, DownloadStatus, YoutubeDownload

__all__ = [
    "ACTIVE_DOWNLOAD_STATUSES",
    "ACTIVE_REQUEST_STATUSES",
    "OPEN_INCIDENT_STATUSES",
    "SERVICES_NEEDING_API_KEY",
    "Account",
    "DownloadStatus",
    "ErrorLog",
    "IncidentStatus",
    "IncidentType",
    "MediaRequest",
    "MediaType",
    "Notification",
    "NotificationRead",
    "NotificationType",
    "RateLimit",
    "RequestStatus",
    "Role",
    "ServiceConfig",
    "ServiceHealth",
    "ServiceIncident",
    "ServiceMetric",
    "ServiceName",
    "ServiceStatus",
    "Session",
    "SessionToken",
    "Severity",
    "User",
    "UserStatus",
    "VerificationToken",
    "YoutubeDownload",
]
