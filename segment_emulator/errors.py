"""Error responses in the API's envelope: `{"errors": [{type, message, field?, data?, status?}]}` (facts §1.7).

The live API mixes several `type` vocabularies; we use the ones the facts sheet attests per status: `not-found`
(the TS SDK fixture), `ValidationFailure` (the 2022 spec), `RequestError` for 429 (the rate-limit docs).
"""

from __future__ import annotations

from typing import Any

_ABSENT = object()


class ApiError(Exception):
    def __init__(self, status: int, error_type: str, message: str, *, field: str | None = None,
                 data: Any = _ABSENT, include_status: bool = False, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.error = {"type": error_type, "message": message}
        if field is not None:
            self.error["field"] = field
        if data is not _ABSENT:
            self.error["data"] = data
        if include_status:
            self.error["status"] = status
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"errors": [self.error]}


def unauthorized(message: str = "Unauthorized: missing or invalid token") -> ApiError:
    return ApiError(401, "unauthorized", message, include_status=True)


def forbidden_for_role() -> ApiError:
    # The docs list "token lacks permission" under 401; 403 is undocumented for the Public API.
    return ApiError(401, "unauthorized", "Unauthorized: the token does not have permission to access this resource",
                    include_status=True)


def not_found(kind: str, item_id: str) -> ApiError:
    return ApiError(404, "not-found", f"{kind} with id '{item_id}' not found.", data=None)


def unknown_path(path: str) -> ApiError:
    return ApiError(404, "not-found", f"No route for GET {path}.", data=None)


def validation(field: str, message: str) -> ApiError:
    return ApiError(422, "ValidationFailure", message, field=field, include_status=True)


def method_not_allowed(method: str) -> ApiError:
    return ApiError(405, "method-not-allowed", f"{method} is not supported: this emulator is read-only.",
                    include_status=True, headers={"Allow": "GET"})


def unsupported_version(accept: str, offered: list[str]) -> ApiError:
    # Undocumented in the real API; we answer 415 and list what the endpoint offers.
    return ApiError(415, "unsupported-media-type",
                    f"This endpoint does not serve {accept!r}; it offers {', '.join(offered)}.", data=None,
                    include_status=True)


def rate_limited(ms_before_next: int, consumed: int) -> ApiError:
    # Exactly the documented 429 body; deliberately no Retry-After header.
    return ApiError(429, "RequestError", "Too many requests",
                    data={"remainingPoints": 0, "msBeforeNext": ms_before_next, "consumedPoints": consumed})


def server_error(status: int) -> ApiError:
    if status == 503:
        return ApiError(503, "service-unavailable", "Service temporarily unavailable", include_status=True)
    return ApiError(status, "internal-server-error", "An unexpected error occurred", include_status=True)


def feature_unavailable(feature_name: str, status: int) -> ApiError:
    """The workspace's plan lacks the product behind this endpoint (status undocumented; configurable)."""
    message = f"This workspace's plan does not include {feature_name}."
    if status == 404:
        return ApiError(404, "not-found", message, data=None)
    if status == 401:
        return ApiError(401, "unauthorized", message, include_status=True)
    if status == 422:
        return ApiError(422, "ValidationFailure", message, include_status=True)
    return ApiError(status, "forbidden", message, include_status=True)


def alpha_not_enabled(operation_id: str) -> ApiError:
    return ApiError(403, "forbidden", f"{operation_id} is an alpha endpoint that is not enabled for this workspace.",
                    include_status=True)


def missing(field: str, hint: str = "") -> ApiError:
    return validation(field, f"{field} is required{': ' + hint if hint else ''}")
