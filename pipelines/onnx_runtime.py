"""A sentence classifier from a folder, whatever its format: an ONNX export or a PyTorch checkpoint.

`OnnxSequenceClassifier` runs a folder written by `python -m pipelines.export` (`model.onnx`, the
tokenizer files, `config.json` with `id2label`, `export.json`) through ONNX Runtime, with no
PyTorch model involved. `TorchSequenceClassifier` runs a `save_pretrained` folder (a `train.py`,
`finetune.py` or Hub checkpoint) through `AutoModelForSequenceClassification`. Both have `labels`,
`predict_proba(texts, batch_size)` and `logits_for_ids(input_ids, attention_mask)`, so the
explanations, the demo and `evaluate_pretrained.py` treat them alike; `load_classifier(path)` picks
the class from the folder's files.

Both pad on the right, truncate to the model's maximum length and sort each call's texts by length
so a batch pads little (the order is restored). A text with no tokens at all (an empty string
through the GloVe tokenizer) gets one padded, masked position, as the GloVe models do themselves.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy.special import softmax

from pipelines.errors import ConfigError, OptionError, PathError

ONNX_FILE = "model.onnx"
EXPORT_RECORD = "export.json"
WEIGHTS_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")
FALLBACK_MAX_LENGTH = 512  # tokenizers that do not say (model_max_length is a huge sentinel)


def model_max_length(tokenizer, config: dict) -> int:
    """The longest input in tokens: a GloVe config's `max_length`, else the tokenizer's, else 512."""
    if config.get("model_type", "").startswith("glove") and config.get("max_length"):
        return int(config["max_length"])
    if tokenizer.model_max_length < 100_000:
        return int(tokenizer.model_max_length)
    positions = config.get("max_position_embeddings") or FALLBACK_MAX_LENGTH
    return min(FALLBACK_MAX_LENGTH, int(positions))


def display_name(folder: Path) -> str:
    """A short name for tables and pictures: the run's model and seed folder when it has them."""
    parts = folder.resolve().parts
    name = "/".join(parts[-2:]) if parts[-1].startswith(("seed-", "fold-")) else parts[-1]
    record = folder / EXPORT_RECORD
    if record.is_file():
        quantization = json.loads(record.read_text()).get("quantization")
        name += f" (onnx {quantization or 'fp32'})"
    return name


class _Classifier:
    """What both formats share: tokenizing batches and turning logits into probabilities."""

    tokenizer = None
    max_length: int
    labels: list[str]
    name: str

    def encode(self, texts: list[str]) -> dict[str, np.ndarray]:
        """Right-padded int64 `input_ids` and `attention_mask`, (batch, seq_len), seq_len >= 1."""
        encoded = self.tokenizer(list(texts), padding=True, truncation=True, max_length=self.max_length, return_tensors="np")
        arrays = {key: encoded[key].astype(np.int64) for key in ("input_ids", "attention_mask")}
        if arrays["input_ids"].shape[1] == 0:
            arrays["input_ids"] = np.full((len(texts), 1), self.tokenizer.pad_token_id, dtype=np.int64)
            arrays["attention_mask"] = np.zeros((len(texts), 1), dtype=np.int64)
        return arrays

    def logits_for_ids(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """(batch, seq_len) int64 ids and mask -> logits (batch, num_labels), float32."""
        raise NotImplementedError

    def logits(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Logits (n, num_labels) in `labels` order; batches of `batch_size` texts sorted by length."""
        if batch_size < 1:
            raise OptionError(f"batch_size must be at least 1, got {batch_size}")
        texts = list(texts)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        result = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            chunk = order[start : start + batch_size]
            arrays = self.encode([texts[i] for i in chunk])
            result[chunk] = self.logits_for_ids(arrays["input_ids"], arrays["attention_mask"])
        return result

    def predict_proba(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Softmax probabilities (n, num_labels), columns in `labels` order."""
        return softmax(self.logits(texts, batch_size).astype(np.float64), axis=-1)


class OnnxSequenceClassifier(_Classifier):
    """An exported folder run by ONNX Runtime (CPU): `labels`, `predict_proba`, `logits_for_ids`."""

    def __init__(self, session, tokenizer, config: dict, max_length: int, name: str = "onnx"):
        self.session = session
        self.tokenizer = tokenizer
        self.config = config
        self.max_length = max_length
        self.name = name
        id2label = {int(key): value for key, value in config["id2label"].items()}
        self.labels = [id2label[i] for i in range(len(id2label))]
        self.input_names = [item.name for item in session.get_inputs()]

    @classmethod
    def from_folder(cls, path: str | Path, threads: int | None = None) -> OnnxSequenceClassifier:
        """Load `path/model.onnx`, its tokenizer and `config.json`; `threads` caps ONNX Runtime's
        intra-op threads (default: its own choice). Raises `PathError` for a folder that is not an export."""
        import onnxruntime
        from transformers import AutoTokenizer

        import models  # noqa: F401  (GloVe model types known, so reading a GloVe config.json warns of nothing)

        folder = Path(path).expanduser()
        for needed in (ONNX_FILE, "config.json"):
            if not (folder / needed).is_file():
                raise PathError(f"{folder} is not an exported model folder: {needed} is missing (make one with python -m pipelines.export)")
        config = json.loads((folder / "config.json").read_text())
        if not config.get("id2label"):
            raise ConfigError(f"{folder / 'config.json'} has no id2label: the label names are unknown")
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        session = onnxruntime.InferenceSession(str(folder / ONNX_FILE), options, providers=["CPUExecutionProvider"])
        tokenizer = AutoTokenizer.from_pretrained(folder)
        record = json.loads((folder / EXPORT_RECORD).read_text()) if (folder / EXPORT_RECORD).is_file() else {}
        max_length = int(record.get("max_length") or model_max_length(tokenizer, config))
        return cls(session, tokenizer, config, max_length, display_name(folder))

    def logits_for_ids(self, input_ids, attention_mask):
        """Ids past `max_length` are cut here too, for folders exported before the graph cut them."""
        feeds = {
            "input_ids": np.asarray(input_ids, dtype=np.int64)[:, : self.max_length],
            "attention_mask": np.asarray(attention_mask, dtype=np.int64)[:, : self.max_length],
        }
        return self.session.run(["logits"], {name: feeds[name] for name in self.input_names})[0]


class TorchSequenceClassifier(_Classifier):
    """A `save_pretrained` folder run by PyTorch on the CPU; `model` and `tokenizer` are exposed for
    exporting and for gradient-based explanations."""

    def __init__(self, model, tokenizer, max_length: int, name: str = "model"):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.name = name
        self.labels = [model.config.id2label[i] for i in range(model.config.num_labels)]

    @classmethod
    def from_folder(cls, path: str | Path) -> TorchSequenceClassifier:
        """Raises `PathError` for a folder without `config.json` and weights, `ConfigError` for a
        config no installed model class reads."""
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        import models  # noqa: F401  (registers the GloVe models with the Auto classes)

        folder = Path(path).expanduser()
        if not (folder / "config.json").is_file() or not any((folder / name).is_file() for name in WEIGHTS_FILES):
            raise PathError(
                f"{folder} is not a model folder: expected config.json with one of {', '.join(WEIGHTS_FILES)} "
                f"(a train.py/finetune.py output), or {ONNX_FILE} (a pipelines.export output)"
            )
        try:
            model = AutoModelForSequenceClassification.from_pretrained(folder)
        except ValueError as err:  # an unknown model_type, a config that does not fit the class
            raise ConfigError(f"{folder}: {str(err).splitlines()[0]}") from err
        tokenizer = AutoTokenizer.from_pretrained(folder)
        max_length = model_max_length(tokenizer, model.config.to_dict())
        return cls(model, tokenizer, max_length, display_name(folder))

    def logits_for_ids(self, input_ids, attention_mask):
        import torch

        with torch.no_grad():
            output = self.model(input_ids=torch.as_tensor(input_ids), attention_mask=torch.as_tensor(attention_mask))
        return output.logits.float().numpy()


def load_classifier(path: str | Path) -> OnnxSequenceClassifier | TorchSequenceClassifier:
    """An exported folder (`model.onnx`) through ONNX Runtime, any other model folder through PyTorch.
    Raises `PathError` for a missing folder or one that holds neither."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise PathError(f"model folder not found: {folder}")
    if (folder / ONNX_FILE).is_file():
        return OnnxSequenceClassifier.from_folder(folder)
    return TorchSequenceClassifier.from_folder(folder)
