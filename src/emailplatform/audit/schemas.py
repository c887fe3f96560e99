from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 812,
                    "occurred_at": "2026-12-01T09:00:00Z",
                    "actor_type": "api_key",
                    "actor_id": "0193b7b1-2c3d-7e4f-9a5b-6c7d8e9f0a1b",
                    "actor_label": "ci (ep_3kQ9…)",
                    "client_address": "203.0.113.7",
                    "action": "revoke_api_key",
                    "route": "DELETE /api/v1/api-keys/{key_id}",
                    "object_type": "api-keys",
                    "object_id": "5b1e8f0c-2d3a-4b5c-9d6e-7f8091a2b3c4",
                    "outcome": "succeeded",
                    "details": {"path_params": {"key_id": "5b1e8f0c-2d3a-4b5c-9d6e-7f8091a2b3c4"}},
                }
            ]
        },
    )

    id: int
    occurred_at: datetime
    actor_type: str = Field(description="user (the web UI), api_key, token (OAuth) or cli (a command on the server).")
    actor_id: str = Field(description="The user's, key's or token subject's id; for the CLI, the system user.")
    actor_label: str | None = Field(description="The user's address, the key's name and prefix, or the host's name.")
    client_address: str | None = Field(description="The address the request came from; for the CLI, the host.")
    action: str = Field(description="What was done: the route's or command's name, e.g. create_campaign.")
    route: str | None = Field(description="The method and route template, for a request.")
    object_type: str | None = Field(description="The kind of object, e.g. campaigns, api-keys, recipients.")
    object_id: str | None = Field(description="The object's id; a recipient's address is kept only as its hash.")
    outcome: str = Field(description="succeeded (failed requests change nothing and are not recorded).")
    details: dict = Field(description="The route's path parameters, and what an erasure removed.")
