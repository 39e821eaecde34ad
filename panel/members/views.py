from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("members", __name__)


@bp.get("/")
def home():
    return render_template("members/home.html")


@bp.get("/panel/join")
def join():
    raise NotImplementedError


@bp.get("/panel/me")
def request_link():
    raise NotImplementedError


@bp.get("/panel/terms")
def terms():
    raise NotImplementedError
