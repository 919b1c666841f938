"""Word lists that make generated workspaces read like a real company's Segment setup."""

from __future__ import annotations

from random import Random

COMPANIES = (
    ("Acme", "acme.example"), ("Globex", "globex.example"), ("Initech", "initech.example"),
    ("Umbrella", "umbrella.example"), ("Hooli", "hooli.example"), ("Soylent", "soylent.example"),
    ("Wonka", "wonka.example"), ("Tyrell", "tyrell.example"),
)
WORKSPACE_FLAVOURS = (("Production", "prod"), ("Analytics", "analytics"), ("Data Platform", "data"))

FIRST_NAMES = ("Dana", "Priya", "Marco", "Yuki", "Sam", "Olu", "Lena", "Ravi", "Chen", "Ines", "Tom", "Aisha",
               "Jonas", "Maya", "Luis", "Hana", "Noah", "Zoe", "Ivan", "Emma")
LAST_NAMES = ("Ruiz", "Patel", "Rossi", "Tanaka", "Lee", "Adeyemi", "Fischer", "Kumar", "Wang", "Silva",
              "Berg", "Khan", "Novak", "Cohen", "Garcia", "Sato", "Brown", "Martin", "Petrov", "Dubois")

ENVIRONMENTS = ("prod", "staging", "dev")

# Catalog slug -> what teams call such sources.
SOURCE_NAMES: dict[str, tuple[str, ...]] = {
    "javascript": ("Web Storefront", "Marketing Site", "Help Center", "Web App", "Checkout", "Blog", "Docs Site",
                   "Partner Portal"),
    "ios": ("iOS App", "iOS Shopping App", "iOS Companion"),
    "android": ("Android App", "Android Shopping App", "Android TV"),
    "react-native": ("Mobile App (RN)", "Driver App"),
    "node": ("Orders Service", "Billing Service", "Auth Service", "Notifications Service"),
    "python": ("Data Science Jobs", "Recommendations API"),
    "java": ("Payments Gateway", "Inventory Service"),
    "go": ("Edge Gateway", "Search Service"),
    "http-api": ("Backend Events", "Kiosk Devices", "Partner Webhooks Relay"),
    "stripe": ("Stripe Billing",),
    "salesforce": ("Salesforce CRM",),
    "zendesk": ("Zendesk Support",),
    "hubspot": ("HubSpot Marketing",),
    "facebook-lead-ads": ("Facebook Lead Ads",),
}
# Relative popularity of source types.
SOURCE_WEIGHTS = {"javascript": 8, "ios": 4, "android": 4, "react-native": 1, "node": 5, "python": 2, "java": 1,
                  "go": 1, "http-api": 3, "stripe": 1, "salesforce": 1, "zendesk": 1, "hubspot": 1,
                  "facebook-lead-ads": 1}
DESTINATION_WEIGHTS = {"amplitude": 5, "actions-amplitude": 3, "mixpanel": 4, "actions-google-analytics-4": 6,
                       "actions-braze-cloud": 3, "actions-facebook-conversions-api": 4, "actions-webhook": 3,
                       "slack": 2, "google-ads-conversions": 2, "intercom": 2, "customerio": 2, "hubspot": 2,
                       "actions-salesforce": 1, "optimizely-web": 1, "fullstory": 2, "hotjar": 1, "iterable": 1,
                       "google-tag-manager": 2, "amazon-s3": 1, "actions-segment-profiles": 1}
WAREHOUSE_WEIGHTS = {"snowflake": 5, "bigquery": 3, "redshift": 2, "postgres": 1, "databricks": 1}

# Prefixes that keep names unique once a workspace has hundreds of sources.
BRANDS = ("", "EU ", "US ", "APAC ", "Outdoor ", "Kids ", "Pro ", "Outlet ", "Travel ", "Home ", "Beauty ",
          "Grocery ", "Pets ", "Books ", "Music ", "Sports ", "Fashion ", "Garden ", "Auto ", "Toys ", "Health ",
          "Office ", "Games ", "Tickets ", "Rentals ", "Insurance ", "Banking ", "Wellness ", "Learning ", "Food ")

LABELS = (
    ("environment", "prod", "Production sources"), ("environment", "dev", "Development sources"),
    ("environment", "staging", "Pre-production sources"), ("team", "growth", "Growth and acquisition"),
    ("team", "data-platform", "Owned by data platform"), ("team", "mobile", "Mobile apps team"),
    ("team", "marketing", "Marketing team"), ("region", "us", "US data residency"),
    ("region", "eu", "EU data residency"), ("pii", "yes", "Sends personal data"),
    ("tier", "critical", "Pager-worthy pipelines"), ("cost-center", "cc-1042", "Finance cost center"),
    ("team", "payments", "Payments squad"), ("team", "search", "Search squad"), ("region", "apac", "APAC"),
    ("tier", "best-effort", "No SLA"), ("pii", "no", "No personal data"), ("team", "support", "Support tooling"),
    ("compliance", "hipaa", "HIPAA scope"), ("compliance", "sox", "SOX scope"), ("team", "ml", "Machine learning"),
    ("cost-center", "cc-2077", "Finance cost center"), ("team", "web", "Web team"), ("region", "latam", "LATAM"),
    ("team", "crm", "CRM team"), ("tier", "beta", "Beta programs"), ("team", "ads", "Paid ads"),
    ("owner", "dana", "Point of contact"), ("owner", "priya", "Point of contact"),
    ("owner", "marco", "Point of contact"),
)

# --- tracking plans ---------------------------------------------------------------------------------------------

TRACKING_PLAN_AREAS = ("Storefront", "Mobile Apps", "Backend Events", "Marketing Site", "Checkout", "Subscriptions",
                       "Support", "Search", "Loyalty", "Marketplace", "Growth Experiments", "Payments", "Onboarding",
                       "Content", "Notifications", "Partner Portal", "Kiosk", "Driver App", "Rentals", "Ads")

EVENT_OBJECTS = ("Product", "Order", "Cart", "Checkout", "Coupon", "Promotion", "Wishlist", "Review", "Video",
                 "Subscription", "Trial", "Account", "Invoice", "Payment", "Search", "Email", "Notification",
                 "Form", "Experiment", "Feature", "Button", "Banner", "Report", "Dashboard", "File", "Comment",
                 "Message", "Invite", "Team", "Project", "Integration", "Profile", "Address", "Delivery",
                 "Return", "Refund", "Gift Card", "Loyalty Reward", "Referral", "Plan")
EVENT_ACTIONS = ("Viewed", "Clicked", "Added", "Removed", "Updated", "Created", "Deleted", "Shared", "Started",
                 "Completed", "Failed", "Submitted", "Opened", "Closed", "Applied", "Denied", "Saved",
                 "Downloaded", "Uploaded", "Selected", "Scheduled", "Cancelled", "Renewed", "Upgraded",
                 "Downgraded")
EVENT_NAMES = tuple(f"{obj} {action}" for obj in EVENT_OBJECTS for action in EVENT_ACTIONS)
PAGE_NAMES = ("Home", "Product Detail", "Category", "Cart", "Checkout", "Order Confirmation", "Search Results",
              "Account", "Pricing", "Blog Post")
SCREEN_NAMES = ("Home Screen", "Product Screen", "Cart Screen", "Settings", "Onboarding", "Profile Screen")

# --- functions --------------------------------------------------------------------------------------------------

FUNCTION_NAMES: dict[str, tuple[str, ...]] = {
    "SOURCE": ("Stripe webhook", "Typeform responses", "Shopify orders", "Zendesk tickets", "Calendly bookings",
               "GitHub stars", "Twilio SMS status"),
    "DESTINATION": ("Slack alerts", "Internal CRM sync", "Fraud scoring", "Data lake forwarder", "Jira tickets",
                    "Loyalty points API"),
    "INSERT_DESTINATION": ("PII scrubber", "Enrich with geo", "Drop test traffic", "Consent enforcer"),
    "INSERT_SOURCE": ("Normalize event names", "Attach experiment ids", "Bot filter"),
    "INSERT_TRANSFORMATION": ("Currency converter", "Hash emails", "Flatten products"),
}

FUNCTION_CODE: dict[str, str] = {
    "SOURCE": """// {name} (v{version})
async function onRequest(request, settings) {{
  const body = request.json();
  if (!body || !body.type) {{
    throw new ValidationError('unexpected payload');
  }}
  Segment.track({{
    event: `{name} ${{body.type}}`,
    userId: body.customer_id || body.user_id,
    properties: {{ source: '{name}', amount: body.amount / 100 }}
  }});
}}
""",
    "DESTINATION": """// {name} (v{version})
async function onTrack(event, settings) {{
  const response = await fetch(settings.endpoint, {{
    method: 'POST',
    headers: {{ Authorization: `Bearer ${{settings.apiKey}}`, 'Content-Type': 'application/json' }},
    body: JSON.stringify({{ name: event.event, user: event.userId, props: event.properties }})
  }});
  if (response.status >= 500) {{
    throw new RetryError(`{name} failed with ${{response.status}}`);
  }}
}}
""",
    "INSERT": """// {name} (v{version})
async function onTrack(event, settings) {{
  if (settings.dropTestTraffic && event.context && event.context.test) {{
    throw new DropEvent('test traffic');
  }}
  event.properties = {{ ...event.properties, processed_by: '{name}' }};
  return event;
}}

async function onIdentify(event, settings) {{
  return event;
}}
""",
}


def function_code(resource_type: str, name: str, version: int) -> str:
    template = FUNCTION_CODE.get(resource_type) or FUNCTION_CODE["INSERT"]
    return template.format(name=name, version=version)


def unique_source_name(rng: Random, slug: str, taken: set[str]) -> tuple[str, str]:
    """A fresh '<brand><base> (<env>)' name for a source of this catalog type, and its environment."""
    env = rng.choices(ENVIRONMENTS, weights=(6, 3, 2))[0]
    base = rng.choice(SOURCE_NAMES[slug])
    for brand in ("", *rng.sample(BRANDS[1:], len(BRANDS) - 1)):
        name = f"{brand}{base} ({env})"
        if name not in taken:
            break
    else:
        name = f"{base} ({env}) {len(taken)}"
    taken.add(name)
    return name, env
