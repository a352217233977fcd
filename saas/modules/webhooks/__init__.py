"""Outbound webhooks: per-tenant subscriptions to record and import events, an outbox
written in the transaction of each change, signed deliveries sent by the worker with
retries for a day, in order per record, and a delivery log.

Importing the package registers its record listener and the import engine's hook.
"""

from saas.modules.imports import engine as _imports
from saas.modules.webhooks import events

if events.on_import_finished not in _imports.finish_listeners:
    _imports.finish_listeners.append(events.on_import_finished)
