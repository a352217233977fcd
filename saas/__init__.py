"""The CRM web application."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from saas import config
from saas.db import db
from saas.extensions import csrf, login_manager


def create_app(test_config: dict | None = None) -> Flask:
    root = config.ROOT
    app = Flask(
        __name__,
        instance_path=str(root / "instance"),
        template_folder=str(root / "templates"),
        static_folder=str(root / "static"),
    )
    app.config.update(config.load(Path(app.instance_path)))
    if test_config:
        app.config.update(test_config)

    hops = app.config["PROXY_FIX_HOPS"]
    if hops:  # client address and scheme as seen by the proxy (throttling, Secure cookies)
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    db.init_app(app)
    csrf.init_app(app)
    login_manager.init_app(app)

    from saas import i18n, web

    i18n.init_app(app)

    web.init_app(app)
    return app
