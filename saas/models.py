"""Import every model so that both metadata objects are complete."""

from saas.modules.accounts.models import Invitation, Membership, User  # noqa: F401
from saas.modules.contacts.models import Contact  # noqa: F401
from saas.modules.workspace.models import Event, Setting  # noqa: F401
from saas.tenants.models import AuditLog, PooledSchema, Tenant  # noqa: F401
