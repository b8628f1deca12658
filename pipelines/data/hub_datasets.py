"""A Hub dataset's splits, loaded from the Hub or, when it is out of reach, from the local
`datasets` cache in seconds; then brought to text and label like local files."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING

from pipelines.data.files import LOCAL_FILES_HINT
from pipelines.data.rows import Place, to_classification
from pipelines.errors import DataError, PathError, root_cause_line

if TYPE_CHECKING:
    from datasets import DatasetDict


def load_hub_dataset(
    name: str,
    config: str | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    class_names: list[str] | None = None,
) -> tuple[DatasetDict, dict]:
    """A Hub dataset's `train`, `validation` and `test` splits (those it has), like local files.

    Raises `PathError` (`HubUnreachable` without the Hub) as `load_hub_or_cache` says, and
    `DataError` for a dataset without those splits or with rows `to_classification` refuses.
    """
    shown = _shown(name, config)
    hub = load_hub_or_cache(name, config, f"use local files: {LOCAL_FILES_HINT}")
    raw = {split: hub[split] for split in ("train", "validation", "test") if split in hub}
    if not raw:
        raise DataError(f"Hub dataset {shown} has no train, validation or test split (it has: {', '.join(hub)})")
    places = {split: Place(f"{name}[{split}]", "row") for split in raw}
    dataset, columns = to_classification(raw, places, text_column, label_column, class_names)
    return dataset, {"source": "hub", "dataset_name": name, "dataset_config": config, **columns, "test_held_out": False}


def _shown(name: str, config: str | None) -> str:
    return f"{name!r}" + (f" (config {config!r})" if config else "")


def load_hub_or_cache(name: str, config: str | None, local_alternative: str) -> DatasetDict:
    """`datasets.load_dataset(name, config)`: from the Hub when `hub_access.hub_reachable()`, else from
    the local datasets cache alone, in offline mode.

    Without offline mode `datasets` asks the Hub first and retries for some twenty seconds before
    it falls back to its cache (datasets 5.2, Hub unreachable); offline mode reads the cache at once.
    Raises `HubUnreachable` (a `PathError`) naming the dataset and what to do when the Hub is
    unreachable and the dataset (or this config of it) was never cached, and `PathError` when
    the Hub answers but the load fails. `local_alternative` ("use local files: ...") ends both.
    """
    from datasets import load_dataset

    from pipelines import hub_access  # here, not at the top: with `huggingface_hub`, which local data never needs

    shown = _shown(name, config)
    if not hub_access.hub_reachable():
        try:
            with _datasets_offline():
                return load_dataset(name, config)
        except (ConnectionError, ValueError) as err:  # offline: an uncached dataset, an uncached config
            raise hub_access.unreachable_error(
                f"the Hub dataset {shown} is not in the local datasets cache and",
                f"load it once while the Hub is reachable (later runs read the cached copy, also with HF_HUB_OFFLINE=1), "
                f"or {local_alternative}",
            ) from err
    try:
        return load_dataset(name, config)
    except Exception as err:  # the Hub client raises many kinds of connection and repository errors
        raise PathError(
            f"could not load {shown} from the Hub ({type(err).__name__}: {root_cause_line(err)}); offline, {local_alternative}"
        ) from err


@contextmanager
def _datasets_offline():
    """`HF_HUB_OFFLINE` for the `datasets` and `huggingface_hub` calls inside, as if set at startup.

    Both read a module constant on every call (`datasets.config.HF_HUB_OFFLINE` was copied from
    the Hub client's at import), so setting the two is offline mode; the previous values return.
    """
    import datasets
    import huggingface_hub

    saved = datasets.config.HF_HUB_OFFLINE, huggingface_hub.constants.HF_HUB_OFFLINE
    datasets.config.HF_HUB_OFFLINE = huggingface_hub.constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        datasets.config.HF_HUB_OFFLINE, huggingface_hub.constants.HF_HUB_OFFLINE = saved
