"""A job's lease is short and renewed while its worker lives: a job that runs for many leases stays its worker's,
and when that worker is killed another takes the job over within about a lease, not after the job's whole run."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from emailplatform.assembly import build_runtime
from emailplatform.config import Settings
from emailplatform.db import UNAVAILABLE
from emailplatform.jobs import queue
from emailplatform.jobs.worker import Lane, Worker
from emailplatform.migrations import upgrade
from emailplatform.models import Job, JobState, utcnow
from tests.helpers import campaign, create_campaign, create_template, csv_bytes, upload_file
from tests.jobs.test_database_outage import cluster  # noqa: F401 (a fixture)
from tests.jobs.test_worker_processes import process_env, wait_until

LEASE_SECONDS = Settings.model_fields["job_lease_seconds"].default
TAKEOVER_BOUND_SECONDS = LEASE_SECONDS + 5  # a lease, then the other worker's next claim, on a busy machine


def running_batch(runtime) -> Job | None:
    with runtime.db.session(write=False) as session:
        return session.scalar(select(Job).where(Job.kind == "send_batch", Job.state == JobState.RUNNING))


def holder(job: Job) -> int:
    """The process id of the worker that holds the job (worker ids are host:pid:random)."""
    return int(job.locked_by.split(":")[1])


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_killed_workers_job_is_taken_over_within_a_lease(client, runtime, smtp_sink, database_url):
    recipients = [f"t{i:04d}@example.com" for i in range(600)]
    smtp_sink.delay_seconds = 0.1  # one batch of 600 at 2 connections: half a minute, three leases
    env = process_env(runtime, smtp_sink, EMAILPLATFORM_JOB_LEASE_SECONDS=str(LEASE_SECONDS))
    workers = {
        process.pid: process
        for process in (
            subprocess.Popen(
                [sys.executable, "-m", "emailplatform.cli", "worker", "--processes", "1"],
                env=env,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(2)
        )
    }
    try:
        template = create_template(client, "Hi {{ name }}", "<p>Hi {{ name }}</p>")
        file = upload_file(client, csv_bytes(["email", "name"], [[r, r[:5]] for r in recipients]))
        created = create_campaign(client, template["template_id"], file["file_url"], batch_size=1000)  # one batch
        transaction_id = created["transaction_id"]
        first = wait_until(lambda: running_batch(runtime), 60, "a worker runs the send batch")
        victim = holder(first)
        assert victim in workers

        started = time.monotonic()
        while time.monotonic() - started < 1.5 * LEASE_SECONDS:  # past its first lease, renewed, still its worker's
            job = running_batch(runtime)
            assert job is not None and job.locked_by == first.locked_by, "a live worker's job is never taken over"
            assert job.locked_until <= utcnow() + timedelta(seconds=LEASE_SECONDS + 1), "the lease is short"
            time.sleep(0.5)
        assert job.locked_until > first.locked_until, "the lease was renewed"

        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        assert len(smtp_sink.received) < len(recipients), "the kill was to fall in the middle of the batch"
        taken = wait_until(
            lambda: (job := running_batch(runtime)) and job.locked_by != first.locked_by and job,
            60,
            "another worker takes the batch over",
        )
        took = time.monotonic() - killed_at
        print(f"\ntaken over {took:.1f} s after the kill (lease {LEASE_SECONDS} s)")
        assert holder(taken) in workers and holder(taken) != victim
        assert took <= TAKEOVER_BOUND_SECONDS, f"taken over after {took:.1f} s"

        smtp_sink.delay_seconds = 0
        wait_until(lambda: campaign(client, transaction_id)["status"] == "SENT", 120, "the campaign is sent")
        received = Counter(rcpt for mail in smtp_sink.received for rcpt in mail.rcpt_tos)
        assert set(received) == set(recipients), "nobody is lost"
    finally:
        for process in workers.values():
            process.kill()
            process.wait()


OUTAGE_LEASE_SECONDS = 2


def test_a_job_whose_lease_ran_out_in_an_outage_stays_its_workers(cluster, tmp_path):
    """PostgreSQL away for longer than a lease: the lease runs out meanwhile, but the worker that still runs the
    job takes it back once the database is back, and the other worker, idle and polling all along, leaves it."""
    url = cluster.create_database("leases")
    upgrade(url)
    settings = {"database_url": url, "data_dir": tmp_path, "job_lease_seconds": OUTAGE_LEASE_SECONDS}
    runtimes = [build_runtime(Settings(**settings)) for _ in range(2)]
    with runtimes[0].db.session() as session:
        queue.enqueue(session, "slow", {})
    runs = []

    async def slow(ctx, payload):
        runs.append(ctx.job.attempts)
        await asyncio.sleep(4 * OUTAGE_LEASE_SECONDS + 4)  # through the outage and past it

    async def scenario():
        stop = asyncio.Event()
        first, second = (Worker(runtime, {"slow": slow}, [Lane(1, ())], poll_seconds=0.1) for runtime in runtimes)
        tasks = [asyncio.create_task(first.run(stop))]
        while not runs:
            await asyncio.sleep(0.05)
        tasks.append(asyncio.create_task(second.run(stop)))  # idle, polling: it would take a lapsed job at once
        await asyncio.sleep(0.5)
        await asyncio.to_thread(cluster.stop, "fast")
        await asyncio.sleep(OUTAGE_LEASE_SECONDS + 2)
        await asyncio.to_thread(cluster.start)
        while (job := await asyncio.to_thread(read_job, runtimes[0])) is None or job.state != JobState.DONE:
            await asyncio.sleep(0.2)
        stop.set()
        await asyncio.gather(*tasks)
        return job, first.id

    try:
        job, first_worker = asyncio.run(scenario())
    finally:
        for runtime in runtimes:
            runtime.close()
    assert runs == [1], "the job ran once, by its worker"
    assert job.attempts == 1 and job.locked_by == first_worker


def read_job(runtime) -> Job | None:
    try:
        with runtime.db.session(write=False) as session:
            return session.scalar(select(Job).where(Job.kind == "slow"))
    except UNAVAILABLE:
        return None
