"""``logitnet serve``: the page and the HTTP API around one model.

A layer of its own, between the pictures (``viz``) and the command line:
the server draws what ``explain`` draws and shows what the report shows, so
it sits above ``viz``, which sits above the application. ``api`` is the
ASGI application and how it runs, ``page`` the HTML it serves, and
``slow_clients`` the deadline for a request's headers that uvicorn lacks.
"""
