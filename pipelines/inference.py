"""One way to run a sentence classifier over texts, whatever it is: `Classifier`, and `load_classifier`.

Every classifier has `name`, `label_names` and three methods over a list of texts: `logits` (n,
num_labels), `probabilities` (their softmax, float64) and `predict` (label ids, (n,)). Columns
follow `label_names`; rows follow the input order.

- `TorchSequenceClassifier`: a `save_pretrained` folder (a `train.py`/`finetune.py` output, GloVe or
  transformer), a Hub id or a backbone alias, through `AutoModelForSequenceClassification`; `model`
  and `tokenizer` are exposed for exporting and for gradient-based explanations.
- `OnnxSequenceClassifier`: a folder written by `python -m pipelines.export` (`model.onnx`, the
  tokenizer, `config.json` with `id2label`, `export.json`) through ONNX Runtime, no PyTorch model.
- `SetFitClassifier`: a SetFit run (`finetune.py --setfit`, saved by `setfit.SetFitModel.save_pretrained`:
  a sentence-transformers body and a scikit-learn head, `model_head.pkl`); its logits are the head's
  `decision_function` (`head_logits`), so softmax(logits) is the head's `predict_proba`, with any
  temperature folded into the head.
- `AsIsClassifier`: a lexicon or zero-shot scorer of `pipelines.scorers`; its logits are the log of
  its probabilities (a lexicon's one-hot rows give -inf), so softmax(logits) is the scorer's output.

The two model formats pad on the right, truncate to the model's maximum length
(`model_max_length`) and sort each call's texts by length, longest first, so a batch pads little;
the order is restored. A text with no tokens at all (an empty string through the GloVe tokenizer)
gets one padded, masked position, as the GloVe models do themselves. `progress=True` shows a bar
over the sentences.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol

import numpy as np
from scipy.special import softmax
from tqdm.auto import tqdm

from pipelines.errors import ConfigError, DataError, OptionError, PathError, one_line
from pipelines.runs.layout import EXPORT_RECORD, SETFIT_HEAD_FILE, short_name

ONNX_FILE = "model.onnx"
FALLBACK_MAX_LENGTH = 512  # tokenizers that do not say (model_max_length is a huge sentinel)
ROBERTA_LIKE = {"roberta", "xlm-roberta", "camembert", "bertweet"}  # two positions are reserved for padding
DEFAULT_LABELS = ["negative", "neutral", "positive"]  # an as-is scorer's labels when none are given
BATCH_SIZE = 64


class Classifier(Protocol):
    """Texts in, scores over `label_names` out, rows in input order."""

    name: str
    label_names: list[str]
    # the temperature the model's own saved calibration divides its logits by (a run calibrated when trained, or by
    # `pipelines.calibrate`: `pipelines.calibration.model_temperature`); 1.0: none (a lexicon, zero-shot, a stock checkpoint)
    temperature: float

    def logits(self, texts: list[str]) -> np.ndarray:
        """(len(texts), len(label_names)) scores before the softmax: float32 (float64 from a SetFit
        run's scikit-learn head, which computes in float64)."""
        ...

    def probabilities(self, texts: list[str]) -> np.ndarray:
        """(len(texts), len(label_names)) float64, rows summing to 1."""
        ...

    def predict(self, texts: list[str]) -> np.ndarray:
        """(len(texts),) int64 label ids, indices into `label_names`."""
        ...


def model_max_length(tokenizer, config: dict) -> int:
    """The longest input in tokens: a GloVe config's `max_length`, else the tokenizer's, else the
    position embeddings' (less the two RoBERTa reserves), at most 512."""
    if config.get("model_type", "").startswith("glove") and config.get("max_length"):
        return int(config["max_length"])
    if tokenizer.model_max_length < 100_000:
        return int(tokenizer.model_max_length)
    positions = int(config.get("max_position_embeddings") or FALLBACK_MAX_LENGTH)
    return min(FALLBACK_MAX_LENGTH, positions - 2 if config.get("model_type") in ROBERTA_LIKE else positions)


def display_name(folder: Path) -> str:
    """A short name for tables and pictures: the run's model and seed folder when it has them."""
    name = short_name(folder.resolve())
    record = folder / EXPORT_RECORD
    if record.is_file():
        quantization = json.loads(record.read_text()).get("quantization")
        name += f" (onnx {quantization or 'fp32'})"
    return name


def default_device() -> str:
    """"cuda" when a GPU is present, else "cpu"."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


DEVICE_PATTERN = r"cpu|mps|(cuda|xpu)(:\d+)?"  # the --device spellings every flow takes


def check_device(device: str) -> None:
    """`OptionError` for a `--device` spelled otherwise than `DEVICE_PATTERN` or that this machine does not have
    (torch's own error is an assertion deep in the first model's load), before any model is loaded."""
    import re

    import torch

    if not re.fullmatch(DEVICE_PATTERN, device):
        raise OptionError(f"--device must be cpu, cuda, cuda:N, mps or xpu, got {device!r}")
    kind, _, index = device.partition(":")
    available = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available(),
                 "xpu": hasattr(torch, "xpu") and torch.xpu.is_available()}.get(kind, False)  # fmt: skip
    count = {"cuda": torch.cuda.device_count, "xpu": lambda: torch.xpu.device_count()}.get(kind)
    if not available or (index and count and int(index) >= count()):
        raise OptionError(f"--device {device}: this machine has no such device (torch sees {'a GPU' if torch.cuda.is_available() else 'no GPU'})")


def check_batch_size(batch_size: int) -> int:
    if batch_size < 1:
        raise OptionError(f"batch_size must be at least 1, got {batch_size}")
    return batch_size


class SequenceClassifier:
    """What both model formats share: tokenizing, length-sorted batches, softmax and argmax."""

    def __init__(self, tokenizer, label_names: list[str], max_length: int, name: str, batch_size: int, progress: bool):
        self.tokenizer = tokenizer
        self.label_names = label_names
        self.max_length = max_length
        self.name = name
        self.batch_size = check_batch_size(batch_size)
        self.progress = progress

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

    def logits(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        """Logits (n, num_labels) float32 in input order; batches of `batch_size` (default: the
        classifier's) texts, longest first. Raises `OptionError` for a batch size below 1."""
        size = check_batch_size(batch_size or self.batch_size)
        texts = list(texts)
        order = length_order(texts)
        result = np.zeros((len(texts), len(self.label_names)), dtype=np.float32)
        with tqdm(total=len(texts), desc=self.name, unit="sent", leave=False, disable=not self.progress) as bar:
            for start in range(0, len(texts), size):
                chunk = order[start : start + size]
                arrays = self.encode([texts[i] for i in chunk])
                result[chunk] = self.logits_for_ids(arrays["input_ids"], arrays["attention_mask"])
                bar.update(len(chunk))
        return result

    def probabilities(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        """Softmax of `logits`, (n, num_labels) float64."""
        return softmax(self.logits(texts, batch_size).astype(np.float64), axis=-1)

    def predict(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        """Label ids (n,), the argmax of `logits`."""
        return self.logits(texts, batch_size).argmax(axis=-1)


def length_order(texts: list[str]) -> list[int]:
    """The order `SequenceClassifier.logits` batches `texts` in: longest (in characters) first, ties in input
    order (a stable sort), so texts already in this order keep it. Batches of the same texts give the same
    logits bit for bit, which lets `pipelines.distillation` label a long list in resumable chunks."""
    return sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)


def id2label_names(id2label: dict) -> list[str]:
    by_id = {int(key): value for key, value in id2label.items()}
    return [by_id[i] for i in range(len(by_id))]


class OnnxSequenceClassifier(SequenceClassifier):
    """An exported folder run by ONNX Runtime on the CPU."""

    def __init__(self, session, tokenizer, config: dict, max_length: int, name: str = "onnx", batch_size: int = BATCH_SIZE, progress: bool = False):
        super().__init__(tokenizer, id2label_names(config["id2label"]), max_length, name, batch_size, progress)
        self.session = session
        self.config = config
        self.input_names = [item.name for item in session.get_inputs()]

    @property
    def temperature(self) -> float:
        """The temperature the exported model's `config.json` says its graph divides the logits by (1.0: none)."""
        from pipelines.calibration import model_temperature

        return model_temperature(self.config)

    @classmethod
    def from_folder(cls, path: str | Path, threads: int | None = None, batch_size: int = BATCH_SIZE, progress: bool = False) -> OnnxSequenceClassifier:
        """Load `path/model.onnx`, its tokenizer and `config.json`; `threads` caps ONNX Runtime's
        intra-op threads (default: its own choice). Raises `PathError` for a folder that is not an
        export, `ConfigError` for a config without `id2label`."""
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
        return cls(session, tokenizer, config, max_length, display_name(folder), batch_size, progress)

    def logits_for_ids(self, input_ids, attention_mask):
        """Ids past `max_length` are cut here too, for folders exported before the graph cut them."""
        feeds = {
            "input_ids": np.asarray(input_ids, dtype=np.int64)[:, : self.max_length],
            "attention_mask": np.asarray(attention_mask, dtype=np.int64)[:, : self.max_length],
        }
        return self.session.run(["logits"], {name: feeds[name] for name in self.input_names})[0]


class TorchSequenceClassifier(SequenceClassifier):
    """A sequence-classification model run by PyTorch in inference mode, on `device`; with `bf16`, under
    `torch.autocast(device, torch.bfloat16)` (the logits still come back float32)."""

    family = "checkpoint"

    def __init__(
        self, model, tokenizer, max_length: int, name: str = "model", device: str = "cpu", batch_size: int = BATCH_SIZE,
        progress: bool = False, bf16: bool = False,
    ):
        super().__init__(tokenizer, id2label_names(model.config.id2label), max_length, name, batch_size, progress)
        self.model = model.to(device).eval()
        self.device = device
        self.bf16 = bf16

    @property
    def temperature(self) -> float:
        """The temperature the model's config says its logits are divided by (1.0: none)."""
        from pipelines.calibration import model_temperature

        return model_temperature(self.model.config)

    @classmethod
    def from_pretrained(
        cls, name_or_path: str | Path, device: str = "cpu", batch_size: int = BATCH_SIZE, progress: bool = False, max_length: int | None = None,
        bf16: bool = False,
    ) -> TorchSequenceClassifier:
        """A `save_pretrained` folder, a Hub id or a backbone alias (`pipelines.backbones.MODEL_ALIASES`,
        with an untrained head); `max_length` caps the model's own limit. A tokenizer without a pad token (GPT-2's)
        pads with its end-of-text token, which the model's config then names as `pad_token_id` (`pad_with_eos`).
        Raises `PathError` for a folder without `config.json`, weights or tokenizer, a missing folder and an unreachable
        or unknown Hub id, `DataError` for weights that cannot be read, and `ConfigError` for a config no installed model
        class reads or a tokenizer with neither a pad nor an end-of-text token."""
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        import models  # noqa: F401  (registers the GloVe models with the Auto classes)
        from pipelines import backbones, hub_access

        folder = Path(name_or_path).expanduser()
        if folder.is_dir():
            if is_setfit_folder(folder):  # its config.json is the bare encoder's: a random head would load silently
                raise PathError(
                    f"{folder} is a SetFit run ({SETFIT_HEAD_FILE}: a sentence encoder and a scikit-learn head), not a "
                    "sequence-classification model: load it with pipelines.inference.load_classifier (predict, explain and "
                    "the demo do); ONNX export and Integrated Gradients need a sequence-classification model"
                )
            if not (folder / "config.json").is_file():
                raise PathError(
                    f"{folder} is not a model folder: expected config.json with one of {', '.join(backbones.WEIGHTS_FILES)} "
                    f"(a train.py/finetune.py output), or {ONNX_FILE} (a pipelines.export output)"
                )
            if not any((folder / name).is_file() for name in backbones.WEIGHTS_FILES):
                raise PathError(f"{folder} has no weights file (expected one of: {', '.join(backbones.WEIGHTS_FILES)})")
            if not any((folder / name).is_file() for name in backbones.TOKENIZER_FILES):
                raise PathError(f"{folder} has no tokenizer (expected one of: {', '.join(backbones.TOKENIZER_FILES)}): save the tokenizer beside the model")
            source, kwargs, name = str(folder), {}, display_name(folder)
        else:
            source = backbones.resolve_model(str(name_or_path))
            kwargs = hub_access.model_load_kwargs(source, "give a local model folder instead (a save_pretrained folder)")
            name = str(name_or_path)
        from safetensors import SafetensorError

        try:
            model = AutoModelForSequenceClassification.from_pretrained(source, **kwargs)
        except ValueError as err:  # an unknown model_type, a config that does not fit the class
            raise ConfigError(f"{source}: {str(err).splitlines()[0]}") from err
        except (SafetensorError, EOFError) as err:  # a truncated or corrupt weights file: the user's file, not a bug
            raise DataError(f"{source}: its weights cannot be read ({str(err).splitlines()[0]}); re-save or re-train the model") from err
        except OSError as err:  # no such Hub repo: transformers says which in its first line (as `finetuning.load_model`)
            raise PathError(f"cannot load model {source}: {one_line(err)}") from err
        tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
        if pad_with_eos(tokenizer, source):  # GPT-2-style heads score each text's last token that is not padding
            model.config.pad_token_id = tokenizer.pad_token_id
        limit = model_max_length(tokenizer, model.config.to_dict())
        return cls(model, tokenizer, min(limit, max_length or limit), name, device, batch_size, progress, bf16)

    def logits_for_ids(self, input_ids, attention_mask):
        import torch

        with torch.inference_mode(), torch.autocast(torch.device(self.device).type, dtype=torch.bfloat16, enabled=self.bf16):
            output = self.model(
                input_ids=torch.as_tensor(input_ids, device=self.device), attention_mask=torch.as_tensor(attention_mask, device=self.device)
            )
        return output.logits.float().cpu().numpy()


def pad_with_eos(tokenizer, source: str, hint: str = "save its tokenizer with pad_token set") -> bool:
    """Give a tokenizer without a pad token (GPT-2's) its end-of-text token as one, as HF's examples do: batches are
    padded, and the padded positions masked out (inference here, and fine-tuning: `pipelines.finetuning`). True when it
    did; `ConfigError` (ending with `hint`) when it has neither."""
    if tokenizer.pad_token is not None:
        return False
    if tokenizer.eos_token is None:
        raise ConfigError(f"the tokenizer of {source} has no pad token and no end-of-text token to pad with; {hint}")
    tokenizer.pad_token = tokenizer.eos_token
    return True


def is_setfit_folder(folder: Path) -> bool:
    """A folder `setfit.SetFitModel.save_pretrained` wrote: it holds the scikit-learn head, `model_head.pkl`."""
    return (Path(folder) / SETFIT_HEAD_FILE).is_file()


def head_logits(head, embeddings) -> np.ndarray:
    """The logits of a scikit-learn linear head (SetFit's `LogisticRegression`), (n, num_labels) float64:
    its `decision_function`, a binary head's (n,) log-odds z written as [0, z]. softmax of them is
    the head's `predict_proba` (scikit-learn: sigmoid(z) for two classes, softmax for more).
    embeddings: (n, dim), as `SetFitModel.encode` gives them."""
    decision = np.asarray(head.decision_function(embeddings), dtype=np.float64)
    return np.stack([np.zeros_like(decision), decision], axis=1) if decision.ndim == 1 else decision


class SetFitClassifier:
    """A SetFit model (Tunstall et al. 2022, the `setfit` library): its sentence-transformers body embeds
    the texts (`SetFitModel.encode`: the library's own length-sorted batches of `batch_size`), its
    scikit-learn linear head scores them (`head_logits`). A temperature fitted by
    `pipelines.calibration` is folded into the head, so `probabilities` are the scaled ones.
    `tokenizer`, `max_length` and `logits_for_ids` run the body on token ids, for occlusion
    explanations (`pipelines.explain`)."""

    family = "setfit"

    def __init__(self, model, label_names: list[str], name: str = "setfit", batch_size: int = BATCH_SIZE, progress: bool = False):
        self.model = model
        self.label_names = list(label_names)
        self.name = name
        self.batch_size = check_batch_size(batch_size)
        self.progress = progress

    @classmethod
    def from_folder(cls, path: str | Path, device: str = "cpu", batch_size: int = BATCH_SIZE, progress: bool = False) -> SetFitClassifier:
        """Load a `SetFitModel.save_pretrained` folder. Its label names: `config_setfit.json`'s `labels`
        in the order of the head's integer classes (a head fitted on label names: those names).
        Raises `PathError` for a folder without `model_head.pkl`, `ConfigError` for one whose labels are unknown."""
        from setfit import SetFitModel

        folder = Path(path).expanduser()
        if not is_setfit_folder(folder):
            raise PathError(f"{folder} is not a SetFit run folder: {SETFIT_HEAD_FILE} is missing")
        model = SetFitModel.from_pretrained(str(folder), device=device)
        classes = model.model_head.classes_
        if np.issubdtype(classes.dtype, np.integer):
            if not model.labels or len(model.labels) <= int(classes.max()):
                raise ConfigError(f"{folder}: config_setfit.json names no label for each of the head's classes {classes.tolist()}")
            label_names = [model.labels[int(k)] for k in classes]
        else:
            label_names = [str(k) for k in classes]
        return cls(model, label_names, display_name(folder), batch_size, progress)

    @property
    def temperature(self) -> float:
        """The temperature folded into the head (its `temperature_scaling`; 1.0: none)."""
        from pipelines.calibration import model_temperature

        return model_temperature(self.model.model_head)

    def embeddings(self, texts: list[str]) -> np.ndarray:
        """The body's sentence embeddings (n, dim) float32, normalised when the model says so."""
        return np.asarray(self.model.encode(list(texts), batch_size=self.batch_size, show_progress_bar=self.progress))

    def logits(self, texts: list[str]) -> np.ndarray:
        """The head's decision function (n, num_labels) float64 (`head_logits`), rows in input order."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, len(self.label_names)))
        return head_logits(self.model.model_head, self.embeddings(texts))

    def probabilities(self, texts: list[str]) -> np.ndarray:
        """softmax of `logits` (n, num_labels) float64: the head's `predict_proba`."""
        return softmax(self.logits(texts), axis=-1)

    def predict(self, texts: list[str]) -> np.ndarray:
        """Label ids (n,), the argmax of `logits` (the head's own `predict`)."""
        return self.logits(texts).argmax(axis=-1)

    @property
    def tokenizer(self):
        return self.model.model_body.tokenizer

    @property
    def max_length(self) -> int:
        return int(self.model.model_body.max_seq_length)

    def logits_for_ids(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """(batch, seq_len) int64 ids and mask -> logits (batch, num_labels): the body's forward pass
        (sentence-transformers modules over a features dict), then the head."""
        import torch

        body = self.model.model_body
        with torch.inference_mode():
            features = {"input_ids": torch.as_tensor(input_ids, device=body.device), "attention_mask": torch.as_tensor(attention_mask, device=body.device)}
            embeddings = body(features)["sentence_embedding"]  # (batch, dim)
            if self.model.normalize_embeddings:
                embeddings = torch.nn.functional.normalize(embeddings, p=2, dim=1)
        return head_logits(self.model.model_head, embeddings.float().cpu().numpy())


class AsIsClassifier:
    """A scorer of `pipelines.scorers` (`labels`, `predict_proba(texts, batch_size)`) as a `Classifier`;
    `family` and `rule` are the scorer's."""

    temperature = 1.0  # a scorer's probabilities are its own rule's, never scaled by a saved temperature

    def __init__(self, scorer, batch_size: int = BATCH_SIZE, progress: bool = False):
        self.scorer = scorer
        self.name, self.label_names = scorer.name, list(scorer.labels)
        self.family, self.rule = scorer.family, scorer.rule
        self.batch_size = check_batch_size(batch_size)
        self.progress = progress

    def probabilities(self, texts: list[str]) -> np.ndarray:
        """The scorer's probabilities (n, num_labels) float64, `batch_size` texts a call."""
        texts = list(texts)
        result = np.zeros((len(texts), len(self.label_names)))
        with tqdm(total=len(texts), desc=self.name, unit="sent", leave=False, disable=not self.progress) as bar:
            for start in range(0, len(texts), self.batch_size):
                chunk = texts[start : start + self.batch_size]
                result[start : start + len(chunk)] = self.scorer.predict_proba(chunk, self.batch_size)
                bar.update(len(chunk))
        return result

    def logits(self, texts: list[str]) -> np.ndarray:
        """log `probabilities` (n, num_labels) float32; -inf where a probability is 0."""
        with np.errstate(divide="ignore"):
            return np.log(self.probabilities(texts)).astype(np.float32)

    def predict(self, texts: list[str]) -> np.ndarray:
        """Label ids (n,); a tie goes to the first label."""
        return self.probabilities(texts).argmax(axis=-1)


def as_is_classifier(name: str, label_names: list[str] | None, dataset: str | None, device: str, batch_size: int, progress: bool) -> AsIsClassifier:
    """A lexicon (three classes when `label_names` has neutral, in any spelling `metrics.sentiments` reads) or a zero-shot sentence encoder over
    the descriptions of `label_names` (default `DEFAULT_LABELS`)."""
    from pipelines import backbones
    from pipelines.metrics import sentiments
    from pipelines.scorers import LEXICONS, NEUTRAL, LexiconScorer, ZeroShotScorer, label_descriptions

    label_names = list(label_names or DEFAULT_LABELS)
    if name in LEXICONS:
        return AsIsClassifier(LexiconScorer(name, three_class=NEUTRAL in sentiments(label_names)), batch_size, progress)
    descriptions = label_descriptions(label_names, dataset)
    return AsIsClassifier(ZeroShotScorer(name, backbones.resolve_alias(name), descriptions, device=device), batch_size, progress)


def load_classifier(
    path_or_name: str | Path,
    label_names: list[str] | None = None,
    dataset: str | None = None,
    device: str = "cpu",
    batch_size: int = BATCH_SIZE,
    progress: bool = False,
) -> Classifier:
    """The classifier `path_or_name` names: a lexicon (vader, textblob, afinn) or a sentence-encoder
    alias (minilm, mpnet: zero-shot), both over `label_names` (and `dataset`'s descriptions); a SetFit
    run folder (`model_head.pkl`); a folder holding `model.onnx`; or a `save_pretrained` folder or Hub id. Raises `PathError` for a missing
    or unusable folder and an unreachable Hub id, `ConfigError` for a config no model class reads."""
    from pipelines.backbones import MODEL_ALIASES
    from pipelines.scorers import LEXICONS

    entry = str(path_or_name)
    if entry in LEXICONS or entry in MODEL_ALIASES:
        return as_is_classifier(entry, label_names, dataset, device, batch_size, progress)
    if is_setfit_folder(Path(entry).expanduser()):
        return SetFitClassifier.from_folder(Path(entry).expanduser(), device, batch_size, progress)
    if (Path(entry).expanduser() / ONNX_FILE).is_file():
        return OnnxSequenceClassifier.from_folder(Path(entry).expanduser(), batch_size=batch_size, progress=progress)
    return TorchSequenceClassifier.from_pretrained(entry, device, batch_size, progress)
