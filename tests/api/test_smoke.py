from __future__ import annotations

import httpx

from tests.api.helpers import JOB, JOBS, SEQ


async def test_created_job_is_listed_after_its_sequence(client: httpx.AsyncClient) -> None:
    created = await client.post(JOBS, json=JOB)
    assert created.status_code == 201
    seq = created.headers[SEQ]
    listed = await client.get(JOBS, params={"min_seq": seq})
    assert [j["job_id"] for j in listed.json()["items"]] == [created.json()["job_id"]]
