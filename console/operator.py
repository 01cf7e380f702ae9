"""The failed mailbox: list, side-by-side detail, correct and re-submit, re-run, reject."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from console.roles import role_required
from console.services import services

bp = Blueprint("operator", __name__, url_prefix="/failed")


@bp.route("/")
@role_required("operator")
def failed_list() -> ResponseReturnValue:
    page = services().engine.failed_page(1, 50)
    return render_template("operator/list.html", page=page)
