"""Staff identity: accounts and roles, sessions, personal API tokens, the audit log.

Everything here is Kickoff's own data in its database (``kickoff.db.schema``); the API and the
board authenticate through it, the service records who acted.
"""

from kickoff.identity.accounts import Account, AccountError, AccountStore, SignInRefusedError
from kickoff.identity.principal import Principal
from kickoff.identity.roles import ROLES, Role, allows

__all__ = [
    "ROLES",
    "Account",
    "AccountError",
    "AccountStore",
    "Principal",
    "Role",
    "SignInRefusedError",
    "allows",
]
