"""Putting back the jobs of workers that died.

A worker that is killed (OOM, a lost machine, SIGKILL) leaves its job `doing` for ever: nothing
in procrastinate retries it, and a job lock (an import's `import:<id>`) keeps any other run of
it waiting. Every minute a worker's periodic deferrer queues RECOVERY_TASK, which returns to
`todo` the jobs of every task held by workers whose heartbeat stopped (or that were pruned).
Every Kizuna task is idempotent, so running one again is safe: an import resumes from its
recorded progress (the chunks the dead worker committed are skipped, the one it was writing had
rolled back), loyalty earning finds the entries it wrote by their idempotency keys, a metrics
refresh or recompute computes the same rows again.

Pick-up time: a worker's heartbeat is written every 10 s (procrastinate's default); a job counts
as stalled after STALLED_AFTER_SECONDS without one; the recovery runs at the next minute; a
worker fetches the job within its 5 s polling interval. So a dead worker's job continues about
1-2 minutes after the worker died (at most STALLED_AFTER_SECONDS + 60 s + 5 s).
"""

from __future__ import annotations

from datetime import UTC, datetime

import procrastinate

RECOVERY_TASK = "kizuna.recover_stalled_jobs"
# Six missed heartbeats: a worker busy with a long job still beats (the heartbeat is its own
# coroutine and jobs await the database), so only a dead or frozen worker goes this long.
STALLED_AFTER_SECONDS = 60


async def retry_stalled_jobs(job_manager: procrastinate.JobManager, *,
                             stalled_after: float = STALLED_AFTER_SECONDS) -> list[int]:
    """Put the jobs of dead workers back in their queues, due now; returns their job ids."""
    stalled = await job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after)
    retried = []
    for job in stalled:
        assert job.id is not None
        await job_manager.retry_job_by_id_async(job.id, retry_at=datetime.now(UTC))
        retried.append(job.id)
    return retried
