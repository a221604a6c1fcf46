"""`POST /api/queue/jobs:batch`: many jobs queued in one request, each answered on its own."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError

from api.auth import PROTECTED, Operating
from api.commands import Context
from api.deps import SEQ_HEADER, ServicesDep
from infra.dispatch import handle
from wire.batch import MAX_BATCH, BatchEnqueued, BatchEnqueueRequest

router = APIRouter(prefix="/api/queue", tags=["queue"], responses=PROTECTED)
DESCRIPTION = f"""Up to {MAX_BATCH} jobs, each as `POST /api/queue/jobs` takes it. Every job is
validated first (one bad job: a 422 naming it, nothing queued); then each is queued on its own
and answered in `jobs`, in order, with 201 or its problem's status, so a job refused (an unknown
`job_id`, a key reused) refuses only itself. Job n runs under the batch's Idempotency-Key
followed by `#n`: a retry of the same batch with the same key answers each job as the first try
did and appends nothing new."""


@router.post("/jobs:batch", dependencies=[Operating], description=DESCRIPTION)
async def enqueue_batch(
    body: BatchEnqueueRequest,
    services: ServicesDep,
    context: Context,
    request: Request,
    response: Response,
) -> BatchEnqueued:
    if errors := body.run_at_errors(services.settings.run_at_horizon_s):
        raise RequestValidationError(errors)
    answer = BatchEnqueued.of(await handle(services, body.as_command(request.url.path), context))
    if answer.queued:
        response.headers[SEQ_HEADER] = str(answer.seq)
    return answer
