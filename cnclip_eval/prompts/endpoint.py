"""An OpenAI-compatible chat endpoint (OpenAI, vLLM, Ollama, llama.cpp, DashScope, ...).

The API key is read from an environment variable at the last moment and handed to the ``openai``
client; nothing else keeps it. Whatever text an error carries is passed through :meth:`redact`
before it reaches a message or a log line, so the key cannot leak even if a server echoes it.

Retries are the ``openai`` client's own: it retries connection errors, 408, 409, 429 and 5xx with
exponential backoff and honours ``Retry-After``; ``max_retries`` and ``timeout`` tune it.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

from cnclip_eval.errors import UserError

log = logging.getLogger(__name__)

OPENAI_URL = "https://api.openai.com/v1"
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "0.0.0.0")
_LOCAL_PLACEHOLDER_KEY = "no-key"  # local servers ignore the key, but the client wants one


@dataclass(frozen=True)
class EndpointConfig:
    base_url: str | None  # None: $OPENAI_BASE_URL, else OpenAI's API
    api_key_env: str = "OPENAI_API_KEY"
    max_retries: int = 6
    timeout: float = 120.0  # seconds per request

    @property
    def url(self) -> str:
        return (self.base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_URL).rstrip("/")

    @property
    def host(self) -> str:
        """Host (and port) only: safe to record, unlike a URL that may carry a user or a query."""
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        return f"{host}:{parts.port}" if parts.port else host

    @property
    def is_local(self) -> bool:
        host = urlsplit(self.url).hostname or ""
        return host in LOCAL_HOSTS or host.endswith(".localhost")


class MalformedReply(UserError):
    """A reply that is not a chat completion (a proxy's error page, a cut body): asked again."""


def check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UserError(
            f"--base-url {url!r} is not an http(s) URL; expected e.g. http://127.0.0.1:11434/v1 (Ollama) "
            "or http://localhost:8000/v1 (vLLM)"
        )


class ChatEndpoint:
    """Sends chat completions; turns the client's failures into :class:`UserError` without the key."""

    def __init__(self, config: EndpointConfig) -> None:
        import openai

        check_url(config.url)
        self.config = config
        self._secret = os.environ.get(config.api_key_env) or ""
        if not self._secret and not config.is_local:
            raise UserError(
                f"no API key for {config.host}: set the environment variable {config.api_key_env} "
                "(or name another variable with --api-key-env). Servers on localhost need none."
            )
        self._client = openai.OpenAI(
            api_key=self._secret or _LOCAL_PLACEHOLDER_KEY,
            base_url=config.url,
            max_retries=config.max_retries,
            timeout=config.timeout,
        )
        self._use_n = True  # cleared once a server refuses n > 1
        self._lock = threading.Lock()

    def redact(self, text: str) -> str:
        return text.replace(self._secret, "***") if self._secret else text

    def complete(self, model: str, messages: list[dict], temperature: float, n: int, what: str) -> list[str]:
        """Up to ``n`` answers (servers may return fewer); ``what`` names the request in errors."""
        import openai

        n = n if self._use_n else 1
        try:
            response = self._client.chat.completions.create(
                model=model, messages=messages, temperature=temperature, n=n
            )
        except openai.BadRequestError as error:
            if n == 1:
                raise self._user_error(error, model, what) from None
            with self._lock:
                if self._use_n:
                    self._use_n = False
                    log.warning(
                        "%s refused n=%d (%s); asking one answer at a time",
                        self.config.host,
                        n,
                        self.redact(str(error)),
                    )
            return self.complete(model, messages, temperature, 1, what)
        except openai.OpenAIError as error:
            raise self._user_error(error, model, what) from None
        except ValueError as error:  # the client parses the body itself: a 200 that is not JSON
            raise MalformedReply(
                f"{self.config.host} sent a reply for {self.redact(what)} that is not JSON "
                f"({self.redact(str(error))})"
            ) from None
        choices = getattr(response, "choices", None)
        if not isinstance(choices, list):
            raise MalformedReply(f"{self.config.host} sent a reply for {self.redact(what)} without choices")
        return [getattr(getattr(choice, "message", None), "content", None) or "" for choice in choices]

    def _user_error(self, error: Exception, model: str, what: str) -> UserError:
        import openai

        host = self.config.host
        if isinstance(error, openai.AuthenticationError):
            reason = f"the server refused the API key from ${self.config.api_key_env}"
        elif isinstance(error, openai.NotFoundError):
            reason = f"model {model!r} or the chat completions path was not found (is --base-url right?)"
        elif isinstance(error, openai.APITimeoutError):
            reason = f"no answer within {self.config.timeout:g} s after {self.config.max_retries} retries"
        elif isinstance(error, openai.APIConnectionError):
            reason = f"cannot connect after {self.config.max_retries} retries; is the server running?"
        else:
            reason = self.redact(str(error))
        return UserError(
            f"LLM request to {host} for {self.redact(what)} failed: {reason}. "
            "Answers received so far are cached; run the same command again to resume."
        )
