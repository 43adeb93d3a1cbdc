"""What the browser crawls (accessibility, reflow) never follow: signing out, downloads (not
HTML: PDF, CSV, JSON, .pb, the JSON API), the receipt of a ballot, the development outbox,
static files, and anything whose name says it changes state (GET should be safe, but a crawl
does not rely on it). One pattern, so a new download type is left out of every crawl at once."""

import re

NEVER_FOLLOW = re.compile(r"/sign-out|logout|delete|\.(pdf|csv|json|pb)$|/api/v1/|/receipt$|/dev/|/static/", re.I)
