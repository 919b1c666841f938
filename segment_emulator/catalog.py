"""The Segment catalog as embedded in every source, destination and warehouse (`metadata`, facts §3.23-3.25).

Each entry is built once at import time and shared by reference by every instance of that type, which keeps
a large workspace small in memory. Options are declared once with `Opt`: the same declaration yields the
catalog's `IntegrationOptionBeta` and the sampler used to generate instance settings. `secret=True` marks the
settings the API masks (destinations) or never returns (warehouse passwords).
"""

from __future__ import annotations

from dataclasses import dataclass
from random import Random
from typing import Any, Callable

from .ids import ALNUM, HEX, stable_alnum, stable_hex

Sampler = Callable[[Random], Any]

SECRET_MASK = "\u2022" * 10  # "••••••••••", the API keeps only the last four characters after it


def mask(value: str) -> str:
    """How the API shows a destination secret: bullets plus the last four characters; unset stays ``""``."""
    return SECRET_MASK + value[-4:] if value else ""


# --- samplers: small factories producing realistic setting values -------------------------------------------


def const(value: Any) -> Sampler:
    return lambda rng: value


def pick(*values: Any) -> Sampler:
    return lambda rng: rng.choice(values)


def chance(probability: float) -> Sampler:
    return lambda rng: rng.random() < probability


def hex_secret(length: int = 32, prefix: str = "") -> Sampler:
    return lambda rng: prefix + "".join(rng.choices(HEX, k=length))


def token_secret(length: int = 40, prefix: str = "") -> Sampler:
    return lambda rng: prefix + "".join(rng.choices(ALNUM, k=length))


def digits(length: int, prefix: str = "") -> Sampler:
    return lambda rng: prefix + "".join(rng.choices("0123456789", k=length))


def sometimes(sampler: Sampler, probability: float, otherwise: Any = "") -> Sampler:
    return lambda rng: sampler(rng) if rng.random() < probability else otherwise


def some_of(*values: str) -> Sampler:
    return lambda rng: sorted(rng.sample(values, rng.randint(0, len(values))))


def mapping(keys: tuple[str, ...], values: tuple[str, ...]) -> Sampler:
    return lambda rng: {key: rng.choice(values) for key in rng.sample(keys, rng.randint(1, len(keys)))}


COMMERCE_EVENTS = ("Order Completed", "Product Added", "Checkout Started", "Product Viewed", "Signed Up")
TRAITS = ("plan", "company", "title", "industry", "lifetime_value")


# --- declarations ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Opt:
    """One catalog setting: its `IntegrationOptionBeta` description plus how to sample an instance value."""

    name: str
    type: str
    label: str
    description: str
    sample: Sampler
    required: bool = False
    default: Any = None
    secret: bool = False

    def to_api(self) -> dict[str, Any]:
        option = {"name": self.name, "type": self.type, "required": self.required,
                  "description": self.description, "label": self.label}
        if self.default is not None:
            option["defaultValue"] = self.default
        return option


@dataclass(frozen=True)
class CatalogEntry:
    """A catalog item: the `metadata` dict the API embeds, and the options that drive instance settings."""

    metadata: dict[str, Any]
    options: tuple[Opt, ...]
    secrets: frozenset[str] = frozenset()

    @property
    def slug(self) -> str:
        return self.metadata["slug"]

    @property
    def name(self) -> str:
        return self.metadata["name"]

    def sample_settings(self, rng: Random) -> dict[str, Any]:
        """Clear-text settings of a new instance, secrets included."""
        return {opt.name: opt.sample(rng) for opt in self.options}


def _logos(slug: str) -> dict[str, Any]:
    base = f"https://cdn-devcenter.segment.com/{stable_hex('logo:' + slug, 32)}"
    return {"default": f"{base}.svg", "mark": f"{base}-mark.svg", "alt": ""}


def _entry(metadata: dict[str, Any], options: tuple[Opt, ...]) -> CatalogEntry:
    metadata["options"] = [opt.to_api() for opt in options]
    return CatalogEntry(metadata, options, frozenset(opt.name for opt in options if opt.secret))


# --- sources (SourceMetadataV1) -------------------------------------------------------------------------------


def _source(slug: str, name: str, description: str, categories: list[str], options: tuple[Opt, ...] = (),
            cloud_event: bool = False, status: str = "PUBLIC") -> CatalogEntry:
    metadata = {
        "id": stable_alnum("source:" + slug), "slug": slug, "name": name, "description": description,
        "logos": _logos(slug), "categories": categories, "isCloudEventSource": cloud_event,
        "status": status, "partnerOwned": False,
    }
    return _entry(metadata, options)


def _website_options() -> tuple[Opt, ...]:
    return (
        Opt("website", "string", "Website", "The URL of the website this source tracks.",
            pick("https://www.acme.example", "https://shop.acme.example", "https://app.acme.example")),
        Opt("consentManagement", "object", "Consent Management", "Consent settings for this source.",
            lambda rng: {"enabled": rng.random() < 0.4, "categories": rng.sample(["C0001", "C0002", "C0004"], 2)}),
    )


def _mobile_options(platform: str) -> tuple[Opt, ...]:
    return (
        Opt("bundleId", "string", "Bundle ID", f"The {platform} application identifier.",
            pick("com.acme.shop", "com.acme.app", "com.acme.companion")),
        Opt("trackLifecycleEvents", "boolean", "Track Lifecycle Events", "Automatically track app lifecycle events.",
            chance(0.8), default=True),
    )


def _cloud_options(objects: tuple[str, ...]) -> tuple[Opt, ...]:
    return (
        Opt("syncSchedule", "string", "Sync Schedule", "How often the cloud source syncs.",
            pick("every 1 hour", "every 3 hours", "every 12 hours", "every 24 hours")),
        Opt("collections", "object", "Collections", "Which collections to sync and their enabled state.",
            lambda rng: {name: {"enabled": rng.random() < 0.8} for name in objects}),
    )


SOURCES: dict[str, CatalogEntry] = {entry.slug: entry for entry in (
    _source("javascript", "Javascript", "Client-side tracking with analytics.js.", ["Website"], _website_options()),
    _source("ios", "iOS", "Track events from iOS apps with analytics-swift.", ["Mobile"], _mobile_options("iOS")),
    _source("android", "Android", "Track events from Android apps with analytics-kotlin.", ["Mobile"],
            _mobile_options("Android")),
    _source("react-native", "React Native", "Track events from React Native apps.", ["Mobile"],
            _mobile_options("React Native")),
    _source("node", "Node.js", "Server-side tracking with analytics-node.", ["Server"]),
    _source("python", "Python", "Server-side tracking with analytics-python.", ["Server"]),
    _source("java", "Java", "Server-side tracking with analytics-java.", ["Server"]),
    _source("go", "Go", "Server-side tracking with analytics-go.", ["Server"]),
    _source("http-api", "HTTP API", "Send data to Segment from anything that speaks HTTP.", ["Server"]),
    _source("stripe", "Stripe", "Syncs Stripe objects into your warehouse.", ["Payments"],
            _cloud_options(("charges", "customers", "invoices", "subscriptions", "refunds"))),
    _source("salesforce", "Salesforce", "Syncs Salesforce CRM objects into your warehouse.", ["CRM"],
            _cloud_options(("accounts", "contacts", "leads", "opportunities"))),
    _source("zendesk", "Zendesk", "Syncs Zendesk tickets and users.", ["Helpdesk"],
            _cloud_options(("tickets", "users", "organizations", "ticket_metrics"))),
    _source("hubspot", "HubSpot", "Syncs HubSpot marketing objects.", ["CRM", "Marketing Automation"],
            _cloud_options(("contacts", "companies", "deals", "email_events"))),
    _source("facebook-lead-ads", "Facebook Lead Ads", "Turns Facebook lead ads submissions into identify calls.",
            ["Advertising"], cloud_event=True),
)}


# --- destinations (DestinationMetadataV1) ---------------------------------------------------------------------


def _field(key: str, label: str, type_: str, description: str, order: int, *, required: bool = False,
           default: Any = None, multiple: bool = False, choices: Any = None, dynamic: bool = False) -> dict:
    """One `DestinationMetadataActionFieldV1`; `_action` fills in its id."""
    action_field = {
        "id": "", "sortOrder": order, "fieldKey": key, "label": label,
        "type": type_, "description": description, "required": required, "multiple": multiple,
        "dynamic": dynamic, "allowNull": False, "hidden": False,
    }
    if default is not None:
        action_field["defaultValue"] = default
    if choices is not None:
        action_field["choices"] = choices
    return action_field


def _action(service: str, slug: str, name: str, description: str, trigger: str | None, fields: list[dict]) -> dict:
    for action_field in fields:
        action_field["id"] = stable_alnum(f"field:{service}:{slug}:{action_field['fieldKey']}", 22)
    return {"id": stable_alnum(f"action:{service}:{slug}", 22), "slug": slug, "name": name,
            "description": description, "platform": "CLOUD", "hidden": False, "defaultTrigger": trigger,
            "fields": fields}


def _event_fields() -> list[dict]:
    return [
        _field("event_name", "Event Name", "STRING", "The name of the event.", 0, required=True,
               default={"@path": "$.event"}),
        _field("user_id", "User ID", "STRING", "The unique user identifier.", 1, default={"@path": "$.userId"}),
        _field("properties", "Event Properties", "OBJECT", "Properties sent with the event.", 2,
               default={"@path": "$.properties"}),
        _field("time", "Timestamp", "DATETIME", "When the event happened.", 3, default={"@path": "$.timestamp"}),
    ]


def _purchase_fields() -> list[dict]:
    return [
        _field("currency", "Currency", "STRING", "ISO 4217 currency code.", 0, required=True,
               default={"@path": "$.properties.currency"}),
        _field("value", "Value", "NUMBER", "Total value of the purchase.", 1, required=True,
               default={"@path": "$.properties.revenue"}),
        _field("items", "Products", "OBJECT", "Products in the order.", 2, multiple=True,
               default={"@path": "$.properties.products"}),
    ]


def _user_fields() -> list[dict]:
    return [
        _field("external_id", "External User ID", "STRING", "The user id in your system.", 0, required=True,
               default={"@path": "$.userId"}),
        _field("email", "Email", "STRING", "The user's email address.", 1, default={"@path": "$.traits.email"}),
        _field("custom_attributes", "Custom Attributes", "OBJECT", "Traits to store on the profile.", 2,
               default={"@path": "$.traits"}),
    ]


def _actions_pack(service: str) -> tuple[list[dict], list[dict]]:
    """A typical Actions destination: track/purchase/identify actions plus the presets that enable them."""
    actions = [
        _action(service, "trackEvent", "Track Event", f"Send a track event to {service}.", 'type = "track"',
                _event_fields()),
        _action(service, "trackPurchase", "Track Purchase", f"Send purchases to {service}.",
                'event = "Order Completed"', _purchase_fields()),
        _action(service, "updateUserProfile", "Update User Profile", f"Create or update a {service} profile.",
                'type = "identify"', _user_fields()),
    ]
    presets = [{"actionId": action["id"], "name": action["name"],
                "fields": {f["fieldKey"]: f.get("defaultValue", "") for f in action["fields"]},
                "trigger": action["defaultTrigger"]} for action in actions]
    return actions, presets


def _destination(slug: str, name: str, description: str, categories: list[str], options: tuple[Opt, ...], *,
                 website: str, actions: bool = False, browser: bool = True, status: str = "PUBLIC",
                 previous_names: tuple[str, ...] = ()) -> CatalogEntry:
    action_list, presets = _actions_pack(name.replace(" (Actions)", "")) if actions else ([], [])
    components = [{"type": "SERVER", "code": f"https://github.com/segmentio/action-destinations/tree/main/{slug}",
                   "owner": "SEGMENT"}]
    if browser and not actions:
        components.append({"type": "BROWSER", "code": f"https://github.com/segment-integrations/{slug}",
                           "owner": "SEGMENT"})
    metadata = {
        "id": stable_hex("destination:" + slug), "name": name, "slug": slug, "description": description,
        "website": website, "logos": _logos(slug), "status": status,
        "previousNames": [name, *previous_names], "categories": categories, "components": components,
        "supportedFeatures": {"cloudModeInstances": "MULTIPLE" if actions else "SINGLE",
                              "deviceModeInstances": "NONE" if actions else "SINGLE",
                              "replay": actions, "browserUnbundling": not actions,
                              "browserUnbundlingPublic": not actions},
        "supportedMethods": {"pageview": True, "identify": True, "alias": not actions, "track": True,
                             "group": not actions},
        "supportedPlatforms": {"browser": browser, "server": True, "mobile": not actions, "warehouse": False,
                               "cloudAppObject": False, "linkedAudiences": actions},
        "actions": action_list, "presets": presets,
        "contacts": [{"name": "Segment Integrations", "email": "integrations@segment.example",
                      "role": "maintainer", "isPrimary": True}],
        "partnerOwned": False, "supportedRegions": ["us-west-2", "eu-west-1"], "regionEndpoints": ["US", "EU"],
    }
    return _entry(metadata, options)


def _api_key(label: str = "API Key", name: str = "apiKey", length: int = 32) -> Opt:
    return Opt(name, "string", label, f"Your {label}, found in the account settings.", hex_secret(length),
               required=True, secret=True)


DESTINATIONS: dict[str, CatalogEntry] = {entry.slug: entry for entry in (
    _destination("amplitude", "Amplitude", "Product analytics for web and mobile.", ["Analytics"], (
        _api_key(),
        Opt("secretKey", "string", "Secret Key", "Used to delete users; often left unset.",
            sometimes(hex_secret(32), 0.7), secret=True),
        Opt("trackAllPages", "boolean", "Track All Pages", "Send a page event for every page call.", chance(0.3),
            default=False),
        Opt("useLogRevenueV2", "boolean", "Use Log Revenue V2", "Use the revenue V2 API.", chance(0.6)),
        Opt("traitsToIncrement", "array", "Traits To Increment", "Traits to increment on each call.",
            some_of(*TRAITS[:3])),
    ), website="https://amplitude.com"),
    _destination("actions-amplitude", "Amplitude (Actions)", "Product analytics, Actions framework.",
                 ["Analytics"], (_api_key(), _api_key("Secret Key", "secretKey"),
                                 Opt("endpoint", "select", "Endpoint Region", "Amplitude data region.",
                                     pick("north_america", "europe"), default="north_america")),
                 website="https://amplitude.com", actions=True),
    _destination("mixpanel", "Mixpanel", "Event analytics and funnels.", ["Analytics"], (
        _api_key("Project Token", "token"),
        _api_key("API Secret", "apiSecret"),
        Opt("people", "boolean", "Use Mixpanel People", "Send identify traits to Mixpanel People.", chance(0.7)),
        Opt("eventIncrements", "array", "Events to increment in People", "Count these events per user.",
            some_of(*COMMERCE_EVENTS)),
        Opt("superProperties", "array", "Super Properties", "Properties registered on every event.",
            some_of("plan", "platform", "app_version")),
        Opt("trackAllPages", "boolean", "Track All Pages", "Track every page call.", chance(0.4), default=False),
    ), website="https://mixpanel.com"),
    _destination("actions-google-analytics-4", "Google Analytics 4 Cloud",
                 "Send events server-side to the GA4 Measurement Protocol.", ["Analytics"], (
                     Opt("measurementId", "string", "Measurement ID", "The GA4 measurement id.", digits(10, "G-"),
                         required=True),
                     _api_key("API Secret", "apiSecret", 22),
                 ), website="https://analytics.google.com", actions=True, previous_names=("Google Analytics 4",)),
    _destination("actions-braze-cloud", "Braze Cloud Mode (Actions)", "Customer engagement messaging.",
                 ["SMS & Push Notifications", "Email Marketing"], (
                     _api_key(length=36),
                     Opt("app_id", "string", "App ID", "The Braze app identifier.", token_secret(36), required=True),
                     Opt("endpoint", "select", "REST Endpoint", "Your Braze REST endpoint.",
                         pick("https://rest.iad-01.braze.com", "https://rest.fra-01.braze.eu"), required=True),
                 ), website="https://www.braze.com", actions=True),
    _destination("actions-facebook-conversions-api", "Facebook Conversions API (Actions)",
                 "Send web and offline conversions to Meta.", ["Advertising"], (
                     Opt("pixelId", "string", "Pixel ID", "Your Meta pixel id.", digits(15), required=True),
                     _api_key("Access Token", "token", 48),
                     Opt("testEventCode", "string", "Test Event Code", "Routes events to the test tool.",
                         pick("", "", "TEST12345")),
                 ), website="https://www.facebook.com/business", actions=True),
    _destination("actions-webhook", "Webhooks (Actions)", "Send events to any HTTP endpoint.", ["Raw Data"], (
        _api_key("Shared Secret", "sharedSecret", 24),
    ), website="https://segment.com/docs/connections/destinations/catalog/actions-webhook/", actions=True),
    _destination("slack", "Slack", "Post selected events to Slack channels.", ["Productivity"], (
        Opt("incomingWebhookUrl", "string", "Incoming Webhook URL", "The Slack incoming webhook.",
            token_secret(24, "https://hooks.slack.com/services/T0000/B0000/"), required=True, secret=True),
        Opt("channels", "text-map", "Event Channels", "Slack channel per event name.",
            mapping(COMMERCE_EVENTS[:3], ("#sales", "#growth", "#alerts"))),
        Opt("templates", "text-map", "Event Templates", "Message template per event name.",
            mapping(COMMERCE_EVENTS[:2], ("{{name}} did {{event}}", "New order from {{properties.email}}"))),
        Opt("username", "string", "Bot Username", "Name the bot posts as.", pick("Segment", "Segment Bot")),
    ), website="https://slack.com", browser=False),
    _destination("google-ads-conversions", "Google Ads Conversions", "Upload offline and enhanced conversions.",
                 ["Advertising"], (
                     Opt("customerId", "string", "Customer ID", "Google Ads customer id.", digits(10)),
                     Opt("conversionTrackingId", "string", "Conversion ID", "The conversion tracking id.",
                         digits(9, "AW-")),
                 ), website="https://ads.google.com", actions=True),
    _destination("intercom", "Intercom", "Customer messaging and support.", ["Helpdesk", "Livechat"], (
        Opt("appId", "string", "App ID", "Your Intercom app id.", token_secret(8), required=True),
        _api_key("Access Token", "accessToken", 60),
        Opt("richLinkProperties", "array", "Rich Link Properties", "Properties rendered as links.",
            some_of("article_url", "invoice_url")),
        Opt("collectContext", "boolean", "Collect Context", "Send device context.", chance(0.5)),
    ), website="https://www.intercom.com"),
    _destination("customerio", "Customer.io", "Automated messaging on behavior.", ["Email Marketing"], (
        Opt("siteId", "string", "Site ID", "Your Customer.io site id.", hex_secret(20), required=True),
        _api_key(length=20),
        Opt("convertToUnixTime", "boolean", "Convert timestamps", "Convert ISO dates to unix time.", chance(0.5)),
    ), website="https://customer.io"),
    _destination("hubspot", "HubSpot", "Inbound marketing and CRM.", ["CRM", "Email Marketing"], (
        Opt("portalId", "string", "Hub ID", "Your HubSpot portal id.", digits(8), required=True),
        _api_key("Private App Token", "accessToken", 44),
        Opt("loadFormsSDK", "boolean", "Load Forms SDK", "Load HubSpot forms.", chance(0.3), default=False),
    ), website="https://www.hubspot.com"),
    _destination("actions-salesforce", "Salesforce (Actions)", "Create and update Salesforce records.", ["CRM"], (
        Opt("instanceUrl", "string", "Instance URL", "Your Salesforce instance.",
            pick("https://acme.my.salesforce.com", "https://acme--sandbox.my.salesforce.com"), required=True),
        Opt("isSandbox", "boolean", "Sandbox Instance", "Connect to a sandbox.", chance(0.2), default=False),
    ), website="https://www.salesforce.com", actions=True),
    _destination("optimizely-web", "Optimizely Web", "Experimentation for websites.", ["A/B Testing"], (
        Opt("listen", "boolean", "Send experiment data", "Track experiment viewed events.", chance(0.7)),
        Opt("trackNamedPages", "boolean", "Track Named Pages", "Track named page calls.", chance(0.5)),
        Opt("customExperimentProperties", "text-map", "Custom Experiment Properties", "Extra properties.",
            mapping(("experiment_key", "variation_key"), ("exp", "var", "campaign"))),
    ), website="https://www.optimizely.com"),
    _destination("fullstory", "FullStory", "Session replay and digital experience analytics.",
                 ["Heatmaps & Recordings"], (
        Opt("org", "string", "FS Org", "Your FullStory org id.", token_secret(5), required=True),
        Opt("debug", "boolean", "Debug Mode", "Log debug output.", chance(0.1), default=False),
        Opt("trackAllPages", "boolean", "Track All Pages", "Track every page call.", chance(0.5)),
    ), website="https://www.fullstory.com"),
    _destination("hotjar", "Hotjar", "Heatmaps, recordings and surveys.", ["Heatmaps & Recordings"], (
        Opt("hjid", "number", "Hotjar ID", "Your site id.", lambda rng: rng.randint(100000, 9999999), required=True),
    ), website="https://www.hotjar.com"),
    _destination("iterable", "Iterable", "Cross-channel marketing.", ["Email Marketing", "SMS & Push Notifications"], (
        _api_key(),
        Opt("trackAllPages", "boolean", "Track All Pages", "Send all page calls.", chance(0.2)),
        Opt("mergeNestedObjects", "boolean", "Merge Nested Objects", "Merge nested traits.", chance(0.5)),
    ), website="https://iterable.com"),
    _destination("google-tag-manager", "Google Tag Manager", "Manage marketing tags.", ["Tag Managers"], (
        Opt("containerId", "string", "Container ID", "Your GTM container.", token_secret(7, "GTM-"), required=True),
        Opt("environment", "string", "Environment", "GTM environment parameters.", pick("", "env-2", "env-5")),
        Opt("trackNamedPages", "boolean", "Track Named Pages", "Fire tags on named pages.", chance(0.5)),
    ), website="https://tagmanager.google.com"),
    _destination("amazon-s3", "Amazon S3", "Archive raw events in S3.", ["Raw Data"], (
        Opt("bucket", "string", "Bucket Name", "The S3 bucket.", pick("acme-segment-logs", "acme-raw-events"),
            required=True),
        Opt("region", "select", "Region", "Bucket region.", pick("us-east-1", "us-west-2", "eu-west-1")),
        Opt("useServerSideEncryption", "boolean", "Server Side Encryption", "Encrypt objects.", chance(0.8)),
    ), website="https://aws.amazon.com/s3", browser=False),
    _destination("actions-segment-profiles", "Segment Profiles", "Send data to Segment Unify profiles.",
                 ["Raw Data"], (), website="https://segment.com", actions=True, status="PUBLIC_BETA"),
)}


# --- warehouses (WarehouseMetadataV1) -------------------------------------------------------------------------


def _warehouse(slug: str, name: str, description: str, options: tuple[Opt, ...]) -> CatalogEntry:
    metadata = {"id": stable_alnum("warehouse:" + slug, 10), "slug": slug, "name": name,
                "description": description, "logos": _logos(slug)}
    return _entry(metadata, options)


def _conn(name: str, label: str, sample: Sampler, required: bool = True) -> Opt:
    return Opt(name, "string", label, f"The {label.lower()} used to connect.", sample, required=required)


PASSWORD = Opt("password", "password", "Password", "Never returned by the API.", token_secret(20), required=True,
               secret=True)

WAREHOUSES: dict[str, CatalogEntry] = {entry.slug: entry for entry in (
    _warehouse("snowflake", "Snowflake", "Data warehouse built for the cloud.", (
        _conn("account", "Account", lambda rng: f"acme-{rng.choice(['xy', 'ab', 'qq'])}{rng.randint(10000, 99999)}"),
        _conn("database", "Database", pick("SEGMENT_EVENTS", "RAW", "ANALYTICS")),
        _conn("warehouse", "Warehouse", pick("LOADING", "SEGMENT_WH")),
        _conn("username", "Username", pick("SEGMENT_USER", "SEGMENT_LOADER")),
        _conn("role", "Role", pick("SEGMENT_ROLE", "LOADER"), required=False),
        PASSWORD)),
    _warehouse("bigquery", "BigQuery", "Google's serverless data warehouse.", (
        _conn("project", "Project", pick("acme-analytics", "acme-data-prod")),
        _conn("location", "Location", pick("US", "EU")),
        Opt("credentials", "password", "Service Account Credentials", "Never returned by the API.",
            token_secret(64), required=True, secret=True))),
    _warehouse("redshift", "Redshift", "Amazon's petabyte-scale data warehouse.", (
        _conn("hostname", "Host", lambda rng: f"acme-{rng.randint(1, 9)}.c0ffee.us-east-1.redshift.amazonaws.com"),
        Opt("port", "number", "Port", "Database port.", const(5439), default=5439),
        _conn("database", "Database", pick("segment", "events")),
        _conn("username", "Username", pick("segment", "segment_loader")),
        PASSWORD)),
    _warehouse("postgres", "Postgres", "Open source relational database.", (
        _conn("hostname", "Host", pick("pg.acme.example", "analytics-db.acme.example")),
        Opt("port", "number", "Port", "Database port.", const(5432), default=5432),
        _conn("database", "Database", pick("segment", "warehouse")),
        _conn("username", "Username", pick("segment",)),
        Opt("ssl", "boolean", "Require SSL", "Connect over TLS.", chance(0.9), default=True),
        PASSWORD)),
    _warehouse("databricks", "Databricks", "Lakehouse platform on Delta Lake.", (
        _conn("workspaceUrl", "Workspace URL", lambda rng: f"dbc-{rng.randint(1000, 9999)}-acme.cloud.databricks.com"),
        _conn("catalog", "Catalog", pick("segment", "main")),
        _conn("httpPath", "HTTP Path", lambda rng: f"/sql/1.0/warehouses/{''.join(rng.choices(HEX, k=16))}"),
        Opt("token", "password", "Access Token", "Never returned by the API.", token_secret(36, "dapi"),
            required=True, secret=True))),
)}


# --- Reverse ETL warehouse sources (SourceMetadataV1 of the sources RETL models read from) -------------------


def _retl_source(kind: str, name: str, options: tuple[Opt, ...]) -> CatalogEntry:
    return _source(f"reverse-etl-{kind}", name, f"Sync data models from {name} to your destinations.",
                   ["Warehouse"], options)


RETL_SOURCES: dict[str, CatalogEntry] = {
    kind: _retl_source(kind, name, (
        Opt("schemaName", "string", "Schema", "The schema Segment writes its bookkeeping to.",
            pick("__segment_reverse_etl", "segment_retl"), required=True),
        Opt("credentialId", "string", "Credential", "The shared credential used to connect.",
            token_secret(27), required=True),
    ))
    for kind, name in (("snowflake", "Snowflake"), ("bigquery", "BigQuery"), ("databricks", "Databricks"),
                       ("redshift", "Redshift"), ("postgres", "Postgres"))
}


# --- the full catalog (GET /catalog/...) ----------------------------------------------------------------------
# The real catalog lists hundreds of integrations, far more than any workspace uses. Besides the entries above
# (which workspaces instantiate) we list a long tail of invented but plausible integrations, built once from a
# fixed seed so every workspace and every run sees the same catalog.

_TAIL_STEMS = ("Acme", "Beacon", "Bright", "Cargo", "Cloud", "Crest", "Data", "Delta", "Echo", "Ember", "Flux",
               "Glide", "Harbor", "Helio", "Insight", "Juno", "Kite", "Lumen", "Metric", "Nimbus", "Nova", "Orbit",
               "Pixel", "Pulse", "Quanta", "Relay", "Sage", "Signal", "Summit", "Tandem", "Tide", "Vector",
               "Vista", "Wave", "Zephyr")
_TAIL_ENDINGS = ("ly", "io", "metrics", "mail", "push", "stack", "desk", "flow", "base", "hub", "lytics", "ads",
                 "chat", "loop", "sense", "cast")
_DESTINATION_CATEGORIES = ("Analytics", "Advertising", "A/B Testing", "CRM", "Email Marketing", "Helpdesk",
                           "Livechat", "Marketing Automation", "Personalization", "Raw Data", "Referrals",
                           "SMS & Push Notifications", "Surveys", "Attribution", "Enrichment", "Heatmaps & Recordings")
_SOURCE_CATEGORIES = ("Website", "Mobile", "Server", "Advertising", "CRM", "Email Marketing", "Helpdesk", "Payments",
                      "Surveys", "Marketing Automation", "Enrichment", "Attribution")
_STATUSES = ("PUBLIC",) * 12 + ("PUBLIC_BETA", "PUBLIC_BETA", "DEPRECATED", "PRIVATE_BETA")
EXTRA_WAREHOUSES = (("azuresqldw", "Azure Synapse Analytics", "Microsoft's cloud data warehouse."),
                    ("db2", "IBM Db2 Warehouse", "IBM's cloud data warehouse."),
                    ("clickhouse", "ClickHouse", "Column-oriented analytics database."),
                    ("data-lakes", "Segment Data Lakes (AWS)", "Segment-managed data lake on S3 and Glue."),
                    ("data-lakes-azure", "Segment Data Lakes (Azure)", "Segment-managed data lake on ADLS."))
TAIL_SOURCES, TAIL_DESTINATIONS = 140, 420


def _tail_names(rng: Random, count: int, taken: set[str]) -> list[str]:
    names = []
    pairs = [f"{stem}{ending}" for stem in _TAIL_STEMS for ending in _TAIL_ENDINGS]
    rng.shuffle(pairs)
    for name in pairs:
        if len(names) == count:
            break
        if name.lower() not in taken:
            taken.add(name.lower())
            names.append(name)
    return names


def _tail_option(rng: Random, name: str) -> Opt:
    kind = rng.choice(("apiKey", "apiKey", "region", "trackAllPages", "accountId"))
    if kind == "apiKey":
        return _api_key()
    if kind == "region":
        return Opt("region", "select", "Region", f"The {name} data region.", pick("us", "eu"), default="us")
    if kind == "trackAllPages":
        return Opt("trackAllPages", "boolean", "Track All Pages", "Send every page call.", chance(0.5), default=False)
    return Opt("accountId", "string", "Account ID", f"Your {name} account id.", digits(8), required=True)


def _build_listing() -> dict[str, list[dict[str, Any]]]:
    rng = Random("segment-catalog")
    taken = {entry.name.lower() for entry in (*SOURCES.values(), *DESTINATIONS.values())}
    sources = [entry.metadata for entry in (*SOURCES.values(), *RETL_SOURCES.values())]
    for name in _tail_names(rng, TAIL_SOURCES, taken):
        categories = [rng.choice(_SOURCE_CATEGORIES)]
        cloud = categories[0] not in ("Website", "Mobile", "Server")
        slug = slugify_catalog(name + (" source" if rng.random() < 0.2 else ""))
        options = (_tail_option(rng, name),) if cloud else ()
        sources.append(_source(slug, name, f"Collect data from {name}.", categories, options, cloud_event=cloud
                               and rng.random() < 0.3, status=rng.choice(_STATUSES)).metadata)
    destinations = [entry.metadata for entry in DESTINATIONS.values()]
    for name in _tail_names(rng, TAIL_DESTINATIONS, taken):
        actions = rng.random() < 0.35
        display = f"{name} (Actions)" if actions else name
        categories = sorted({rng.choice(_DESTINATION_CATEGORIES) for _ in range(rng.randint(1, 2))})
        options = tuple({opt.name: opt for opt in (_tail_option(rng, name) for _ in range(rng.randint(0, 3)))}
                        .values())
        slug = ("actions-" if actions else "") + slugify_catalog(name)
        destinations.append(_destination(slug, display, f"Send data to {name}.", categories, options,
                                         website=f"https://www.{name.lower()}.example", actions=actions,
                                         browser=rng.random() < 0.5, status=rng.choice(_STATUSES)).metadata)
    warehouses = [entry.metadata for entry in WAREHOUSES.values()]
    warehouses += [_warehouse(slug, name, description, (_conn("hostname", "Host", const(f"{slug}.acme.example")),
                                                        PASSWORD)).metadata
                   for slug, name, description in EXTRA_WAREHOUSES]
    return {"sources": sorted(sources, key=lambda item: item["slug"]),
            "destinations": sorted(destinations, key=lambda item: item["slug"]),
            "warehouses": sorted(warehouses, key=lambda item: item["slug"])}


def slugify_catalog(name: str) -> str:
    cleaned = "".join(char.lower() if char.isalnum() else "-" for char in name)
    return "-".join(part for part in cleaned.split("-") if part)


_LISTING: dict[str, list[dict[str, Any]]] = {}


def listing() -> dict[str, list[dict[str, Any]]]:
    """The full catalog, `{"sources": [...], "destinations": [...], "warehouses": [...]}` of metadata dicts,
    sorted by slug. Built on first use and shared (the entries the workspace uses are the same dict objects)."""
    if not _LISTING:
        _LISTING.update(_build_listing())
    return _LISTING
