"""Clear errors: every refusal carries an HTTP status, a stable code (for tests and support) and a
message in the user's language. HTML for people, JSON for machine clients."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

# Messages for plain HTTP errors; views raise SurveyError for anything more specific.
_HTTP_CODES: dict[int, tuple[str, Any]] = {
    400: ("E-BAD-REQUEST", _l("The request could not be understood.")),
    403: ("E-FORBIDDEN", _l("You do not have access to this page.")),
    404: ("E-NOT-FOUND", _l("This page does not exist.")),
    405: ("E-METHOD", _l("This address does not accept that kind of request.")),
    413: ("E-TOO-LARGE", _l("What you sent is too large.")),
    414: ("E-TOO-LONG-URL", _l("The address is too long.")),
    415: ("E-CONTENT-TYPE", _l("Please send the form from the survey page.")),
    429: ("E-RATE", _l("Too many attempts. Please wait a moment and try again.")),
    500: ("E-INTERNAL", _l("Something went wrong on our side. Your answers were not lost if you saw "
                           "the thank-you page.")),
}


class SurveyError(Exception):
    """A refusal with a stable code. Raise it from views or services; the handler renders it."""

    def __init__(self, status: int, code: str, message: Any, *, title: Any = None) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message
        self.title = title


def _wants_json() -> bool:
    if request.blueprint == "api" or request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    accepted = request.accept_mimetypes
    return best == "application/json" and accepted[best] > accepted["text/html"]


# Blueprints whose pages only staff open: their errors do not carry the citizen's anonymity note.
_STAFF_BLUEPRINTS = frozenset({"manage", "auth", "posters"})


def render_error(status: int, code: str, message: Any, title: Any = None) -> tuple[Any, int]:
    if _wants_json():
        return jsonify(error={"status": status, "code": code, "message": str(message)}), status
    html = render_template("error.html", status=status, code=code, message=message, title=title,
                           for_staff=request.blueprint in _STAFF_BLUEPRINTS)
    return html, status


def _handle_survey_error(error: SurveyError) -> tuple[Any, int]:
    return render_error(error.status, error.code, error.message, error.title)


def _handle_csrf(error: CSRFError) -> tuple[Any, int]:
    return render_error(400, "E-CSRF", _l("The form has expired or was not sent from this site. "
                                          "Please reload the page and try again."))


def _handle_http(error: HTTPException) -> Any:
    status = error.code or 500
    code, message = _HTTP_CODES.get(status, (f"E-HTTP-{status}", error.description))
    response = render_error(status, code, message)
    if status == 405 and error.response is None:
        body, _ = response
        allowed = getattr(error, "valid_methods", None)
        headers = {"Allow": ", ".join(allowed)} if allowed else {}
        return body, status, headers
    return response


def init_app(app: Flask) -> None:
    app.register_error_handler(SurveyError, _handle_survey_error)
    app.register_error_handler(CSRFError, _handle_csrf)
    app.register_error_handler(HTTPException, _handle_http)
