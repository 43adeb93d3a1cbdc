"""HTTP views of the votes domain."""

from flask import Blueprint

bp = Blueprint("votes", __name__)
