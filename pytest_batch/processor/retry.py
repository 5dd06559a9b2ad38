"""retry_failed: which requests to send again, and with which prompts.

What to retry comes as a job's results, a list of BatchErrors, or custom_ids. The prompts
come, in this order, from ``prompts=``, the job the results belong to, the jobs this
processor submitted (it remembers their prompts), and, for a job known only by its id, the
provider's copy of the batch's input where the API keeps one (OpenAI's input file).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigurationError
from ..models import BatchError, BatchJob, ErrorKind, _ResultsBase
from ..providers import Message, normalize_prompt

#: errors in the model's own answer, which retry_failed(feedback=True) tells the model about;
#: the others (HTTP errors, expiry, cancellation) are retried with the prompt unchanged.
FEEDBACK_KINDS = frozenset({ErrorKind.VALIDATION_ERROR, ErrorKind.INVALID_JSON, ErrorKind.TRUNCATED})

_WHAT = "retry_failed takes a job's results, a list of BatchErrors or a list of custom_ids"


@dataclass
class Failure:
    """One request to send again: ``kind`` is None when it was named by custom_id alone."""

    custom_id: str
    kind: ErrorKind | None = None
    message: str = ""
    job_id: str | None = None


@dataclass
class RetryPlan:
    failures: list[Failure]
    #: job id (None: the prompts given with ``prompts=``) -> custom_id -> prompt
    prompts: dict[str | None, Mapping[str, Any]] = field(default_factory=dict)
    #: job ids whose prompts nobody here knows: to be read back from the provider
    unresolved: list[str] = field(default_factory=list)
    #: the jobs met on the way (a results' job keeps the provider's batch object, needed to read back)
    jobs: dict[str, BatchJob] = field(default_factory=dict)


def failures_of(failed: Any, kinds: Iterable[ErrorKind | str] | None,
                job: BatchJob | None) -> list[Failure]:
    """What ``failed`` asks to retry: the errors (of ``kinds`` only, if given) among BatchErrors,
    and every custom_id given as a string (their reason is unknown, so ``kinds`` does not apply)."""
    if isinstance(failed, str | bytes):
        raise ConfigurationError(f"{_WHAT}; got the string {failed!r} (for the failures of a job known by its id, "
                                 f"pass bp.results({failed!r}); for one request, [{failed!r}])")
    if isinstance(failed, BatchError):
        raise ConfigurationError(f"{_WHAT}; got one BatchError: pass it in a list, [error]")
    try:
        wanted = {ErrorKind(kind) for kind in kinds} if kinds is not None else None
    except ValueError as error:
        raise ConfigurationError(f"retry_failed(kinds=): {error}; the kinds are "
                                 f"{', '.join(kind.value for kind in ErrorKind)}") from None
    failures: list[Failure] = []
    try:
        items = list(failed)
    except TypeError:
        raise ConfigurationError(f"{_WHAT}; got {type(failed).__name__}") from None
    default_job = job.id if job is not None else None
    for item in items:
        if isinstance(item, str):
            failures.append(Failure(item, job_id=default_job))
        elif isinstance(item, BatchError):
            if wanted is None or item.kind in wanted:
                failures.append(Failure(item.custom_id, item.kind, item.message, item.job_id or default_job))
        elif getattr(item, "ok", None) is not True:  # successes are skipped: nothing to retry
            raise ConfigurationError(f"{_WHAT}; got {type(item).__name__} {item!r} in the list")
    if not failures:
        raise ConfigurationError("nothing to retry: no failed items" + (
            f" of kind {', '.join(sorted(k.value for k in wanted))}" if wanted else ""))
    return failures


def plan(failures: list[Failure], *, prompts: Mapping[str, Any] | None, job: BatchJob | None,
         results_job: BatchJob | None, submitted: Mapping[str, BatchJob]) -> RetryPlan:
    """Where each failure's prompt comes from."""
    result = RetryPlan(failures)
    if prompts is not None:
        result.prompts[None] = prompts
        for failure in failures:
            failure.job_id = None
        return result
    for known in (job, results_job):
        if known is not None:
            result.jobs[known.id] = known
    anonymous = [failure for failure in failures if failure.job_id is None]
    if anonymous:
        owner = _owner(anonymous, submitted)
        for failure in anonymous:
            failure.job_id = owner
    for job_id in dict.fromkeys(failure.job_id for failure in failures):
        assert job_id is not None
        known = result.jobs.get(job_id)
        found = known.prompts if known is not None and known.prompts is not None else None
        if found is None and job_id in submitted:
            found = submitted[job_id].prompts
        if found is None:
            result.unresolved.append(job_id)
        else:
            result.prompts[job_id] = found
    return result


def _owner(failures: list[Failure], submitted: Mapping[str, BatchJob]) -> str:
    """The one job this processor submitted that holds every one of these custom_ids."""
    wanted = [failure.custom_id for failure in failures]
    owners = {job.id: job for job in submitted.values()
              if job.prompts is not None and all(custom_id in job.prompts for custom_id in wanted)}
    if len(owners) == 1:
        return next(iter(owners))
    shown = ", ".join(wanted[:5]) + (" ..." if len(wanted) > 5 else "")
    if not owners:
        raise ConfigurationError(f"retry_failed cannot tell which job {shown} belonged to: this processor submitted "
                                 "no job holding them. Pass job=<the BatchJob or its id>, the job's results, or "
                                 "prompts={custom_id: prompt}")
    raise ConfigurationError(f"retry_failed cannot tell which job {shown} belonged to: {len(owners)} jobs this "
                             f"processor submitted hold them ({', '.join(owners)}). Pass job=<the BatchJob or its "
                             "id>, or the job's results")


def cannot_read_back(provider: str, job_id: str) -> ConfigurationError:
    how = {"openai": "its input file is gone",
           "anthropic": "Anthropic's Message Batches API does not return a batch's requests",
           "google": "the Gemini API does not return a batch's requests"}.get(provider, "the provider keeps no copy")
    return ConfigurationError(f"retry_failed needs the original prompts of batch {job_id}, and {how}: retry with "
                              "the processor that submitted it, a job saved with BatchJob.to_json(), or pass "
                              "prompts={custom_id: prompt}")


def retry_prompts(plan: RetryPlan, feedback: bool, response_model: Any) -> tuple[list[str], list[list[Message]],
                                                                                   dict[str, list[Message]]]:
    """(custom_ids, the prompts to send, the original prompts), in the order of each job's input."""
    seen: dict[str, str | None] = {}
    for failure in plan.failures:
        if failure.custom_id in seen and seen[failure.custom_id] != failure.job_id:
            raise ConfigurationError(f"custom_id {failure.custom_id} failed in two jobs ({seen[failure.custom_id]}, "
                                     f"{failure.job_id}); one batch cannot hold it twice: retry each job's "
                                     "failures on their own")
        seen[failure.custom_id] = failure.job_id
    unknown = [f.custom_id for f in plan.failures if f.custom_id not in plan.prompts[f.job_id]]
    if unknown:
        where = "prompts=" if None in plan.prompts else f"job {plan.failures[0].job_id}"
        raise ConfigurationError(f"no original prompt for custom_id(s) {', '.join(unknown[:5])} in {where}; pass "
                                 "prompts={custom_id: prompt}")
    unique = list({failure.custom_id: failure for failure in plan.failures}.values())
    jobs = list(dict.fromkeys(failure.job_id for failure in unique))
    positions = {job_id: {custom_id: i for i, custom_id in enumerate(plan.prompts[job_id])} for job_id in jobs}
    unique.sort(key=lambda f: (jobs.index(f.job_id), positions[f.job_id][f.custom_id]))  # input order
    ids, prompts, originals = [], [], {}
    for index, failure in enumerate(unique):
        original = normalize_prompt(plan.prompts[failure.job_id][failure.custom_id], index)
        messages = original
        if feedback and failure.kind in FEEDBACK_KINDS:
            messages = original + [{"role": "user", "content": feedback_text(failure, response_model)}]
        ids.append(failure.custom_id)
        prompts.append(messages)
        originals[failure.custom_id] = original
    return ids, prompts, originals


def feedback_text(failure: Failure, response_model: Any) -> str:
    answer = "with only a JSON object that matches the requested schema" if response_model is not None else "in full"
    kind = failure.kind.value if failure.kind is not None else "failed"
    return (f"Your previous answer to this request could not be used ({kind}: {failure.message}). "
            f"Answer again, {answer}.")


def results_job(failed: Any) -> BatchJob | None:
    return failed.job if isinstance(failed, _ResultsBase) else None


__all__ = ["FEEDBACK_KINDS", "Failure", "RetryPlan", "cannot_read_back", "failures_of",
           "feedback_text", "plan", "results_job", "retry_prompts"]
