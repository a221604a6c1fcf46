"""A page's errors as pages: the JSON API answers problems (api/errors.py), a browser needs
something to read, and someone not logged in needs the login page."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute

from api.pages.render import render
from domain.errors import JetDeckError, UnauthorizedError
from wire.problems import status_and_code

LOGIN = "/login"


def error_page(request: Request, code: int, title: str, detail: str) -> Response:
    return render(request, "error.html", None, status=code, title=title, detail=detail)


def invalid(request: Request, exc: RequestValidationError) -> Response:
    details = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
    return error_page(request, 422, "Invalid request", "; ".join(details))


class PageRoute(APIRoute):
    """Catches a page's refusals where the handler runs, so the JSON API's handlers stay as
    they are: no credentials is a redirect to the login page, any other refusal an HTML page
    with the same status and detail the JSON API would give."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except UnauthorizedError:
                return RedirectResponse(LOGIN, status_code=status.HTTP_303_SEE_OTHER)
            except RequestValidationError as exc:
                return invalid(request, exc)
            except JetDeckError as exc:
                code, name = status_and_code(exc)
                if code == status.HTTP_500_INTERNAL_SERVER_ERROR:
                    raise  # a bug: the app's own handler hides it and logs the traceback
                return error_page(request, code, name.replace("_", " ").capitalize(), str(exc))

        return page_handler
