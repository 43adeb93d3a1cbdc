"""Open data (issue 17): the Transparency Code files, open data per round and team, a read-only
JSON API with its OpenAPI document, and statistics. The top layer beside demo and ops: it reads
every domain and no domain imports it."""
