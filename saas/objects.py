"""Register every CRM object type, in the order menus, search and the recycle bin show them."""

from saas.modules.activities import objects as activities  # noqa: F401
from saas.modules.contracts import objects as contracts  # noqa: F401
from saas.modules.customers import objects as customers  # noqa: F401
from saas.modules.deals import objects as deals  # noqa: F401
from saas.modules.leads import objects as leads  # noqa: F401
from saas.modules.sales import objects as sales  # noqa: F401
