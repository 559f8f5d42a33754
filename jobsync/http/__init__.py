"""The HTTP face of the daemon (docs/design.md §6 HTTP): webhooks, health, metrics, a read-only API and web pages.

Imported only by ``jobsync daemon`` with ``[http] listen`` set and by ``jobsync serve``: no other
command pays for Starlette, uvicorn or prometheus-client.
"""
