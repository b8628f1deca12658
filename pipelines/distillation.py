"""Knowledge distillation into a GloVe model: the teacher's logits, cached, and Tang et al.'s transfer set.

`train.py --teacher DIR` trains the student on `pipelines.losses.sentiment_loss`: the gold
cross-entropy mixed with logit regression on the teacher (or temperature-scaled KL, see there).

- The teacher is any local sequence-classification folder whose `id2label` names are the
  dataset's labels (a fine-tuned MiniLM or MPNet from `finetune.py`, another project model). It
  runs in `torch.inference_mode`, on the training sentences (before the validation hold-out)
  and on the transfer set made from them; never on validation or test sentences' rows for the
  loss, never on the test set at all.
- Its logits are cached in `$SENTIBENCH_CACHE/teacher_logits/<name>-<key>.npy`, the key a
  SHA-256 of the teacher's files (config, weights, tokenizer) and of the texts, so the five seeds
  of a student (whose validation splits differ) label the same pool once. A change to the
  teacher or the data changes the key. The labelling is resumable: it saves every 2,048 sentences
  (`label_in_chunks`), so a large teacher (MPNet on MR's 110,000 sentences: CPU hours) labels over
  several sessions, started by `python -m pipelines.distillation` (below) before the students train.
  On a CPU that computes bf16 natively (`training_arguments.native_cpu_bf16`) the teacher runs under bf16
  autocast, as finetune.py trains it there (about 2x faster; logits to bf16's ~3 significant digits), and
  the cache key says so, so fp32 and bf16 labels of one teacher never mix; a student's record says so too
  (`distillation.teacher_bf16`, absent for fp32), so seeds labelled on different machines are told apart, and a
  student interrupted with fp32 labels is not resumed with bf16 ones (its run definition differs).
- Transfer set (`--transfer_set_size N`): N sentences made from the training sentences with two of
  Tang et al.'s (2019, Sec. 3.3) three rules, the two that need no part-of-speech tagger: each
  word masked with probability 0.1 (`[MASK]` for the teacher, `[UNK]`, a zero vector, for the
  student), then, with probability 0.25, the sentence cut to a random n-gram, n in 1..5. They are
  drawn with a fixed seed from the whole pool, so every student seed shares one labelling; each
  seed keeps only those made from its own training rows (none from its validation rows).

Label only, filling the cache the students' cells then read (same data and distillation options as theirs):

    python -m pipelines.distillation --teacher runs/study/mr-mpnet/seed-0 --dataset mr --data_dir ../shared/datasets \
        --transfer_set_size 100000
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
from datasets import Dataset, DatasetDict, Value, concatenate_datasets
from transformers import AutoConfig, AutoTokenizer

import models  # noqa: F401  registers the GloVe models with the Auto classes: a project model can teach
from pipelines.backbones import WEIGHTS_FILES
from pipelines.calibration import model_temperature
from pipelines.errors import DataError, OptionError, PathError, one_line
from pipelines.inference import TorchSequenceClassifier, default_device, is_setfit_folder, length_order
from pipelines.runs import io as run_io
from pipelines.runs.io import file_name
from pipelines.runs.record import finished_record, weights_fingerprint
from pipelines.arguments import DataArguments, DistillationArguments, TeacherLabellingArguments
from pipelines.cli import parse, run_cli
from pipelines.losses import IGNORE_INDEX, loss_trainer
from pipelines.splits import load_train_test
from pipelines.tokenization import UNK_TOKEN

# Tang et al. (2019), Sec. 3.3: p_mask = 0.1, p_ng = 0.25, n-grams of 1..5 words.
MASK_PROBABILITY, NGRAM_PROBABILITY, MAX_NGRAM = 0.1, 0.25, 5
TRANSFER_SEED = 0  # fixed: every student seed shares the transfer set and its teacher labels
TEACHER_BATCH_SIZE = 64
CHUNK_BATCHES = 32  # a resumable labelling saves its work every 32 batches (2,048 sentences)
TEACHER_MAX_LENGTH = 512


def texts_fingerprint(texts: list[str]) -> str:
    return hashlib.sha256(json.dumps(texts, ensure_ascii=False).encode()).hexdigest()


def check_teacher(loss_args: DistillationArguments | None) -> None:
    """The `--teacher` folder can teach: a `config.json` that is a model config, and weights.
    Called by the flows before any work, so a bad folder costs nothing; raises `PathError` (no
    config or no weights), `DataError` (a config that is not a model config) or `OptionError` (a SetFit
    run), naming the option. Its labels are checked once the dataset's are known, before any labelling."""
    if loss_args is None or loss_args.teacher is None:
        return
    folder = Path(loss_args.teacher)
    if is_setfit_folder(folder):  # its config.json is the bare encoder's, with no labels of its own
        raise OptionError(
            f"--teacher {loss_args.teacher}: a SetFit run (a sentence encoder and a scikit-learn head) cannot teach; "
            "distillation reads a sequence-classification model's logits: give a finetune.py run made without --setfit"
        )
    if not (folder / "config.json").is_file():
        raise PathError(f"--teacher {loss_args.teacher}: not a model folder with a config.json (a save_pretrained folder)")
    try:
        AutoConfig.from_pretrained(folder)
    except (OSError, ValueError) as err:
        raise DataError(f"--teacher {loss_args.teacher}: its config.json is not a model config ({one_line(err)})") from None
    if not any((folder / name).is_file() for name in WEIGHTS_FILES):
        raise PathError(f"--teacher {loss_args.teacher}: no weights in the folder (one of {', '.join(WEIGHTS_FILES)})")


def teacher_name(folder: str | os.PathLike) -> str:
    """The teacher's short name: `model` in its results.json (e.g. `minilm`), else the folder's name."""
    record = finished_record(folder)
    return record.model if record else Path(folder).resolve().name


def teacher_run(folder: str | os.PathLike) -> dict | None:
    """The teacher's run as a value (`RunRecord.identity` of its results.json), or None for a folder without a run record."""
    record = finished_record(folder)
    return record.identity() if record else None


def label_order(teacher_labels: dict, label_names: list[str], folder) -> list[int]:
    """For each dataset label, the teacher's output index; `OptionError` unless both name the same labels."""
    by_name = {str(name).lower(): int(index) for index, name in teacher_labels.items()}
    if sorted(by_name) != sorted(name.lower() for name in label_names):
        raise OptionError(
            f"--teacher {folder}: its labels ({', '.join(map(str, teacher_labels.values()))}) are not the dataset's "
            f"({', '.join(label_names)}); fine-tune it on this dataset first"
        )
    return [by_name[name.lower()] for name in label_names]


def load_teacher(folder: str, label_names: list[str], progress: bool = True) -> tuple[TorchSequenceClassifier, list[int]]:
    """The teacher as a `pipelines.inference.TorchSequenceClassifier` (inference mode, `TEACHER_BATCH_SIZE`, truncated at
    the model's limit, at most `TEACHER_MAX_LENGTH`; on the GPU when there is one; under bf16 autocast where
    `teacher_bf16`) and, for each dataset label, its output index (`label_order`). Raises `DataError` for a folder
    that does not load, `OptionError` for other labels."""
    try:
        teacher = TorchSequenceClassifier.from_pretrained(
            folder, default_device(), TEACHER_BATCH_SIZE, progress=progress, max_length=TEACHER_MAX_LENGTH, bf16=teacher_bf16()
        )
    except (OSError, ValueError, RuntimeError) as err:  # the user's folder: e.g. a head whose size its config contradicts
        raise DataError(f"--teacher {folder}: not a loadable sequence-classification checkpoint ({one_line(err)})") from None
    return teacher, label_order(dict(enumerate(teacher.label_names)), label_names, folder)


def run_teacher(folder: str, texts: list[str], label_names: list[str], progress: bool = True) -> np.ndarray:
    """The teacher's logits in one pass, (len(texts), num_labels) float32 in dataset label order (`load_teacher`),
    with a progress bar unless `progress` is False.

    On the GPU when there is one: labelling a 100,000-sentence transfer set with MiniLM takes most
    of an hour on one CPU thread (a grid worker's) and seconds on a GPU.
    """
    teacher, order = load_teacher(folder, label_names, progress)
    return teacher.logits(texts)[:, order]


def cache_root() -> Path:
    return run_io.cache_root("teacher_logits")


def teacher_bf16() -> bool:
    """Whether the teacher runs under bf16 autocast: on a CPU with native bf16 (`native_cpu_bf16`), not on a GPU."""
    from pipelines.training_arguments import native_cpu_bf16

    return default_device() == "cpu" and native_cpu_bf16()


def cache_key(folder: str, texts: list[str], label_names: list[str]) -> str:
    """16 hex digits of a SHA-256 over the teacher's files, the texts, the labels and `TEACHER_MAX_LENGTH`, and
    `"bf16"` when the teacher runs under bf16 autocast (`teacher_bf16`; an fp32 labelling's key leaves it out)."""
    parts = [weights_fingerprint(folder), texts_fingerprint(texts), label_names, TEACHER_MAX_LENGTH, *(["bf16"] if teacher_bf16() else [])]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def cache_file(folder: str, texts: list[str], label_names: list[str]) -> Path:
    """Where `cached_teacher_logits` keeps these logits: `cache_root()/<teacher name>-<cache_key>.npy`."""
    return cache_root() / f"{file_name(teacher_name(folder))}-{cache_key(folder, texts, label_names)}.npy"


def cached_teacher_logits(folder: str, texts: list[str], label_names: list[str], progress: bool = True) -> np.ndarray:
    """`run_teacher`'s logits, once per (teacher files, texts, labels): later calls read `cache_file(...)`.

    A file lock makes parallel grid workers wait for one labelling instead of each running the teacher.
    The labelling is resumable (`label_in_chunks`): its finished chunks sit in `<cache file>.parts/`
    until the whole file is written, so a labelling killed with its session continues where it stopped.
    """
    target = cache_file(folder, texts, label_names)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.is_file():
            logits = np.load(target)
            if logits.shape == (len(texts), len(label_names)):
                print(f"teacher {folder}: its logits for {len(texts):,} sentences read from the cache {target}")
                return logits
        precision = "bf16 autocast, native on this CPU" if teacher_bf16() else "fp32"
        print(f"teacher {folder}: labelling {len(texts):,} sentences (training and transfer set; {precision}), cached in {target}", flush=True)
        parts = target.with_name(f"{target.name}.parts")
        logits = label_in_chunks(folder, texts, label_names, parts, progress)
        save_atomically(target, logits)
        if parts.exists():
            shutil.rmtree(parts)
    return logits


def label_in_chunks(folder: str, texts: list[str], label_names: list[str], parts: Path, progress: bool = True) -> np.ndarray:
    """`run_teacher(folder, texts, label_names)`, bit for bit, labelled `CHUNK_BATCHES * TEACHER_BATCH_SIZE` sentences at
    a time, each chunk saved to `parts/<first>-<end>.npy` (positions in `inference.length_order`) as it ends; chunks
    already there are read, not labelled again (a labelling that was killed resumes).

    The chunks are consecutive runs of whole batches of the one-pass order (longest first), so every batch
    holds the same sentences as in one pass and gives the same logits."""
    size = CHUNK_BATCHES * TEACHER_BATCH_SIZE
    order = np.asarray(length_order(texts), dtype=np.int64)
    logits = np.zeros((len(texts), len(label_names)), dtype=np.float32)
    starts = range(0, len(texts), size)
    done = {start for start in starts if chunk_file(parts, start, len(texts), size).is_file()}
    if done:
        print(f"teacher {folder}: resuming, {len(done)} of {len(starts)} chunks already labelled in {parts}", flush=True)
    teacher = None
    for number, start in enumerate(starts, 1):
        rows, path = order[start : start + size], chunk_file(parts, start, len(texts), size)
        if start in done:
            chunk = np.load(path)  # whole: written under another name, then renamed
        else:
            if teacher is None:
                teacher, label_index = load_teacher(folder, label_names, progress)
                parts.mkdir(parents=True, exist_ok=True)
            chunk = teacher.logits([texts[row] for row in rows])[:, label_index]
            save_atomically(path, chunk)
            print(f"teacher {folder}: chunk {number} of {len(starts)} labelled ({start + len(rows):,} of {len(texts):,} sentences)", flush=True)
        logits[rows] = chunk
    return logits


def chunk_file(parts: Path, start: int, total: int, size: int) -> Path:
    return parts / f"{start:09d}-{min(start + size, total):09d}.npy"


def save_atomically(path: Path, array: np.ndarray) -> None:
    """`np.save` to a temporary name, then renamed: a reader (or a resumed labelling) sees no file or the whole one."""
    partial = path.with_name(f".{path.name}.tmp-{os.getpid()}.npy")
    np.save(partial, array)
    os.replace(partial, path)


def make_transfer_set(texts: list[str], size: int, teacher_mask: str, seed: int = TRANSFER_SEED) -> tuple[list[str], list[str], list[int]]:
    """`size` augmented sentences from `texts`: (student texts, teacher texts, index of each one's source).

    Sources are taken in a seeded random order, cycling through `texts`; a sample identical to its
    source is drawn again (at most `4 * size` draws in all, so very short data may give fewer).
    """
    rng = np.random.default_rng(seed)
    words = [text.split() for text in texts]
    candidates = [index for index, sentence in enumerate(words) if sentence]
    order = rng.permutation(candidates) if candidates else np.array([], dtype=int)
    student, teacher, sources = [], [], []
    for draw in range(4 * size if len(order) else 0):
        if len(student) == size:
            break
        source = int(order[draw % len(order)])
        sentence = words[source]
        masked = rng.random(len(sentence)) < MASK_PROBABILITY
        if rng.random() < NGRAM_PROBABILITY:
            n = int(rng.integers(1, MAX_NGRAM + 1))
            start = int(rng.integers(0, max(len(sentence) - n, 0) + 1))
            keep = slice(start, start + n)
            sentence, masked = sentence[keep], masked[keep]
        if not masked.any() and len(sentence) == len(words[source]):
            continue
        student.append(" ".join(UNK_TOKEN if m else word for word, m in zip(sentence, masked)))
        teacher.append(" ".join(teacher_mask if m else word for word, m in zip(sentence, masked)))
        sources.append(source)
    return student, teacher, sources


def teacher_mask_token(folder: str) -> str:
    tokenizer = AutoTokenizer.from_pretrained(folder)
    return tokenizer.mask_token or tokenizer.unk_token or UNK_TOKEN


def teacher_inputs(train_texts: list[str], loss_args: DistillationArguments) -> tuple[list[str], list[str], list[int]]:
    """What the teacher labels for a student trained on `train_texts` (the training split before the validation
    hold-out): those sentences, then the transfer set's teacher-side sentences (`make_transfer_set` with
    `--transfer_set_size`, masked with the teacher's own mask token); with the transfer set's student-side
    sentences and the index of each one's source. The student (`prepare_training`) and the labelling command
    (`main`) both call it, so they name the same cache file."""
    if not loss_args.transfer_set_size:
        return list(train_texts), [], []
    student, teacher, sources = make_transfer_set(train_texts, loss_args.transfer_set_size, teacher_mask_token(loss_args.teacher))
    return [*train_texts, *teacher], student, sources


def prepare_training(loss_args: DistillationArguments | None, prepared, split, progress: bool = True) -> tuple[DatasetDict, object, dict]:
    """The GloVe flow's splits, trainer class and `results.json` entries for `loss_args`; `progress`: the
    teacher's labelling shows a bar (train.py: unless `--disable_tqdm`).

    `prepared` is the flow's `PreparedGloveData` (tokenized splits and the training texts);
    `split(dataset)` draws the validation split. With a teacher, the training rows get a
    `teacher_logits` column, and the transfer sentences made from this split's training rows
    join them with the label -100 (no gold label: teacher term only).
    """
    loss_args = loss_args or DistillationArguments()
    if loss_args.teacher is None:
        tokenized = split(prepared.dataset)
        trainer_class, info = loss_trainer(loss_args, tokenized["train"]["label"], prepared.label_names)
        return tokenized, trainer_class, info
    teacher_config = AutoConfig.from_pretrained(loss_args.teacher)
    label_order(teacher_config.id2label, prepared.label_names, loss_args.teacher)  # before any labelling
    texts = list(prepared.train_texts)
    labelled, transfer_student, sources = teacher_inputs(texts, loss_args)
    logits = cached_teacher_logits(loss_args.teacher, labelled, prepared.label_names, progress)
    pool = prepared.dataset["train"].add_column("teacher_logits", logits[: len(texts)].tolist())
    tokenized = split(DatasetDict({**prepared.dataset, "train": pool.add_column("pool_index", range(len(texts)))}))
    trainer_class, info = loss_trainer(loss_args, tokenized["train"]["label"], prepared.label_names)
    kept = set(tokenized["train"]["pool_index"])
    rows = [row for row, source in enumerate(sources) if source in kept]  # none made from validation rows
    train = tokenized["train"].remove_columns("pool_index").cast_column("label", Value("int64"))
    if rows:
        encoded = prepared.tokenizer([transfer_student[row] for row in rows], truncation=True)
        transfer = Dataset.from_dict(
            {
                **{name: encoded[name] for name in train.column_names if name in encoded},
                "label": [IGNORE_INDEX] * len(rows),
                "teacher_logits": logits[[len(texts) + row for row in rows]].tolist(),
            }
        ).cast(train.features)
        train = concatenate_datasets([train, transfer])
    splits = {name: data.remove_columns([c for c in ("teacher_logits", "pool_index") if c in data.column_names]) for name, data in tokenized.items()}
    info["distillation"] = {
        "teacher": teacher_name(loss_args.teacher),
        "teacher_path": str(loss_args.teacher),
        "teacher_fingerprint": weights_fingerprint(loss_args.teacher)[:16],
        "teacher_run": teacher_run(loss_args.teacher),  # what the report finds the teacher by (`RunRecord.teacher_run`)
        "loss": loss_args.distillation_loss,
        "alpha": loss_args.distillation_alpha,
        "temperature": loss_args.distillation_temperature if loss_args.distillation_loss == "kl" else None,
        "transfer_set_size": loss_args.transfer_set_size,
        "transfer_sentences": len(rows),
        # only when true: an fp32 labelling's record and run definition stay as they were before bf16 labelling
        **({"teacher_bf16": True} if teacher_bf16() else {}),
        # the saved teacher's own temperature (temperature scaling, on by default): its logits, the targets, are z / T;
        # only when it has one, as above
        **({"teacher_temperature": temperature} if (temperature := model_temperature(teacher_config)) != 1.0 else {}),
    }
    return DatasetDict({**splits, "train": train}), trainer_class, info


def main(argv: list[str]) -> None:
    """Label a student's sentences with its teacher and cache the logits, training nothing: the cache file a
    `train.py --teacher` (or grid) run with the same data and distillation options then reads."""
    data_args, loss_args, label_args = parse((DataArguments, DistillationArguments, TeacherLabellingArguments), argv)
    if loss_args.teacher is None:
        raise OptionError("--teacher is required: the folder whose logits to cache")
    check_teacher(loss_args)
    dataset, _ = load_train_test(data_args, label_args.seed)
    label_names = dataset["train"].features["label"].names
    texts, _, _ = teacher_inputs(list(dataset["train"]["text"]), loss_args)
    cached_teacher_logits(loss_args.teacher, texts, label_names, progress=not label_args.disable_tqdm)
    print(f"teacher {loss_args.teacher}: {len(texts):,} sentences labelled in {cache_file(loss_args.teacher, texts, label_names)}")


if __name__ == "__main__":
    sys.exit(run_cli(main, options=(DataArguments, DistillationArguments, TeacherLabellingArguments), limit_threads=True))
