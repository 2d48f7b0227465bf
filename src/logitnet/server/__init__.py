"""``logitnet serve``: the page and the HTTP API around one model.

A layer of its own, between the pictures (``viz``) and the command line:
the server draws what ``explain`` draws and shows what the report shows, so
it sits above ``viz``, which sits above the application. ``api`` is the
ASGI application, ``schemas`` what it answers (its OpenAPI description),
``headers`` what every answer carries and ``HEAD``, ``running`` how
uvicorn runs it, ``uploads`` the request bodies, ``budget`` the memory
that decoding may take, ``hosts`` the host names answered, ``page`` the
page at ``/``, ``docs`` the API page at ``/docs`` (Swagger UI, served by
the server itself), and ``slow_clients`` what uvicorn's HTTP protocol
lacks (a deadline for a request's headers; a connection closed after a
request framed two ways).
"""
