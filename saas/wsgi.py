"""gunicorn entry point: ``gunicorn saas.wsgi:app``."""

import gc

from saas import create_app

app = create_app()

# What start-up built (the app, its modules, SQLAlchemy's mappers) lives as long as the
# worker: keep it out of the collector's full passes, which would otherwise walk it all
# again every few hundred requests.
gc.freeze()
