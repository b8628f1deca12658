"""Is the Hugging Face Hub reachable? Asked once per process, in seconds.

Offline, every Hub download retries for about a minute before it fails. `hub_reachable` asks
once, with a short timeout (or not at all when `HF_HUB_OFFLINE` is set), and `model_load_kwargs`
(and, for Hub datasets, `pipelines.data.hub_datasets.load_hub_or_cache`) turn an unreachable Hub
into a load from the local cache, or into one line (`HubUnreachable`) that names the model or
data and the local alternative.
"""

from __future__ import annotations

import functools
from pathlib import Path

import huggingface_hub
from huggingface_hub.utils import get_session

from pipelines.errors import PathError

# Seconds the one reachability probe waits: a DNS failure answers at once, a silent firewall not.
PROBE_TIMEOUT_S = 3.0


class HubUnreachable(PathError):
    """The Hub cannot be reached (offline, `HF_HUB_OFFLINE`, no route) and nothing cached stands in."""


@functools.cache
def hub_reachable() -> bool:
    """Whether the Hub answers, asked once per process with a `PROBE_TIMEOUT_S` timeout.

    `HF_HUB_OFFLINE=1` answers no without asking. Any HTTP answer counts as reachable (the
    downloads themselves report a missing repo or a refused token).
    """
    if huggingface_hub.is_offline_mode():
        return False
    try:
        get_session().head(huggingface_hub.constants.ENDPOINT, timeout=PROBE_TIMEOUT_S)
    except Exception:  # any transport failure (DNS, refused, timeout, proxy) means: not reachable now
        return False
    return True


def unreachable_reason() -> str:
    if huggingface_hub.is_offline_mode():
        return "HF_HUB_OFFLINE is set"
    return f"{huggingface_hub.constants.ENDPOINT} did not answer within {PROBE_TIMEOUT_S:g} s"


def unreachable_error(what: str, alternative: str) -> HubUnreachable:
    """`HubUnreachable`: `what` (e.g. "model 'x' is not in the local cache and") needs the Hub, why it is unreachable, the `alternative`."""
    return HubUnreachable(f"{what} needs the Hugging Face Hub, which is unreachable ({unreachable_reason()}); {alternative}")


def model_load_kwargs(model: str, alternative: str) -> dict:
    """Extra `from_pretrained` arguments for `model` (a Hub id or a local folder).

    A local folder, or a reachable Hub: none. An unreachable Hub with the model in the local
    cache: `local_files_only=True`, which loads it without a minute of retries. Otherwise
    `HubUnreachable`, naming the model and `alternative` (e.g. "use --models <run folder>").
    """
    if Path(model).expanduser().is_dir() or hub_reachable():
        return {}
    try:
        cached = huggingface_hub.try_to_load_from_cache(model, "config.json")
    except ValueError:  # not a valid repo id either: nothing can stand in
        cached = None
    if isinstance(cached, str):
        return {"local_files_only": True}
    raise unreachable_error(f"model {model!r} is not in the local cache and", alternative)
