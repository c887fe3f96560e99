from fastapi import APIRouter

from emailplatform.ui.pages import (
    admin,
    analytics,
    audit,
    auth,
    campaigns,
    dashboard,
    domains,
    suppressions,
    templates,
    users,
    webhooks,
)

router = APIRouter(include_in_schema=False)
for module in (auth, dashboard, templates, campaigns, analytics, suppressions, webhooks, domains, users, admin, audit):
    router.include_router(module.router)
