"""Development-only pages (registered only when SAAS_ENV=development)."""

from flask import Blueprint, render_template

from saas.mail import stored_messages

bp = Blueprint("dev", __name__, url_prefix="/dev")


@bp.route("/mail")
def mail():
    return render_template("dev/mail.html", messages=stored_messages())
