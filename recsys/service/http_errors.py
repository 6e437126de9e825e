"""The service's 4xx bodies: what was wrong and the request id, never the offending input or a trace.

``validation_error`` answers 422 naming each bad field. A body sent without a JSON content type
would otherwise be reported as "Input should be a valid dictionary", so it says what to send
instead. ``http_error`` adds the request id to every other 4xx and replaces FastAPI's "There was
an error parsing the body" (invalid UTF-8, a number with thousands of digits) with the reason.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from recsys.service.middleware import REQUEST_ID_KEY


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 naming each bad field; the offending input is not echoed back (it may be huge)."""
    errors = [{"loc": list(err.get("loc", ())), "msg": err.get("msg"), "type": err.get("type")} for err in exc.errors()]
    content_type = request.headers.get("content-type", "")
    if any(error["loc"] == ["body"] for error in errors) and not _is_json(content_type):
        errors = [{"loc": ["body"], "type": "content_type",
                   "msg": f"send the body as JSON with Content-Type: application/json (got {content_type or 'none'})"}]
    return JSONResponse({"detail": errors, "request_id": request.scope.get(REQUEST_ID_KEY)}, status_code=422)


async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
    """Any HTTPException as ``{detail, request_id}``; an unparseable body says why."""
    detail = exc.detail
    cause = exc.__cause__
    if exc.status_code == 400 and cause is not None:
        if isinstance(cause, UnicodeDecodeError):
            detail = f"the body is not valid UTF-8 (byte {cause.start})"
        elif isinstance(cause, ValueError) and "integer string conversion" in str(cause):
            detail = "the body holds a number with too many digits"
        else:
            detail = "the body cannot be parsed as JSON"
    return JSONResponse({"detail": detail, "request_id": request.scope.get(REQUEST_ID_KEY)},
                        status_code=exc.status_code, headers=exc.headers)
