"""Contact pages (``/app/<slug>/contacts/…``)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from saas.modules.contacts import service
from saas.modules.contacts.forms import ContactForm
from saas.modules.workspace.service import record

bp = Blueprint("contacts", __name__, url_prefix="/contacts")


@bp.route("/")
def index():
    q = request.args.get("q", "").strip()[:200]
    page = request.args.get("page", 1, type=int) or 1
    contacts, total = service.search(q, page)
    pages = max(1, -(-total // service.PAGE_SIZE))
    return render_template(
        "contacts/index.html", contacts=contacts, total=total, q=q, page=page, pages=pages
    )


@bp.route("/new", methods=["GET", "POST"])
def new():
    form = ContactForm()
    if form.validate_on_submit():
        values = {f: getattr(form, f).data for f in service.FIELDS}
        contact = service.create(current_user.id, **values)
        record("contact.created", current_user.id, contact=contact.id)
        flash(f"{contact.full_name} added.", "success")
        return redirect(url_for(".show", contact_id=contact.id))
    status = 400 if request.method == "POST" else 200
    return render_template("contacts/form.html", form=form, contact=None), status


@bp.route("/<int:contact_id>")
def show(contact_id: int):
    contact = service.get(contact_id) or abort(404)
    return render_template("contacts/show.html", contact=contact)


@bp.route("/<int:contact_id>/edit", methods=["GET", "POST"])
def edit(contact_id: int):
    contact = service.get(contact_id) or abort(404)
    form = ContactForm(obj=contact)
    if form.validate_on_submit():
        service.update(contact, **{f: getattr(form, f).data for f in service.FIELDS})
        record("contact.updated", current_user.id, contact=contact.id)
        flash("Saved.", "success")
        return redirect(url_for(".show", contact_id=contact.id))
    status = 400 if request.method == "POST" else 200
    return render_template("contacts/form.html", form=form, contact=contact), status


@bp.route("/<int:contact_id>/delete", methods=["POST"])
def delete(contact_id: int):
    contact = service.get(contact_id) or abort(404)
    service.delete(contact)
    record("contact.deleted", current_user.id, contact=contact_id)
    flash(f"{contact.full_name} deleted.", "success")
    return redirect(url_for(".index"))
