"""Import every model (and register every CRM object type) so that both metadata
objects and the object registry are complete."""

from saas import objects  # noqa: F401, E402  (registers the object types)
from saas.modules.accounts.models import Invitation, Membership, User  # noqa: F401
from saas.modules.activities.models import Activity  # noqa: F401
from saas.modules.api.models import ApiKey  # noqa: F401
from saas.modules.contracts.models import Contract, Licence  # noqa: F401
from saas.modules.customers.models import Account, Contact  # noqa: F401
from saas.modules.customization import validation  # noqa: F401  (registers its check)
from saas.modules.customization.models import CustomField, Layout, ValidationRule  # noqa: F401
from saas.modules.deals.models import Deal, Pipeline, Stage, StageChange  # noqa: F401

# Long jobs register their kind with saas.tracked when their module is imported.
from saas.modules.exports import jobs as _exports  # noqa: F401, E402
from saas.modules.exports.models import Export, ExportChunk, ExportRun, ExportSchedule  # noqa: F401
from saas.modules.imports import jobs as _imports  # noqa: F401, E402
from saas.modules.imports.models import (  # noqa: F401
    Import,
    ImportChunk,
    ImportProblem,
    ImportRow,
    SavedMapping,
)
from saas.modules.leads.models import Lead  # noqa: F401
from saas.modules.notifications.models import Notification  # noqa: F401
from saas.modules.records.models import SavedView, TimelineEntry  # noqa: F401
from saas.modules.sales.models import (  # noqa: F401
    Order,
    OrderLine,
    OrderReturn,
    PriceList,
    PriceListItem,
    Product,
    Quote,
    QuoteLine,
)
from saas.modules.teams.models import Team, TeamMember  # noqa: F401
from saas.modules.webhooks.models import (  # noqa: F401
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from saas.modules.workflows.models import WorkflowFiring, WorkflowRule, WorkflowRun  # noqa: F401
from saas.modules.workspace.models import Event, Setting  # noqa: F401
from saas.tenants.models import AuditLog, PooledSchema, Tenant  # noqa: F401
from saas.tracked import TrackedJob  # noqa: F401
