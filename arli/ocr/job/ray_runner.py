"""The bulk OCR job on a Ray cluster: the same tasks, records and outputs as on one machine.

Pipeline (Ray Data)::

    plan (driver)  ->  from_items(page tasks)  ->  map_batches(_PageActor, concurrency=N):
                       render + OCR in a pool of N actors  ->  records streamed back
                   ->  JobRun on the driver (pages.jsonl, Markdown, report.json)
                   ->  published to the output URL

- **Plan, bookkeeping, outputs** run on the driver with the single-machine job's own
  pieces: :func:`~arli.ocr.job.runner.prepare` (every check before the first request),
  :class:`~arli.ocr.job.runner.JobRun` (the sink, the progress bar, the report), so a Ray
  run and a local run of the same inputs and options write the same ``pages.jsonl`` and
  Markdown.
- **Render and transcribe** run in a pool of ``actors`` Ray actors (``map_batches`` with a
  callable class). Each actor holds one :class:`~arli.ocr.job.tasks.PageWorker` (its own
  connection pool, its own open documents) and works on the pages of a batch at once;
  a page is rendered where it is sent, so no image crosses the object store. Input files
  are opened by the actors at the path the driver planned: on a real cluster they must be
  on storage every node mounts at the same path.
- **One request limit for the cluster**: every request, retries included, takes a slot of
  the named slot actor (:mod:`arli.ocr.job.slots`), whatever the number of actors; a
  killed actor's slots come back after its lease.
- **Resume and no double payment**: the page cache lives at ``cache`` (a path every node
  sees, or an fsspec URL such as ``s3://bucket/ocr-cache``); a restarted job, or Ray
  re-running the batch of an actor that died, finds finished pages there. Records already
  in the output's ``pages.jsonl`` are not sent again (for a URL output, ``job.json`` and
  ``pages.jsonl`` are pulled back from it first).
- **Outputs** go to a local path, a ``file://`` URL, or any fsspec URL (written locally on
  the driver, then uploaded when the run ends: also after Ctrl-C or a failure).

Ray is the ``ray`` extra (``pip install "arli-integrations[ray]"``), imported only when a
job starts.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import pickle
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arli._errors import ArliValidationError
from arli._settings import ArliSettings
from arli.ocr.job.progress import ProgressCallback
from arli.ocr.job.runner import JobResult, JobRun, prepare
from arli.ocr.job.sink import JOB_FILE, PAGES_FILE
from arli.ocr.job.slots import DEFAULT_LEASE_SECONDS, ClusterSlots, import_ray, slot_actor
from arli.ocr.job.storage import is_url, local_path, publish, pull
from arli.ocr.job.tasks import JobOptions, PageRecord, PageTask, PageWorker
from arli.ocr.progress import RENDER_AHEAD

__all__ = ["RayOptions", "run_job", "slot_actor_name"]


@dataclass(frozen=True)
class RayOptions:
    """How the job uses the cluster.

    Attributes:
        actors: OCR actors in the pool (``map_batches(concurrency=actors)``).
        pages_per_actor: pages one actor works on at once, its batch size (``None``:
            enough for the pool to keep the request limit busy with pages rendering
            ahead: ``ceil((max_in_flight + 2) / actors)``).
        cpus_per_actor: CPUs Ray reserves per actor (rendering is the CPU part; the rest
            is waiting on the server).
        address: the cluster (else ``RAY_ADDRESS``, else a local Ray started for the job).
        cache: the shared page cache, a path every node sees or an fsspec URL (else
            ``JobOptions.cache_dir``, else ``<out>/cache``).
        lease_seconds: how long a silent (dead) actor keeps its request slots.
        slot_actor: the slot actor's name (else one derived from the base URL and the
            key's fingerprint, so jobs of one account share one limit).
        on_batch_start: called in the actor with each batch's tasks before they run
            (logging, fault injection); must be picklable.
    """

    actors: int = 2
    pages_per_actor: int | None = None
    cpus_per_actor: float = 0.5
    address: str | None = None
    cache: str | None = None
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    slot_actor: str | None = None
    on_batch_start: Callable[[list[PageTask]], None] | None = None

    def __post_init__(self) -> None:
        """Check the numbers.

        Raises:
            ArliValidationError: naming the option and what is allowed.
        """
        for name in ("actors", "pages_per_actor"):
            value = getattr(self, name)
            if value is None and name == "pages_per_actor":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                msg = f"{name} must be an integer >= 1, got {value!r}"
                raise ArliValidationError(msg, field=name, allowed="an integer >= 1")
        if not self.cpus_per_actor >= 0:
            msg = f"cpus_per_actor must be >= 0, got {self.cpus_per_actor!r}"
            raise ArliValidationError(msg, field="cpus_per_actor", allowed=">= 0")
        if not self.lease_seconds > 0:
            msg = f"lease_seconds must be > 0, got {self.lease_seconds!r}"
            raise ArliValidationError(msg, field="lease_seconds", allowed="> 0")

    def batch_size(self, limit: int) -> int:
        """Pages per actor batch for a request limit of ``limit``."""
        if self.pages_per_actor is not None:
            return self.pages_per_actor
        return max(1, math.ceil((limit + RENDER_AHEAD) / self.actors))


def slot_actor_name(settings: ArliSettings) -> str:
    """The slot actor of an account: its base URL and key fingerprint (never the key)."""
    material = f"{settings.base_url_for('text')}|{settings.key_fingerprint('text')}"
    return "arli-slots-" + hashlib.sha256(material.encode()).hexdigest()[:16]


class _PageActor:
    """The ``map_batches`` callable class: one PageWorker per actor, a batch at a time."""

    def __init__(
        self,
        options: JobOptions,
        slots: Any,
        lease_seconds: float,
        cache: str,
        on_batch_start: Callable[[list[PageTask]], None] | None,
    ):
        self._limiter = ClusterSlots(slots, lease_seconds)
        self._worker = PageWorker(options, self._limiter, cache_dir=cache)
        self._on_batch_start = on_batch_start

    async def _all(self, tasks: Sequence[PageTask]) -> list[PageRecord]:
        import asyncio  # noqa: PLC0415 - runs on the actor's OCR loop thread

        return list(await asyncio.gather(*(self._worker.arun(t) for t in tasks)))

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        """Transcribe the batch's pages concurrently; one pickled record per task."""
        import numpy as np  # noqa: PLC0415 - Ray Data's batch type; Ray depends on numpy

        from arli.ocr._sync import shared_loop  # noqa: PLC0415

        tasks = [pickle.loads(raw) for raw in batch["task"]]  # noqa: S301 - from our driver
        if self._on_batch_start is not None:
            self._on_batch_start(tasks)
        records = shared_loop().run(self._all(tasks))
        out = np.empty(len(records), dtype=object)
        out[:] = [pickle.dumps(r) for r in records]
        return {"record": out}


def _connect(ray: Any, address: str | None) -> bool:
    """Join the cluster at ``address``, else ``RAY_ADDRESS``, else start a local one.

    A Ray already initialized in this process is used as it is. A local cluster started
    here (``address="local"``: never a cluster found by chance on the machine) has no
    dashboard and is shut down when the job ends. Returns whether this call started Ray.
    """
    if ray.is_initialized():
        return False
    target = address or os.environ.get("RAY_ADDRESS") or "local"
    extra: dict[str, Any] = {"include_dashboard": False} if target == "local" else {}
    ray.init(address=target, log_to_driver=False, **extra)
    return True


def run_job(
    inputs: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    options: JobOptions | None = None,
    *,
    ray_options: RayOptions | None = None,
    overwrite: bool = False,
    show_progress: bool | None = None,
    on_progress: ProgressCallback | None = None,
) -> JobResult:
    """Run a bulk OCR job on Ray (see the module docstring); what the local job returns.

    Everything the local job checks before its first request is checked here too (the
    same :func:`~arli.ocr.job.runner.prepare`): options, destination, page selections, key.

    Args:
        inputs: files, directories, globs, ``@manifest`` files (as for the local job).
        out: the output directory: a path, a ``file://`` URL or any fsspec URL.
        options: the job's options (the same as for the local job).
        ray_options: how the cluster is used (actors, pages per actor, cache, address).
        overwrite: start afresh in a directory holding another job.
        show_progress: draw a progress bar on the driver (``None``: when stderr is a TTY).
        on_progress: called on the driver with a ``ProgressInfo`` per page.

    Raises:
        ArliValidationError: a bad input, option or output directory (before any request).
        OCRDependencyError: Ray (or fsspec for a URL) is not installed.
        OCRPageError: a page failed under ``on_page_error="raise"`` (after writing).
        AuthenticationError: the key was rejected (every page would fail).
    """
    options = options or JobOptions()
    ropts = ray_options or RayOptions()
    ray = import_ray()
    url = os.fspath(out)
    local_out = local_path(out)
    staging = tempfile.mkdtemp(prefix="arli-ocr-ray-") if local_out is None else None
    try:
        if staging is not None and not overwrite:
            pull(url, staging, (JOB_FILE, PAGES_FILE))
        sink_dir = local_out if local_out is not None else Path(str(staging))
        job = prepare(inputs, sink_dir, options, overwrite=overwrite)
        cache = _cache_location(url, ropts, options, job.sink.cache_dir)
        started = _connect(ray, ropts.address)
        try:
            return _execute(ray, job, ropts, cache, url, staging, show_progress, on_progress)
        finally:
            if started:
                ray.shutdown()
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


def _cache_location(url: str, ropts: RayOptions, options: JobOptions, default: Path) -> str:
    """The shared cache: the Ray option, else the job's, else beside the outputs."""
    if ropts.cache:
        return ropts.cache
    if options.cache_dir:
        return options.cache_dir
    if is_url(url) and local_path(url) is None:
        return f"{url.rstrip('/')}/cache"
    return str(default)


def _execute(
    ray: Any,
    job: Any,
    ropts: RayOptions,
    cache: str,
    url: str,
    staging: str | None,
    show_progress: bool | None,
    on_progress: ProgressCallback | None,
) -> JobResult:
    """The local runner's bookkeeping (:class:`JobRun`) fed by the actor pool."""
    run = JobRun(job, show_progress, on_progress)
    settings = job.worker.engine.settings
    batch = ropts.batch_size(job.limit)
    state = "complete"
    # The actors run where the driver's environment is not: they get the key it resolved
    # (ARLI_TEXT_KEY...) in the options, a SecretStr, never in a repr or log.
    options = job.options
    if options.api_key is None:
        options = dataclasses.replace(options, api_key=settings.api_key_for("text"))
    try:
        for record in _pages(ray, run.todo, options, ropts, batch, cache, settings, job.limit):
            if run.add(record):
                break
    except KeyboardInterrupt:
        state = "interrupted"
        raise
    except BaseException:
        state = "stopped"
        raise
    finally:
        runner = {"name": "ray", "actors": ropts.actors, "pages_per_actor": batch, "cache": cache}
        extra: dict[str, Any] = {"runner": runner}
        if staging is not None:
            extra["out_dir"] = url
        run.finish(state, **extra)
        if staging is not None:
            publish(staging, url)
    return run.result()


def _pages(
    ray: Any,
    todo: list[PageTask],
    options: JobOptions,
    ropts: RayOptions,
    batch: int,
    cache: str,
    settings: ArliSettings,
    limit: int,
) -> Iterator[PageRecord]:
    """Send ``todo`` through the actor pool; the records as they come back."""
    if not todo:
        return
    name = ropts.slot_actor or slot_actor_name(settings)
    slots = slot_actor(name, limit, lease_seconds=ropts.lease_seconds)
    dataset = ray.data.from_items([{"task": pickle.dumps(t)} for t in todo])
    dataset = dataset.map_batches(
        _PageActor,
        batch_size=batch,
        concurrency=min(ropts.actors, math.ceil(len(todo) / batch)),
        num_cpus=ropts.cpus_per_actor,
        fn_constructor_kwargs={
            "options": options,
            "slots": slots,
            "lease_seconds": ropts.lease_seconds,
            "cache": cache,
            "on_batch_start": ropts.on_batch_start,
        },
    )
    for row in dataset.iter_rows():
        yield pickle.loads(row["record"])  # noqa: S301 - pickled by our own actors
