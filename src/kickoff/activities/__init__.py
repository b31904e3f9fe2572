"""Activities: every side effect Kickoff performs."""

from kickoff.activities.ledger import MailLedger
from kickoff.activities.mail import MailActivities, SmtpConfig, render_message

__all__ = ["MailActivities", "MailLedger", "SmtpConfig", "render_message"]
