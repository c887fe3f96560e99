from fastapi import APIRouter

from emailplatform.ui.pages import (
    admin, analytics, auth, campaigns, dashboard, domains, suppressions, templates, users, webhooks,
)

router = APIRouter(include_in_schema=False)
for module in (auth, dashboard, templates, campaigns, analytics, suppressions, webhooks, domains, users, admin):
    router.include_router(module.router)
