from __future__ import annotations

import httpx

JOB = {
    "job_type": "test",
    "git_repo": "org/repo",
    "git_ref": "main",
    "git_commit_sha": "abc123def456",
    "git_commit_message": "Add feature",
    "git_author": "alice@example.com",
}


async def test_created_job_is_listed_after_its_sequence(client: httpx.AsyncClient) -> None:
    created = await client.post("/api/dashboard/jobs", json=JOB)
    assert created.status_code == 201
    seq = created.headers["X-JetDeck-Seq"]
    listed = await client.get("/api/dashboard/jobs", params={"min_seq": seq})
    assert [j["job_id"] for j in listed.json()["items"]] == [created.json()["job_id"]]
