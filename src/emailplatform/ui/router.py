from fastapi import APIRouter

from emailplatform.ui.pages import admin, analytics, auth, campaigns, dashboard, templates

router = APIRouter(include_in_schema=False)
for module in (auth, dashboard, templates, campaigns, analytics, admin):
    router.include_router(module.router)
