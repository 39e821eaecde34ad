from __future__ import annotations

from flask import Blueprint

bp = Blueprint("recruitment", __name__, url_prefix="/staff/recruitment", cli_group="recruitment")


@bp.get("/")
def index():
    raise NotImplementedError
