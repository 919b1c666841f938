"""The HTTP side: a threaded stdlib server on 127.0.0.1 answering like api.segmentapis.com.

A request goes through, in order: latency, method (405), auth (401), global rate limit (429), scripted or
random fault, route (404), role permission (401), plan feature (403 or as configured), alpha enablement (403),
`Accept` version (415), per-endpoint rate limit (429), handler (200/404/422). `Emulator.respond` is that
pipeline as a plain function; `_Handler` only moves bytes (and stalls them, for the `hang` and `slow-body`
faults). Requests to the Tracking API's two paths (`tracking.PATHS`) go to `Emulator.track` instead, which
`tracking` answers.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from random import Random
from typing import Any, Iterable, Mapping
from urllib.parse import parse_qs, urlsplit

from . import config_api, errors
from .errors import ApiError
from .pagination import LAST_PAGE_NEXT_MODES
from .ratelimit import FixedWindowLimiter, WindowState
from .permissions import FEATURE_NAMES, FEATURE_STATUSES, OWNER, Access, check_features, resolve_roles
from .routes import ROUTES, Call, Route, find_route
from .tracking import TrackingApi, is_tracking_path
from .versions import media_type, negotiate
from .workspace import Workspace

JSON = "application/json"
# The default random mix. Every kind, for `fault_kinds` and `fail_next`: these, any HTTP status, and
# "html" (a 200 whose body is a proxy's HTML error page), "hang" (the request is read and never answered) and
# "slow-body" (the real answer's headers, then its body trickling a byte at a time).
FAULT_KINDS = ("500", "503", "drop", "truncate")
NAMED_FAULTS = ("drop", "truncate", "html", "hang", "slow-body")
# faults that change the real answer rather than replace it
ANSWER_FAULTS = ("truncate", "slow-body")
PROXY_ERROR_PAGE = (b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1>"
                    b"</center><hr><center>nginx</center></body></html>")
REGIONS = {"us": "api.segmentapis.com", "eu": "eu1.api.segmentapis.com"}


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    query: dict[str, list[str]]
    status: int  # 0 when the connection was dropped (or held) without an answer
    accept: str | None
    fault: str | None  # the fault kind ("500", "drop", "hang"...), or "scripted:<kind>" from fail_next
    at: float


@dataclass
class Reply:
    status: int
    body: bytes | None  # None: close the connection without answering
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)
    fault: str | None = None
    delivery: str = "at once"  # "hang": never answer; "trickle": headers, then the body a byte at a time


@dataclass
class _ScriptedFailure:
    prefix: str
    status: str  # a fault kind (see check_fault_kind)
    times: int
    after_pages: int
    served: int = 0  # successful requests to the prefix seen so far

    def matches(self, path: str) -> bool:
        return path_matches(self.prefix, path)


def path_matches(pattern: str, path: str) -> bool:
    """`/sources` is that endpoint only (its children such as `/sources/{id}/settings` are other
    endpoints); a trailing `*` makes it a prefix (`/sources*`, `/sources/*`, `*` for everything)."""
    if pattern.endswith("*"):
        return path.startswith(pattern[:-1])
    return path == pattern or path == pattern.rstrip("/")


def check_fault_kind(kind: int | str) -> str:
    """The kind as the emulator stores it ("500", "html"...); a ValueError names the valid ones."""
    text = str(kind)
    if text in NAMED_FAULTS or (text.isdigit() and 100 <= int(text) <= 599):
        return text
    raise ValueError(f"unknown fault {kind!r}: use an HTTP status or one of {', '.join(NAMED_FAULTS)}")

def _json_bytes(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def _error_reply(error: ApiError) -> Reply:
    return Reply(error.status, _json_bytes(error.body()), headers=dict(error.headers))


def _fault_reply(kind: str, label: str) -> Reply:
    """A failure answered before routing: a dropped or held connection, a proxy's page or an error status."""
    if kind == "drop":
        return Reply(0, None, fault=label)
    if kind == "hang":
        return Reply(0, None, fault=label, delivery="hang")
    if kind == "html":
        return Reply(200, PROXY_ERROR_PAGE, content_type="text/html", fault=label)
    status = int(kind)
    if status == 429:
        error = errors.rate_limited(1000, 1)
    elif status >= 500:
        error = errors.server_error(status)
    else:
        error = ApiError(status, "scripted-failure", f"Scripted failure with status {status}", include_status=True)
    reply = _error_reply(error)
    reply.fault = label
    return reply


class Emulator:
    """A Segment Public API look-alike serving `workspace` over real HTTP on 127.0.0.1.

    tokens: token -> role name: "owner", "member" (a read-only Workspace Member: no write keys, 401 on IAM,
        credentials, audit trail, functions, privacy, usage, Engage and Reverse ETL) or a role of `roles`.
        Default: {"test-token": "owner"}.
    roles: extra or overriding roles, name -> permission areas (see `permissions.AREAS`).
    disabled_features: plan features the workspace lacks (`permissions.FEATURES`: audit_trail, engage,
        functions, live_plugins, profiles_sync, protocols, reverse_etl); their routes answer
        `disabled_feature_status` (403 by default; 404, 401 or 422 are the other plausible answers).
    disabled_alpha: True answers 403 on every alpha-only route (alpha not enabled for the workspace); a set of
        operation ids limits that to those routes.
    region: "us" or "eu"; informational (`region`, `real_host`), the emulator always listens on 127.0.0.1.
        Tokens are per emulator, so a token of the "us" emulator gets 401 from the "eu" one.
    latency_ms: sleep this long in every request (requests run concurrently).
    rate_limit_rps: requests per token per fixed 1-second window (fractions round down, minimum 1); None turns
        rate limiting off. When on, the documented per-endpoint limits of the route table apply too, unless
        `endpoint_rate_limits=False`.
    fault_rate, fault_seed: this fraction of authenticated GETs fails with one of `fault_kinds` (default a 500,
        a 503, a dropped connection or a 200 with a cut JSON body; also "html", "hang", "slow-body" or a status);
        the sequence is reproducible for a seed. `fault_path` limits them to a path (see `fail_next`).
    trickle_seconds: the pause between two bytes of a "slow-body" answer.
    last_page_next: how the last page says "no more": "absent" (the key is left out), "null" or "empty" ("").
    port: 0 picks a free port.
    config_tokens: token -> role for the legacy Config API under `/v1beta` (`config_api.py`); its tokens and
        the Public API's are separate, as in Segment. Default: {"config-token": "owner"}. With `rate_limit_rps`
        on, it is limited to its documented 200 requests a minute per token.
    """

    def __init__(self, workspace: Workspace, tokens: Mapping[str, str] | None = None, *, region: str = "us",
                 latency_ms: float = 0, rate_limit_rps: float | None = None, fault_rate: float = 0.0,
                 fault_seed: int = 0, fault_kinds: Iterable[int | str] = FAULT_KINDS, fault_path: str = "*",
                 trickle_seconds: float = 0.5, last_page_next: str = "absent", port: int = 0,
                 endpoint_rate_limits: bool = True, routes: tuple[Route, ...] = ROUTES,
                 roles: Mapping[str, Iterable[str]] | None = None, disabled_features: Iterable[str] = (),
                 disabled_feature_status: int = 403, disabled_alpha: bool | Iterable[str] = False,
                 config_tokens: Mapping[str, str] | None = None):
        if last_page_next not in LAST_PAGE_NEXT_MODES:
            raise ValueError(f"last_page_next must be one of {LAST_PAGE_NEXT_MODES}")
        if region not in REGIONS:
            raise ValueError(f"region must be one of {', '.join(REGIONS)}")
        if not 0 <= fault_rate <= 1:
            raise ValueError(f"fault_rate must be between 0 and 1, not {fault_rate}")
        if latency_ms < 0 or trickle_seconds <= 0:
            raise ValueError("latency_ms must be 0 or more and trickle_seconds more than 0")
        self.fault_kinds = tuple(check_fault_kind(kind) for kind in fault_kinds)
        if not self.fault_kinds:
            raise ValueError("fault_kinds must name at least one fault")
        self.fault_path = fault_path
        self.trickle_seconds = trickle_seconds
        self.workspace = workspace
        self.tracking = TrackingApi(workspace)  # POST /v1/batch and /v1/track: alerts sent as events
        self.tokens = dict(tokens if tokens is not None else {"test-token": OWNER})
        self.config_tokens = dict(config_tokens if config_tokens is not None else {"config-token": OWNER})
        self.roles = resolve_roles(roles)
        unknown_roles = set(self.tokens.values()) - set(self.roles)
        if unknown_roles:
            raise ValueError(f"unknown token roles {unknown_roles}; use one of {', '.join(sorted(self.roles))}")
        self.disabled_features = check_features(disabled_features)
        if disabled_feature_status not in FEATURE_STATUSES:
            raise ValueError(f"disabled_feature_status must be one of {FEATURE_STATUSES}")
        self.disabled_feature_status = disabled_feature_status
        if isinstance(disabled_alpha, bool):
            self.disabled_alpha: frozenset[str] = frozenset(
                route.operation_id for route in routes if route.alpha_only) if disabled_alpha else frozenset()
        else:
            self.disabled_alpha = frozenset(disabled_alpha)
            unknown_ops = self.disabled_alpha - {route.operation_id for route in routes}
            if unknown_ops:
                raise ValueError(f"disabled_alpha names unknown operations {sorted(unknown_ops)}")
        self.region = region
        self.latency_ms = latency_ms
        self.fault_rate = fault_rate
        self.last_page_next = last_page_next
        self.routes = routes
        self.port = port
        self._global_limiter = FixedWindowLimiter(max(int(rate_limit_rps), 1), 1.0) if rate_limit_rps else None
        self._config_limiter = FixedWindowLimiter(200, 60.0) if rate_limit_rps else None
        self._endpoint_limiters = {route.pattern: FixedWindowLimiter(route.per_minute, 60.0) for route in routes
                                   if rate_limit_rps and endpoint_rate_limits and route.per_minute}
        self._fault_rng = Random(fault_seed)
        self._scripted: list[_ScriptedFailure] = []
        self._records: list[RequestRecord] = []
        self._lock = threading.Lock()
        self._in_flight = 0
        self._max_in_flight = 0  # most API requests being answered at once since the last clear_requests
        self.stopping = threading.Event()  # ends the answers held by "hang" and "slow-body"
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------------------------

    def start(self) -> str:
        if self._server is None:
            self.stopping.clear()
            self._server = _Server(("127.0.0.1", self.port), self)
            self.port = self._server.server_address[1]
            self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="segment-emulator",
                                            daemon=True)
            self._thread.start()
        return self.base_url

    def stop(self) -> None:
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.close_connections()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def allowed(self, token: str, operation_id: str) -> bool:
        """Whether `token` may call the operation at all (role, plan feature and alpha enablement)."""
        route = next((route for route in self.routes if route.operation_id == operation_id), None)
        if route is None:
            raise KeyError(f"no route for operation {operation_id!r}")
        access = Access(self.tokens[token], self.roles[self.tokens[token]])
        return (not (route.owner_only and not access.is_owner) and (not route.area or access.can(route.area))
                and route.feature not in self.disabled_features and operation_id not in self.disabled_alpha)

    @property
    def real_host(self) -> str:
        """The production host this emulator stands in for (informational)."""
        return REGIONS[self.region]

    # --- test controls --------------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """A snapshot of every request answered so far, in the order they were answered."""
        with self._lock:
            return list(self._records)

    def clear_requests(self) -> None:
        with self._lock:
            self._records.clear()
            self._max_in_flight = self._in_flight

    @property
    def in_flight(self) -> int:
        """API requests being answered right now."""
        with self._lock:
            return self._in_flight

    @property
    def max_in_flight(self) -> int:
        """The most API requests this emulator was answering at the same time (since `clear_requests`)."""
        with self._lock:
            return self._max_in_flight

    def fail_next(self, path_prefix: str, status: int | str = 500, times: int = 1, after_pages: int = 0) -> None:
        """Make the next `times` GETs of `path_prefix` fail with `status` (or "drop", "truncate", "html", "hang",
        "slow-body"), once `after_pages` requests to it have succeeded (to fail in the middle of a walk).

        `path_prefix` names one endpoint's path (`/sources` fails the source list, not `/sources/{id}/settings`,
        which the full surface now serves); end it with `*` to match every path under a prefix (`/sources*`)."""
        kind = check_fault_kind(status)
        with self._lock:
            self._scripted.append(_ScriptedFailure(path_prefix, kind, times, after_pages))

    def clear_faults(self) -> None:
        """Forget the faults `fail_next` scripted that were not served yet."""
        with self._lock:
            self._scripted.clear()

    # --- the request pipeline -------------------------------------------------------------------------------

    def respond(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        """Answer one request; also records it in `requests`."""
        started = time.time()
        with self._lock:
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
        try:
            return self._respond(method, target, headers, started)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _respond(self, method: str, target: str, headers: Mapping[str, str], started: float) -> Reply:
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        parts = urlsplit(target)
        path, query = parts.path or "/", parse_qs(parts.query, keep_blank_values=True)
        try:
            if config_api.is_config_path(path):
                reply = self._answer_config(method, path, query, headers)
            else:
                reply = self._answer(method, path, query, headers)
        except ApiError as error:
            reply = _error_reply(error)
        except config_api.ConfigApiError as error:
            reply = Reply(error.status, _json_bytes(error.body()))
        self._after(path, reply)
        record = RequestRecord(method, path, query, reply.status, headers.get("Accept"), reply.fault, started)
        with self._lock:
            self._records.append(record)
        return reply

    def track(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """Answer a request to the Tracking API (`tracking.PATHS`); also records it in `requests`."""
        started, path = time.time(), urlsplit(target).path
        status, payload = self.tracking.answer(method, path, headers, body)
        with self._lock:
            self._records.append(RequestRecord(method, path, {}, status, headers.get("Accept"), None, started))
        return Reply(status, _json_bytes(payload))

    def _answer(self, method: str, path: str, query: dict[str, list[str]], headers: Mapping[str, str]) -> Reply:
        if method != "GET":
            raise errors.method_not_allowed(method)
        token, role = self._authenticate(headers.get("Authorization"))
        window = self._consume(self._global_limiter, token)
        fault = self._scripted_fault(path) or self._random_fault(path)
        if fault and fault[0] not in ANSWER_FAULTS:
            return _fault_reply(*fault)
        route, params = find_route(path, self.routes)
        access = Access(role, self.roles[role])
        if (route.owner_only and not access.is_owner) or (route.area and not access.can(route.area)):
            raise errors.forbidden_for_role()
        if route.feature in self.disabled_features:
            raise errors.feature_unavailable(FEATURE_NAMES[route.feature], self.disabled_feature_status)
        if route.operation_id in self.disabled_alpha:
            raise errors.alpha_not_enabled(route.operation_id)
        version = negotiate(headers.get("Accept"), route.versions)
        endpoint_limiter = self._endpoint_limiters.get(route.pattern)
        window = self._tighter(window, self._consume(endpoint_limiter, (token, route.pattern)))
        call = Call(self.workspace, params, query, role, self.last_page_next, access, token, dict(headers))
        if route.stateless:
            data = route.handler(call)
        else:
            with self.workspace.lock:
                data = route.handler(call)
        reply = Reply(200, _json_bytes({"data": data}), media_type(version), window.headers() if window else {})
        if fault and fault[0] == "truncate":  # a 200 whose JSON stops halfway
            reply.body, reply.fault = reply.body[: max(len(reply.body) // 2, 1)], fault[1]
        elif fault:  # slow-body: the right answer, too slowly to ever arrive
            reply.delivery, reply.fault = "trickle", fault[1]
        return reply

    def _answer_config(self, method: str, path: str, query: dict[str, list[str]], headers: Mapping[str, str]
                       ) -> Reply:
        """The Config API's pipeline: method, its own tokens, its rate limit, scripted faults, route."""
        if method != "GET":
            raise config_api.ConfigApiError(501, 12, f"{method} is not supported: this emulator is read-only")
        scheme, _, token = (headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or token.strip() not in self.config_tokens:
            raise config_api.unauthenticated()
        if self._config_limiter is not None and not self._config_limiter.consume(token.strip()).allowed:
            raise config_api.rate_limited()
        fault = self._scripted_fault(path) or self._random_fault(path)
        if fault and fault[0].isdigit() and int(fault[0]) >= 500:
            reply = Reply(int(fault[0]), _json_bytes(config_api.server_error(int(fault[0])).body()), fault=fault[1])
            return reply
        if fault:
            return _fault_reply(*fault)
        return Reply(200, _json_bytes(config_api.answer(self.workspace, path, query)))

    def _authenticate(self, authorization: str | None) -> tuple[str, str]:
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or token not in self.tokens:
            raise errors.unauthorized()
        return token, self.tokens[token]

    @staticmethod
    def _consume(limiter: FixedWindowLimiter | None, key: Any) -> WindowState | None:
        if limiter is None:
            return None
        window = limiter.consume(key)
        if not window.allowed:
            raise errors.rate_limited(window.ms_before_next, window.consumed)
        return window

    @staticmethod
    def _tighter(first: WindowState | None, second: WindowState | None) -> WindowState | None:
        """The headers describe whichever limit is closer to running out."""
        if first is None or second is None:
            return first or second
        return first if first.remaining <= second.remaining else second

    def _scripted_fault(self, path: str) -> tuple[str, str] | None:
        with self._lock:
            for failure in self._scripted:
                if failure.matches(path) and failure.times > 0 and failure.served >= failure.after_pages:
                    failure.times -= 1
                    return str(failure.status), f"scripted:{failure.status}"
        return None

    def _random_fault(self, path: str) -> tuple[str, str] | None:
        if not self.fault_rate or not path_matches(self.fault_path, path):
            return None
        with self._lock:
            if self._fault_rng.random() >= self.fault_rate:
                return None
            kind = self._fault_rng.choice(self.fault_kinds)
        return kind, kind

    def _after(self, path: str, reply: Reply) -> None:
        """Count successful pages for `fail_next(after_pages=...)` and retire used-up scripts."""
        with self._lock:
            if reply.status == 200 and reply.fault is None:
                for failure in self._scripted:
                    if failure.matches(path) and failure.served < failure.after_pages:
                        failure.served += 1
            self._scripted = [failure for failure in self._scripted if failure.times > 0]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], emulator: Emulator):
        super().__init__(address, _Handler)
        self.emulator = emulator
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Kept-alive client connections would otherwise outlive `stop()`."""
        with self._connections_lock:
            connections, self._connections = list(self._connections), set()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every reply carries Content-Length
    server_version = "segment-emulator"
    timeout = 120  # idle keep-alive connections end eventually
    disable_nagle_algorithm = True  # headers and body are separate writes; Nagle would add ~40 ms per request
    server: _Server

    def _serve(self) -> None:
        body, emulator = self._request_body(), self.server.emulator
        if is_tracking_path(urlsplit(self.path).path):
            reply = emulator.track(self.command, self.path, self.headers, body)
        else:
            reply = emulator.respond(self.command, self.path, self.headers)
        if reply.delivery == "hang":
            self._hold_until_the_client_leaves()
        if reply.body is None:
            self.close_connection = True
            return
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command == "HEAD":
            return
        if reply.delivery == "trickle":
            self._trickle(reply.body)
        else:
            self.wfile.write(reply.body)

    def _hold_until_the_client_leaves(self) -> None:
        """Answers nothing until the client closes the connection (or the emulator stops)."""
        stopping = self.server.emulator.stopping
        while not stopping.wait(0.05):
            readable, _, _ = select.select([self.connection], [], [], 0)
            try:
                if readable and not self.connection.recv(1, socket.MSG_PEEK):
                    return
            except OSError:
                return

    def _trickle(self, body: bytes) -> None:
        stopping, pause = self.server.emulator.stopping, self.server.emulator.trickle_seconds
        self.close_connection = True
        try:
            for index in range(len(body)):
                self.wfile.write(body[index:index + 1])
                self.wfile.flush()
                if stopping.wait(pause):
                    return
        except OSError:  # the client gave up
            return

    def version_string(self) -> str:
        return self.server_version

    def _request_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _serve

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass
