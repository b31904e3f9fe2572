"""Activities: every side effect Kickoff performs."""

from kickoff.activities.ledger import MailLedger
from kickoff.activities.mail import MailActivities, SmtpConfig, render_message
from kickoff.activities.read_model import ReadModelActivities

__all__ = ["MailActivities", "MailLedger", "ReadModelActivities", "SmtpConfig", "render_message"]
