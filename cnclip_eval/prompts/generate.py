"""Generate a prompt pack with an LLM, CuPL-style (Pratt et al., arXiv 2209.03320).

For every class and every question of :mod:`~cnclip_eval.prompts.queries`, ask an
OpenAI-compatible chat endpoint for ``n`` short visual descriptions, clean them and collect them
into a :class:`~cnclip_eval.prompts.pack.PromptPack`. Questions run concurrently in a thread pool;
every answer is cached the moment it arrives, so a killed run resumes without asking anything
twice. Classes that share a name share the questions (and so the descriptions).

Library use (the CLI is ``cnclip-eval prompts generate``)::

    request = GenerationRequest("imagenet1k", "zh", tuple(names), "qwen2.5:7b",
                                cache_dir=Path("~/.cache/cnclip-eval/llm-answers"),
                                endpoint=EndpointConfig("http://127.0.0.1:11434/v1"))
    save_pack(generate_pack(request), "imagenet1k.zh.json")
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from cnclip_eval.errors import UserError
from cnclip_eval.prompts.answer_cache import AnswerCache, answer_key
from cnclip_eval.prompts.cleanup import clean_answers
from cnclip_eval.prompts.endpoint import ChatEndpoint, EndpointConfig, MalformedReply
from cnclip_eval.prompts.pack import (
    LANGUAGES,
    GeneratorInfo,
    PackClass,
    PromptPack,
    make_pack,
    tool_version,
)
from cnclip_eval.prompts.quality import wrong_language
from cnclip_eval.prompts.queries import INSTRUCTION, SYSTEM, build_messages, queries_for

log = logging.getLogger(__name__)

# responses without a usable answer (no choice, empty text, not JSON) before a (class, query) is given
# up: a model that answers nothing three times running will not start now, and each try costs a request
_MAX_EMPTY_RESPONSES = 3


@dataclass(frozen=True)
class GenerationRequest:
    dataset: str
    language: str  # "zh" | "en"
    classnames: tuple[str, ...]  # index = label
    llm_model: str
    cache_dir: Path
    endpoint: EndpointConfig = field(default_factory=lambda: EndpointConfig(None))
    n: int = 5  # answers per (class, query)
    temperature: float = 0.99  # CuPL's: high, for varied descriptions
    concurrency: int = 8  # requests in flight
    max_chars: int = 40  # the length the questions ask for (CN-CLIP reads ~50 word pieces)
    queries: tuple[str, ...] = ()  # default: queries_for(language)

    def checked(self) -> GenerationRequest:
        if self.language not in LANGUAGES:
            raise UserError(f"--lang must be one of {', '.join(LANGUAGES)}, not {self.language!r}")
        for name, value in (
            ("--n", self.n),
            ("--concurrency", self.concurrency),
            ("--max-chars", self.max_chars),
        ):
            if value < 1:
                raise UserError(f"{name} must be at least 1, not {value}")
        if not self.classnames:
            raise UserError(f"dataset {self.dataset!r}: no class names to ask about")
        queries = self.queries or queries_for(self.language)
        bad = [q for q in queries if "{c}" not in q]
        if bad:
            raise UserError(f"query templates must contain {{c}} (the class name): {bad}")
        return replace(self, queries=tuple(queries))


@dataclass(frozen=True)
class Job:
    """One (class name, query): ``n`` answers, cached under ``key``."""

    classname: str
    query: str
    messages: list[dict[str, str]]
    key: str


def plan_jobs(request: GenerationRequest) -> list[Job]:
    """One job per distinct class name and query, in class then query order."""
    jobs = []
    for name in dict.fromkeys(request.classnames):
        for query in request.queries:
            messages = build_messages(request.language, query, name, request.max_chars)
            key = answer_key(
                {
                    "model": request.llm_model,
                    "base_url": request.endpoint.url,
                    "language": request.language,
                    "classname": name,
                    "query": query,
                    "messages": messages,
                    "temperature": request.temperature,
                    "n": request.n,
                }
            )
            jobs.append(Job(name, query, messages, key))
    return jobs


class _Runner:
    """Asks for the answers one job lacks, caching after every response."""

    def __init__(self, request: GenerationRequest, endpoint: ChatEndpoint, cache: AnswerCache) -> None:
        self.request, self.endpoint, self.cache = request, endpoint, cache

    def run(self, job: Job, answers: list[str]) -> list[str]:
        request = self.request
        answers = list(answers)
        empty = 0
        while len(answers) < request.n:
            wanted = request.n - len(answers)
            what = f"class {job.classname!r}, query {job.query!r}"
            try:
                got = self.endpoint.complete(
                    request.llm_model, job.messages, request.temperature, wanted, what
                )
            except MalformedReply as error:
                problem = str(error)
                got = []
            else:
                problem = f"{request.endpoint.host} returned no answers for {what}"
                got = [answer for answer in got if clean_answers([answer])]  # "" is no answer: never cache it
            if not got:
                empty += 1
                if empty >= _MAX_EMPTY_RESPONSES:
                    raise UserError(
                        f"{problem}; gave up after {empty} tries. "
                        "Answers received so far are cached; run the same command again to resume."
                    )
                log.warning("%s; asking again", problem)
                continue
            answers.extend(got[:wanted])  # fewer than asked (n ignored): the loop asks for the rest
            self.cache.save(job.key, self._record(job), answers)
        return answers

    def _record(self, job: Job) -> dict:
        """What a cache file says about its request: readable, and without the key or the full URL."""
        return {
            "model": self.request.llm_model,
            "host": self.request.endpoint.host,
            "language": self.request.language,
            "classname": job.classname,
            "query": job.query,
            "messages": job.messages,
            "temperature": self.request.temperature,
            "n": self.request.n,
        }


def generate_pack(
    request: GenerationRequest,
    progress: bool = True,
    on_job_done: Callable[[Job], None] | None = None,
) -> PromptPack:
    """Ask for what the cache lacks, then build the pack; ``on_job_done`` runs after each job."""
    request = request.checked()
    cache = AnswerCache(request.cache_dir)
    jobs = plan_jobs(request)
    answers = {job.key: cache.load(job.key) for job in jobs}
    todo = [job for job in jobs if len(answers[job.key]) < request.n]
    log.info(
        "%d classes x %d queries x n=%d with %s at %s: %d of %d (class, query) cached, %d to ask",
        len(request.classnames),
        len(request.queries),
        request.n,
        request.llm_model,
        request.endpoint.host,
        len(jobs) - len(todo),
        len(jobs),
        len(todo),
    )
    if todo:
        runner = _Runner(request, ChatEndpoint(request.endpoint), cache)
        _run_jobs(runner, todo, answers, len(jobs), request.concurrency, progress, on_job_done)
    return _assemble(request, jobs, answers)


def _run_jobs(
    runner: _Runner,
    todo: list[Job],
    answers: dict[str, list[str]],
    total: int,
    concurrency: int,
    progress: bool,
    on_job_done: Callable[[Job], None] | None,
) -> None:
    """Run ``todo`` in a thread pool, filling ``answers``; the first error stops the queue."""
    from tqdm import tqdm

    bar = tqdm(total=total, initial=total - len(todo), unit="query", desc="LLM", disable=not progress)
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="llm")
    futures = {pool.submit(runner.run, job, answers[job.key]): job for job in todo}
    try:
        for future in as_completed(futures):
            job = futures[future]
            answers[job.key] = future.result()
            bar.update(1)
            if on_job_done is not None:
                on_job_done(job)
    finally:
        # queued jobs are dropped; the few in flight finish and cache their answers
        pool.shutdown(wait=True, cancel_futures=True)
        bar.close()


def _assemble(request: GenerationRequest, jobs: list[Job], answers: dict[str, list[str]]) -> PromptPack:
    by_name: dict[str, list[str]] = {}
    for job in jobs:  # query order, whatever order the answers arrived in
        by_name.setdefault(job.classname, []).extend(answers[job.key])
    classes = [
        PackClass(i, name, tuple(clean_answers(by_name[name]))) for i, name in enumerate(request.classnames)
    ]
    empty = [f"{c.index} ({c.name})" for c in classes if not c.descriptions]
    if empty:
        log.warning(
            "%d classes got no usable description: %s; edit the pack or ask another model",
            len(empty),
            ", ".join(empty[:10]),
        )
    wrong = wrong_language(request.language, classes)
    if wrong:
        log.warning(
            "%d classes got descriptions not in Chinese: %s; `prompts check` will refuse the pack "
            "until they are edited or asked again",
            len(wrong),
            ", ".join(f"{c.index} ({c.name}): {texts[0]!r}" for c, texts in wrong[:5]),
        )
    generator = GeneratorInfo(
        kind="llm",
        endpoint="openai-compatible",
        date=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        tool=tool_version(),
        llm_model=request.llm_model,
        base_url_host=request.endpoint.host,
        temperature=request.temperature,
        n=request.n,
        max_chars=request.max_chars,
        queries=request.queries,
        system=SYSTEM[request.language],
        instruction=INSTRUCTION[request.language],
    )
    return make_pack(request.dataset, request.language, generator, classes, _duplicate_notes(request))


def _duplicate_notes(request: GenerationRequest) -> list[str]:
    indices: dict[str, list[int]] = {}
    for i, name in enumerate(request.classnames):
        indices.setdefault(name, []).append(i)
    shared = {name: ix for name, ix in indices.items() if len(ix) > 1}
    if not shared:
        return []
    listed = "; ".join(f"{name!r}: {', '.join(map(str, ix))}" for name, ix in shared.items())
    log.warning("classes that share a name share their descriptions: %s", listed)
    return [f"classes sharing a name were asked once and share their descriptions: {listed}"]
