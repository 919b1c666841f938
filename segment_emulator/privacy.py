"""Privacy: deletion/suppression regulations and the suppression list (facts §3.22, §5.13).

Regulations are kept 90 days: generation spreads them over the last ~130 days and the routes hide the older
ones (404 on get, absent from lists). Some regulations were filed through a cloud source
(`/regulations/sources/{sourceId}`, object ids as subjects).
"""

from __future__ import annotations

import base64
import zlib
from datetime import timedelta
from random import Random
from typing import Any

from .ids import alnum_id, iso, ksuid

STATUSES = ("FINISHED",) * 6 + ("RUNNING", "RUNNING", "INITIALIZED", "FAILED", "PARTIAL_SUCCESS", "NOT_SUPPORTED",
                                "INVALID")
FINISHED = {"FINISHED", "FAILED", "PARTIAL_SUCCESS", "NOT_SUPPORTED", "INVALID"}
WORKSPACE_TYPES = ("DELETE_ONLY",) * 3 + ("SUPPRESS_WITH_DELETE", "SUPPRESS_WITH_DELETE", "SUPPRESS_ONLY",
                                          "UNSUPPRESS", "DELETE_INTERNAL", "SUPPRESS_WITH_DELETE_INTERNAL")
SOURCE_TYPES = ("DELETE_ONLY", "DELETE_ARCHIVE_ONLY", "DELETE_INTERNAL")
WORKSPACE_REGULATION_TYPES = ("DELETE_INTERNAL", "DELETE_ONLY", "SUPPRESS_ONLY", "SUPPRESS_WITH_DELETE",
                              "SUPPRESS_WITH_DELETE_INTERNAL", "UNSUPPRESS")
SOURCE_REGULATION_TYPES = WORKSPACE_REGULATION_TYPES + ("DELETE_ARCHIVE_ONLY",)
REGULATION_STATUSES = ("FAILED", "FINISHED", "INITIALIZED", "INVALID", "NOT_SUPPORTED", "PARTIAL_SUCCESS",
                       "RUNNING")
RETENTION = timedelta(days=90)
NOT_FINISHED = "0001-01-01T00:00:00.000Z"
SPAN_DAYS = 130


def subject_id(rng: Random) -> str:
    return rng.choice(("user_", "usr-", "")) + alnum_id(rng, rng.choice((10, 16, 24))).lower()


def regulations(rng: Random, count: int, workspace_id: str, sources: list[dict], destinations_of: Any,
                clock: Any) -> tuple[list[dict], dict[str, dict], dict[str, str]]:
    """(list entries newest first, details by id, regulation id -> source id for source-filed ones)."""
    cloud = [source for source in sources if not source["writeKeys"]]
    event_sources = [source for source in sources if source["writeKeys"]] or sources
    entries, details, by_source = [], {}, {}
    moments = sorted((clock.days_ago(rng, 0.05, SPAN_DAYS) for _ in range(count)), reverse=True)
    for index, created in enumerate(moments):
        from_source = cloud and (index % 5 == 2 or rng.random() < 0.1)
        status = rng.choice(STATUSES)
        kind = rng.choice(SOURCE_TYPES if from_source else WORKSPACE_TYPES)
        entry: dict[str, Any] = {
            "id": ksuid(rng), "subjectType": "OBJECT_ID" if from_source else "USER_ID",
            "subjects": [subject_id(rng) for _ in range(rng.choice((1, 1, 1, 2, 3)))], "status": status,
            "createdAt": iso(created), "regulationType": kind}
        finished = None
        if status in FINISHED:
            finished = iso(min(created + timedelta(hours=rng.uniform(1, 200)), clock.now))
            entry["finishedAt"] = finished
        entries.append(entry)
        streams = []
        for source in ([rng.choice(cloud)] if from_source else rng.sample(event_sources,
                                                                          min(2, len(event_sources)))):
            statuses = []
            for destination in destinations_of(source["id"])[:3]:
                state = status if status in ("INITIALIZED", "RUNNING") else rng.choice(
                    ("FINISHED", "FINISHED", "FINISHED", "NOT_SUPPORTED", "FAILED"))
                item = {"name": destination["metadata"]["name"], "id": destination["id"], "status": state,
                        "errString": "destination returned 500" if state == "FAILED" else ""}
                # finishedAt is required on DestinationStatusV1; unfinished ones carry Go's zero time (guess)
                item["finishedAt"] = finished if state in FINISHED and finished else NOT_FINISHED
                statuses.append(item)
            streams.append({"id": source["id"], "destinationStatus": statuses})
            if from_source:
                by_source[entry["id"]] = source["id"]
        detail = {"id": entry["id"], "workspaceId": workspace_id, "overallStatus": status,
                  "createdAt": entry["createdAt"], "streamStatus": streams}
        if finished:
            detail["finishedAt"] = finished
        details[entry["id"]] = detail
    return entries, details, by_source


def suppressions(rng: Random, count: int, regulation_entries: list[dict]) -> list[dict[str, Any]]:
    """`SuppressedInner` items, one subject each: the subjects of suppressing regulations plus older ones."""
    subjects = [subject for entry in regulation_entries if entry["regulationType"].startswith("SUPPRESS")
                and entry["status"] == "FINISHED" for subject in entry["subjects"]]
    while len(subjects) < count:
        subjects.append(subject_id(rng))
    return sort_suppressions([{"subjectType": "userId", "subjectIds": [subject]} for subject in subjects[:count]])


def suppression_key(item: dict[str, Any]) -> str:
    """The keyset position of a suppressed item, shaped like the API's tokens (`reg-6508-00981`)."""
    text = item["subjectType"] + ":" + ",".join(item["subjectIds"])
    digest = zlib.crc32(text.encode())
    return f"reg-{digest % 10000:04d}-{(digest // 10000) % 100000:05d}-{zlib.adler32(text.encode()):010d}"


def sort_suppressions(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(items, key=suppression_key)


def suppression_cursor(item: dict[str, Any]) -> str:
    return base64.b64encode(suppression_key(item).encode()).decode()
