from fastapi import APIRouter, Request

from emailplatform.deps import RuntimeDep, SessionDep
from emailplatform.errors import NotFound
from emailplatform.openapi import error_responses
from emailplatform.storage import service
from emailplatform.storage.base import UploadReceiver
from emailplatform.storage.schemas import FileUpload, FileUploadRequest, UploadReceived
from emailplatform.tenants.auth import TenantDep, needs

router = APIRouter(tags=["files"])


@router.post(
    "/api/v1/files/upload-url",
    response_model=FileUpload,
    status_code=201,
    responses=error_responses(401, 422),
    summary="Start a recipients file upload",
    dependencies=[needs("files")],
)
def create_file_upload(body: FileUploadRequest, session: SessionDep, runtime: RuntimeDep, tenant_id: TenantDep):
    """A presigned URL to PUT a recipients file (CSV) to, and the `file_url` a campaign takes once the file is there.
    The URL expires at `expires_at`."""
    new = service.create_upload(session, runtime.storage, runtime.settings, tenant_id, "recipients", body.filename)
    return FileUpload(
        file_id=new.file.id, upload_url=new.upload.url, file_url=new.file.url, expires_at=new.upload.expires_at
    )


@router.put(
    "/uploads/{token}",
    response_model=UploadReceived,
    responses=error_responses(403, 404, 413),
    summary="Receive an upload (presigned URL)",
)
async def receive_upload(token: str, request: Request, runtime: RuntimeDep):
    """The local storage's presigned upload URL: the signature is the authorisation, as with S3."""
    storage = runtime.storage
    if not storage.receives_uploads or not isinstance(storage, UploadReceiver):
        raise NotFound("uploads go to the storage backend's own presigned URL", field="upload_url")
    key, max_bytes = storage.check_upload_token(token)
    size = await storage.receive_upload(key, max_bytes, request.stream())
    return {"size": size}
