from __future__ import annotations

from flask import Blueprint

bp = Blueprint("districts", __name__, url_prefix="/staff/districts", cli_group="districts")


@bp.get("/")
def index():
    raise NotImplementedError
