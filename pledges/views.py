"""HTTP views of the pledges domain."""

from flask import Blueprint

bp = Blueprint("pledges", __name__)
