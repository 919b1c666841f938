"""Constants of the Segment Public API and of this source. No logic lives here."""

REGION_HOSTS = {
    "us": "https://api.segmentapis.com",
    "eu": "https://eu1.api.segmentapis.com",
}
DEFAULT_REGION = "us"

# The API versions each request through the Accept header (no version in the path).
MEDIA_TYPES = {
    "stable": "application/vnd.segment.v1+json",
    "beta": "application/vnd.segment.v1beta+json",
    "alpha": "application/vnd.segment.v1alpha+json",
}

MAX_PAGE_SIZE = 1000
AUDIT_RETENTION_DAYS = 90
# A first read of the audit trail starts this far inside the retention window, so that its start is still
# inside retention when the API receives it.
AUDIT_FIRST_READ_MARGIN_SECONDS = 300
# The audit trail is re-read this far back on every run so that late-arriving events are not missed;
# rows are merged on id, so the overlap never duplicates an event.
AUDIT_OVERLAP_SECONDS = 300

# HTTP behaviour
CONNECT_TIMEOUT_SECONDS = 10
# each wait for data, and the time a page's body may take once its headers came
READ_TIMEOUT_SECONDS = 60
MAX_ATTEMPTS = 8
# slow failures (no answer in time) and malformed bodies are worth a few attempts, not MAX_ATTEMPTS
FEW_ATTEMPTS = 3
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 60.0
# Upper bound on a single rate-limit wait the API asks for; longer waits mean something is wrong.
MAX_RATE_LIMIT_WAIT_SECONDS = 300.0
# most requests in flight unless the user sets one; the run starts lower and follows the API (`concurrency`)
DEFAULT_MAX_CONCURRENCY = 32
DEFAULT_REQUESTS_PER_MINUTE = 1200

# Source write keys are credentials: by default only a fingerprint is stored.
WRITE_KEY_FINGERPRINT_PREFIX = "sha256:"
