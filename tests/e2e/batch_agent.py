"""An agent for the batch-claim test, in a process of its own so the test can kill it mid-batch:
it claims up to `--max-jobs` jobs a call, holds them `--hold-s`, then starts and completes each.

Every job it is granted is printed (`claimed <job> <attempt>`) before anything is done with it,
and every job it completed (`done <job> <attempt>`): what a killed agent held is in its output.

    python -m tests.e2e.batch_agent --api URL --name NAME --pool POOL --registration-token T
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import httpx

HOST = {"hostname": "e2e", "os": "linux", "arch": "x86_64", "cpu_count": 2, "memory_mb": 4096}


def say(line: str) -> None:
    print(line, flush=True)


async def post(client: httpx.AsyncClient, path: str, body: dict[str, Any], token: str) -> Any:
    answer = await client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
    answer.raise_for_status()
    return answer.json() if answer.content else None


async def work(args: argparse.Namespace) -> None:
    async with httpx.AsyncClient(base_url=args.api, timeout=30) as client:
        body = {"name": args.name, "pool": args.pool, "host": HOST}
        agent = await post(client, "/api/agents/register", body, args.registration_token)
        agent_id, token = agent["agent_id"], agent["agent_token"]
        say(f"agent {agent_id}")
        beat = {"cpu_pct": 5.0, "mem_pct": 5.0, "disk_pct": 5.0}
        await post(client, f"/api/agents/{agent_id}/heartbeat", beat, token)
        claim = {"agent_id": agent_id, "pool": args.pool, "max_jobs": args.max_jobs, "wait_s": 1}
        while True:
            grants = (await post(client, "/api/queue/claims", claim, token))["claims"]
            for grant in grants:
                say(f"claimed {grant['job']['job_id']} {grant['job']['attempt']}")
            await asyncio.sleep(args.hold_s if grants else 0)
            for grant in grants:
                job_id, lease = grant["job"]["job_id"], {"claim_token": grant["claim_token"]}
                await post(client, f"/api/queue/jobs/{job_id}/start", lease, token)
                done = lease | {"exit_code": 0}
                await post(client, f"/api/queue/jobs/{job_id}/complete", done, token)
                say(f"done {job_id} {grant['job']['attempt']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--api", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--pool", required=True)
    parser.add_argument("--registration-token", required=True)
    parser.add_argument("--max-jobs", type=int, default=8)
    parser.add_argument("--hold-s", type=float, default=0.05)
    asyncio.run(work(parser.parse_args()))


if __name__ == "__main__":
    main()
