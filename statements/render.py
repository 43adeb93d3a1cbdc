"""Statement output: HTML from the templates, the PDF (WeasyPrint with a deny-by-default URL
fetcher) and the CSV (Local Government Transparency Code columns plus our references)."""

from __future__ import annotations

import csv
import hashlib
import io
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from flask import current_app, render_template

from ledger import services
from statements.county import CountyPack
from statements.figures import METHOD_LABELS, Statement

if TYPE_CHECKING:
    SafeURLFetcher = object  # the class is made on first use: see _safe_url_fetcher()

CSV_COLUMNS = (
    "Body",
    "Service area",
    "Date",
    "Transaction number",
    "Amount",
    "Supplier",
    "Category",
    "GL code",
    "Cost centre",
    "Counterparty",
    "Fund",
    "Entry kind",
    "Payment method",
    "Card transaction",
    "Over 500",
    "Description",
    "Proposer",
    "Approver",
    "Receipt reference",
    "Reverses entry",
    "Running balance",
    "Statement id",
)


class StatementFetchRefused(ValueError):
    """The statement fetcher refused a URL (anything but our own static CSS)."""


@cache
def _safe_url_fetcher() -> type:
    """``SafeURLFetcher``, made on first use: WeasyPrint takes about a second to import, and only
    rendering a PDF needs it (the command line and most requests never do; issue 18)."""
    import weasyprint

    class SafeURLFetcher(weasyprint.URLFetcher):
        """Deny by default: serve only ``*.css`` files under the app's ``static/`` folder.

        No network, no ``file://`` outside ``static/``, no data: URLs. Every URL asked for is
        recorded in ``requested`` (the tests read it); refusals in ``refused``.
        """

        def __init__(self, static_root: Path | str, **kwargs):
            super().__init__(allowed_protocols=("file",), allow_redirects=False, **kwargs)
            self.static_root = Path(static_root).resolve()
            self.requested: list[str] = []
            self.refused: list[str] = []

        def fetch(self, url, headers=None):
            self.requested.append(url)
            parts = urlsplit(url)
            if parts.scheme == "file" and not parts.netloc and not parts.query:
                path = Path(unquote(parts.path)).resolve()
                if path.suffix == ".css" and path.is_relative_to(self.static_root) and path.is_file():
                    return weasyprint.urls.URLFetcherResponse(
                        url, path.read_bytes(), {"Content-Type": "text/css; charset=utf-8"}
                    )
            self.refused.append(url)
            raise StatementFetchRefused(f"refused to fetch {url}")

    return SafeURLFetcher


def __getattr__(name: str):
    if name == "SafeURLFetcher":
        return _safe_url_fetcher()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")




def render_html(statement: Statement) -> str:
    return render_template("statements/statement.html", st=statement, method_labels=METHOD_LABELS)


def render_pack_html(pack: CountyPack) -> str:
    return render_template("statements/county_pack.html", pack=pack, method_labels=METHOD_LABELS)


def _pdf(html: str, fetcher: SafeURLFetcher | None) -> bytes:
    import weasyprint

    static_root = Path(current_app.static_folder)
    fetcher = fetcher or _safe_url_fetcher()(static_root)
    document = weasyprint.HTML(string=html, base_url=static_root.as_uri() + "/", url_fetcher=fetcher)
    return document.write_pdf()


def render_pdf(statement: Statement, fetcher: SafeURLFetcher | None = None) -> bytes:
    """The statement as PDF bytes; only our static CSS may be fetched."""
    return _pdf(render_html(statement), fetcher)


def render_pack_pdf(pack: CountyPack, fetcher: SafeURLFetcher | None = None) -> bytes:
    return _pdf(render_pack_html(pack), fetcher)


def pounds(pence: int) -> str:
    """Pence as a plain decimal string for the CSV: -1234 → ``"-12.34"``."""
    return str(Decimal(int(pence)).scaleb(-2).quantize(Decimal("0.01")))


def _csv_rows(statement: Statement):
    for line in (*statement.lines, *statement.restricted_lines):
        yield (
            statement.council,
            f"{statement.programme}: {statement.team_name}",
            line.date.isoformat(),
            line.reference,
            pounds(line.amount_pence),
            _csv_safe(line.payee),
            _csv_safe(line.category_label),
            _csv_safe(line.gl_code),
            _csv_safe(line.cost_centre),
            _csv_safe(line.counterparty),
            _csv_safe(line.fund),
            line.kind,
            _csv_safe(line.method),
            "Y" if line.p_card else "N",
            "Y" if line.over_500 else "N",
            _csv_safe(line.description),
            _csv_safe(line.proposer),
            _csv_safe(line.approver),
            _csv_safe(line.receipt),
            services.reference(line.reverses_entry_id) if line.reverses_entry_id else "",
            pounds(line.balance_after_pence),
            statement.statement_id,
        )


def _write_csv(statements: list[Statement]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for statement in statements:
        writer.writerows(_csv_rows(statement))
    return out.getvalue()


def render_csv(statement: Statement) -> str:
    """One row per posting against the team's budget, then its restricted funds; UTF-8, header row."""
    return _write_csv([statement])


def render_pack_csv(pack: CountyPack) -> str:
    """Every team's rows in one CSV (same columns as a team's)."""
    return _write_csv(pack.statements)


def _csv_safe(text: str) -> str:
    """Neutralise spreadsheet formulas in free text (CSV injection)."""
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


