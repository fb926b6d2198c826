"""First-run setup: one claim so that two setup forms sent at the same moment make one admin, not two
(or a 500 from the unique email). The claim is a `verification_tokens` row: its primary key makes the
second insert fail in every database, and it expires by itself if its request died half-way."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy.exc import IntegrityError

from medianest.extensions import db
from medianest.models import VerificationToken
from medianest.timeutil import utcnow

CLAIM = "first-run-setup"
CLAIM_FOR = timedelta(minutes=1)


def claim() -> bool:
    """True for the one request allowed to create the first admin now; False while another one is."""
    now = utcnow()
    db.session.execute(db.delete(VerificationToken).where(VerificationToken.identifier == CLAIM,
                                                          VerificationToken.expires < now))
    db.session.add(VerificationToken(identifier=CLAIM, token=CLAIM, expires=now + CLAIM_FOR))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return False
    return True


def release() -> None:
    db.session.rollback()
    db.session.execute(db.delete(VerificationToken).where(VerificationToken.identifier == CLAIM))
    db.session.commit()
