"""Word-level explanations of a prediction, for every kind of model folder, and pictures of them.

    python -m pipelines.explain RUN_DIR... --text "not bad at all" [--output explanation.png]

- PyTorch folders (GloVe models, fine-tuned transformers): Integrated Gradients (Sundararajan et
  al., 2017) on the output of the input embedding layer, through Captum's
  `LayerIntegratedGradients`, for the predicted class's logit. The baseline replaces every real
  token by `[PAD]` (whose GloVe vector is zero) and keeps the special tokens ([CLS], [SEP]) and the
  attention mask, so only the words' contribution is measured. A token's attribution is the sum
  over embedding dimensions; a word's, the sum over its sub-word tokens. By completeness the
  attributions add up to logit(text) − logit(baseline), up to the convergence delta Captum
  returns (reported; `n_steps` lowers it).
- ONNX exports and SetFit runs (a scikit-learn head) have no gradients: their words are scored by
  occlusion (Captum's `FeatureAblation`, each word's tokens replaced by `[PAD]` at once), the drop of
  the predicted class's logit.
- The GloVe attention models (`attention`, `multihead`, `transformer`) also give their attention
  weights: the last block's, averaged over heads and over the real query positions (the sentence
  vector is the mean of the token outputs, so this is the weight each word gets on average), summed
  over a word's tokens.

`PROBE_SETS` are the report's probe sentences, fixed before any model was run on them;
`probe_figures(run_dirs, output_dir)` draws one figure per set.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from pipelines.cli import leading_positionals, parse, run_cli
from pipelines.errors import OptionError, PathError
from pipelines.inference import OnnxSequenceClassifier, SetFitClassifier, TorchSequenceClassifier, load_classifier
from pipelines.runs.io import check_writable_dir

ATTENTION_MODEL_TYPES = ("glove-attention", "glove-multihead", "glove-transformer")
N_STEPS = 50
CHAR_INCHES = 10 * 0.602 / 72  # one character of 10-point DejaVu Sans Mono (0.602 em wide)
LINE_INCHES = 0.3

# Chosen before looking at any model's output on them (committed before the first run).
PROBE_SETS = {
    "negation": [
        "not good",
        "not bad at all",
        "this movie is not good",
        "i don't think it's a bad film",
        "never boring , never dull",
    ],
    "contrast": [
        "a slow start, but a great ending",
        "great cast , but the script is a mess",
        "the plot is thin , yet the film is charming",
        "beautiful to look at , but painfully dull",
    ],
    "intensifiers": [
        "good",
        "very good",
        "incredibly good",
        "bad",
        "very bad",
        "a little bit dull",
    ],
    "sarcasm-like tweets": [
        "Great, another Monday. Just what I needed.",
        "Oh wonderful, my flight is delayed again #blessed",
        "I just love waiting on hold for two hours",
        "Thanks for nothing @airline, best service ever",
    ],
}


@dataclass
class Explanation:
    """One model's prediction for one text and its per-word scores (attribution to the predicted class)."""

    model: str
    text: str
    words: list[str]
    scores: list[float]  # per word; > 0 pushes towards the predicted label
    label: str
    probabilities: dict[str, float]
    method: str
    delta: float | None = None  # Integrated Gradients' convergence delta (sum of attributions − logit difference)
    attention: list[float] | None = None  # per word, attention models only
    logit_difference: float | None = None  # logit(text) − logit(baseline) of the predicted class

    def headline(self) -> str:
        return f"{self.model}: {self.label} {self.probabilities[self.label]:.2f}"


@dataclass
class Encoded:
    """A single text's tokens: ids and mask (1, seq_len), which tokens are special, and each real token's word."""

    input_ids: np.ndarray
    attention_mask: np.ndarray
    special: np.ndarray  # (seq_len,) bool
    words: list[str]
    word_of_token: list[int | None]  # per token: index into `words`, None for special tokens


def encode_words(classifier, text: str) -> Encoded:
    """Tokenize as the classifier does and group the tokens into words (the tokenizer's `word_ids`),
    each word's surface text taken from the character offsets of its first and last token."""
    encoded = classifier.tokenizer(
        [text], truncation=True, max_length=classifier.max_length, return_offsets_mapping=True, return_special_tokens_mask=True
    )
    word_ids = encoded.word_ids(0)
    offsets = encoded["offset_mapping"][0]
    spans: dict[int, list[int]] = {}
    for position, word in enumerate(word_ids):
        if word is not None:
            start, end = offsets[position]
            span = spans.setdefault(word, [start, end])
            span[1] = end
    order = sorted(spans)
    index = {word: i for i, word in enumerate(order)}
    return Encoded(
        input_ids=np.array(encoded["input_ids"], dtype=np.int64),
        attention_mask=np.array(encoded["attention_mask"], dtype=np.int64),
        special=np.array(encoded["special_tokens_mask"][0], dtype=bool),
        words=[text[spans[word][0] : spans[word][1]] for word in order],
        word_of_token=[None if word is None else index[word] for word in word_ids],
    )


def per_word(token_scores: np.ndarray, encoded: Encoded) -> list[float]:
    """Token scores (seq_len,) summed into the words they belong to; special tokens dropped."""
    scores = np.zeros(len(encoded.words))
    for position, word in enumerate(encoded.word_of_token):
        if word is not None:
            scores[word] += token_scores[position]
    return scores.tolist()


def attention_per_word(classifier: TorchSequenceClassifier, input_ids: torch.Tensor, mask: torch.Tensor, encoded: Encoded):
    """The last block's attention (1, heads, query, key), mean over heads and real queries, per word."""
    with torch.no_grad():
        attentions = classifier.model(input_ids=input_ids, attention_mask=mask, output_attentions=True).attentions
    weights = attentions[-1][0].mean(dim=0)  # (query, key)
    real = mask[0].bool()
    return per_word(weights[real].mean(dim=0).numpy(), encoded)


def input_positions(model, input_ids, mask) -> dict:
    """`{"position_ids": (1, seq_len)}`, the positions the model gives the input's own tokens, for a model with a
    position-embedding table whose forward takes them; else `{}`. RoBERTa and MPNet number positions from the
    input ids (a pad id gets the padding position), so a [PAD] baseline would otherwise be read at other
    positions than the path between it and the input, and the attributions would not add up to the logit
    difference (Sundararajan et al. 2017's completeness); the baseline takes the input's positions instead."""
    import inspect

    table = getattr(getattr(model.base_model, "embeddings", None), "position_embeddings", None)
    if not isinstance(table, torch.nn.Embedding) or "position_ids" not in inspect.signature(model.forward).parameters:
        return {}
    seen = []
    handle = table.register_forward_hook(lambda module, args, output: seen.append(args[0].detach().clone()))
    try:
        with torch.no_grad():
            model(input_ids=input_ids, attention_mask=mask)
    finally:
        handle.remove()
    return {"position_ids": seen[0]} if seen else {}


def integrated_gradients(classifier: TorchSequenceClassifier, text: str, n_steps: int = N_STEPS) -> Explanation:
    """Integrated Gradients on the embedding layer's output for the predicted class (see the module docstring)."""
    from captum.attr import LayerIntegratedGradients

    encoded = encode_words(classifier, text)
    input_ids, mask = torch.from_numpy(encoded.input_ids), torch.from_numpy(encoded.attention_mask)
    if input_ids.shape[1] == 0:
        input_ids = torch.full((1, 1), classifier.tokenizer.pad_token_id)
        mask = torch.zeros((1, 1), dtype=torch.long)
    baseline = input_ids.clone()
    baseline[0, : len(encoded.special)][~torch.from_numpy(encoded.special)] = classifier.tokenizer.pad_token_id
    model = classifier.model
    positions = input_positions(model, input_ids, mask)

    def forward(ids, attention_mask):
        return model(input_ids=ids, attention_mask=attention_mask, **positions).logits

    with torch.no_grad():
        logits, baseline_logits = forward(input_ids, mask)[0], forward(baseline, mask)[0]
    target = int(logits.argmax())
    layer = LayerIntegratedGradients(forward, model.get_input_embeddings())
    attributions, delta = layer.attribute(
        input_ids, baselines=baseline, additional_forward_args=(mask,), target=target, n_steps=n_steps,
        internal_batch_size=n_steps, return_convergence_delta=True,
    )  # fmt: skip
    token_scores = attributions.sum(dim=-1)[0].detach().numpy()  # (seq_len,)
    probabilities = torch.softmax(logits, dim=-1).tolist()
    attention = None
    if model.config.model_type in ATTENTION_MODEL_TYPES:
        attention = attention_per_word(classifier, input_ids, mask, encoded)
    return Explanation(
        model=classifier.name, text=text, words=encoded.words, scores=per_word(token_scores, encoded),
        label=classifier.label_names[target], probabilities=dict(zip(classifier.label_names, probabilities)),
        method="integrated gradients", delta=float(delta[0]), attention=attention,
        logit_difference=float(logits[target] - baseline_logits[target]),
    )  # fmt: skip


def occlusion(classifier: OnnxSequenceClassifier | SetFitClassifier, text: str) -> Explanation:
    """Each word's tokens replaced by [PAD] at once: the drop of the predicted class's logit (Captum `FeatureAblation`)."""
    from captum.attr import FeatureAblation

    encoded = encode_words(classifier, text)
    probabilities = classifier.probabilities([text])[0]
    target = int(probabilities.argmax())
    scores: list[float] = []
    if encoded.words:
        input_ids, mask = encoded.input_ids, encoded.attention_mask
        groups = [len(encoded.words) + i if word is None else word for i, word in enumerate(encoded.word_of_token)]

        def forward(ids: torch.Tensor) -> torch.Tensor:
            masks = np.broadcast_to(mask, ids.shape)
            return torch.from_numpy(classifier.logits_for_ids(ids.numpy(), masks))

        ablation = FeatureAblation(forward).attribute(
            torch.from_numpy(input_ids), baselines=classifier.tokenizer.pad_token_id, target=target,
            feature_mask=torch.tensor([groups]), perturbations_per_eval=len(set(groups)),
        )  # fmt: skip
        first_token = {word: position for position, word in reversed(list(enumerate(encoded.word_of_token))) if word is not None}
        scores = [float(ablation[0, first_token[word]]) for word in range(len(encoded.words))]
    return Explanation(
        model=classifier.name, text=text, words=encoded.words, scores=scores, label=classifier.label_names[target],
        probabilities=dict(zip(classifier.label_names, probabilities.tolist())), method="occlusion",
    )  # fmt: skip


def explain(classifier, text: str, n_steps: int = N_STEPS) -> Explanation:
    """Integrated Gradients for a PyTorch sequence classifier; occlusion for an ONNX export or a SetFit
    run (its scikit-learn head has no gradient)."""
    if isinstance(classifier, TorchSequenceClassifier):
        return integrated_gradients(classifier, text, n_steps)
    return occlusion(classifier, text)


def shading_rows(explanations: list[Explanation]) -> list[tuple[str, list[str], list[float], str]]:
    """(caption, words, scores, colour map) per picture line: attributions, then attention where there is one."""
    rows = []
    for item in explanations:
        rows.append((item.headline(), item.words, item.scores, "RdYlGn"))
        if item.attention is not None:
            rows.append(("  attention (mean over heads)", item.words, item.attention, "Blues"))
    return rows


def draw(rows: list[tuple[str, list[str], list[float], str]], path: Path, title: str | None = None) -> Path:
    """Words shaded by score, one line per row, in a monospace grid (one unit = one character).
    Attributions use a diverging map centred on 0 (green: towards the predicted label, red: against),
    scaled per line by the largest |score|; attention weights a sequential map scaled by the largest."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    caption_width = max((len(caption) for caption, *_ in rows), default=0) + 2
    line_width = max((sum(len(word) + 1 for word in words) for _, words, *_ in rows), default=1)
    width_chars = caption_width + line_width
    figure = plt.figure(figsize=(CHAR_INCHES * width_chars, LINE_INCHES * len(rows)))
    axes = figure.add_axes((0, 0, 1, 1))  # the whole figure, so one x unit is exactly one character
    axes.set_xlim(0, width_chars)
    axes.set_ylim(len(rows), 0)
    axes.axis("off")
    for line, (caption, words, scores, cmap_name) in enumerate(rows):
        y = line + 0.5
        weight = "normal" if words else "bold"  # a line without words is a heading (a probe sentence)
        axes.text(0, y, caption, family="monospace", fontsize=10, va="center", fontweight=weight)
        cmap = plt.get_cmap(cmap_name)
        scale = max((abs(score) for score in scores), default=0.0) or 1.0
        x = caption_width
        for word, score in zip(words, scores):
            # The darkest ends of the maps are left out so black text stays readable.
            level = 0.5 + 0.4 * score / scale if cmap_name == "RdYlGn" else 0.7 * score / scale
            axes.text(x, y, word, family="monospace", fontsize=10, va="center",
                      bbox={"facecolor": cmap(level), "edgecolor": "none", "pad": 1.5})  # fmt: skip
            x += len(word) + 1
    if title:
        axes.set_title(title, loc="left", family="monospace", fontsize=11)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(figure)
    return path


def load_all(run_dirs: list[str]) -> list:
    """Every folder loaded (PyTorch or ONNX); the first that is not a model folder stops with a `PathError`."""
    for folder in run_dirs:
        if not Path(folder).expanduser().is_dir():
            raise PathError(f"model folder not found: {folder}")
    return [load_classifier(Path(folder).expanduser()) for folder in run_dirs]


def probe_figures(run_dirs: list[str | Path], output_dir: str | Path, n_steps: int = N_STEPS) -> list[Path]:
    """One figure per probe set (`PROBE_SETS`): each sentence, then one line per model (and its
    attention), written as `output_dir/probes-<set>.png`. Returns the paths in `PROBE_SETS` order."""
    classifiers = load_all([str(folder) for folder in run_dirs])
    output_dir = Path(output_dir)
    paths = []
    for name, sentences in PROBE_SETS.items():
        rows = []
        for sentence in sentences:
            rows.append((f'"{sentence}"', [], [], "RdYlGn"))
            rows.extend(shading_rows([explain(classifier, sentence, n_steps) for classifier in classifiers]))
        slug = name.split()[0].replace("-", "")
        paths.append(draw(rows, output_dir / f"probes-{slug}.png", title=f"probe set: {name}"))
    return paths


def describe(item: Explanation) -> str:
    """The explanation as text: the prediction, then one line per word with its score (and attention)."""
    extra = f", convergence delta {item.delta:+.1e} of a logit difference {item.logit_difference:+.3f}" if item.delta is not None else ""
    lines = [f"{item.headline()}  [{item.method}{extra}]"]
    header = f"  {'word':<20} {'attribution':>11}" + (f" {'attention':>9}" if item.attention is not None else "")
    lines.append(header)
    for i, word in enumerate(item.words):
        line = f"  {word:<20} {item.scores[i]:>+11.4f}"
        if item.attention is not None:
            line += f" {item.attention[i]:>9.3f}"
        lines.append(line)
    return "\n".join(lines)


@dataclass
class ExplainArguments:
    run_dirs: list[str] = field(metadata={"help": "model folders: train.py / finetune.py outputs, exports, save_pretrained folders"})
    text: str | None = field(default=None, metadata={"help": "the sentence to explain"})
    output: str = field(default="explanation.png", metadata={"help": "the picture to write (.png, .svg, .pdf)"})
    probes_dir: str | None = field(
        default=None,
        metadata={"help": "instead of --text: draw the report's probe figures (PROBE_SETS) into this folder, "
                  "e.g. results/report/figures, where pipelines.report shows them"},
    )
    n_steps: int = field(default=N_STEPS, metadata={"help": "Integrated Gradients steps (more: smaller convergence delta)"})

    def __post_init__(self):
        if (self.text is None) == (self.probes_dir is None):
            raise OptionError("give either --text \"a sentence\" or --probes_dir DIR")
        if self.n_steps < 2:
            raise OptionError(f"--n_steps must be at least 2, got {self.n_steps}")
        if Path(self.output).suffix.lower() not in (".png", ".svg", ".pdf"):
            raise OptionError(f"--output {self.output!r} must end in .png, .svg or .pdf")


def main(argv: list[str]) -> None:
    (args,) = parse((ExplainArguments,), leading_positionals(argv, "--run_dirs"))
    if args.probes_dir:
        check_writable_dir(Path(args.probes_dir))  # before the models load and explain
        for path in probe_figures(args.run_dirs, args.probes_dir, args.n_steps):
            print(f"wrote {path}")
        return
    classifiers = load_all(args.run_dirs)
    explanations = [explain(classifier, args.text, args.n_steps) for classifier in classifiers]
    for item in explanations:
        print(describe(item))
    try:
        path = draw(shading_rows(explanations), Path(args.output), title=args.text)
    except OSError as err:
        raise PathError(f"--output {args.output}: cannot write it ({err.strerror or err})") from None
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(run_cli(main))
