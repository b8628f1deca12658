"""A local demo page: type a sentence, see every loaded model's label probabilities and word shading.

    python -m pipelines.demo RUN_DIR... [--port 7860]

Each RUN_DIR may be a GloVe run (`train.py`), a fine-tuned transformer (`finetune.py`), a SetFit
run (`finetune.py --setfit`), an ONNX export (`pipelines.export`) or any `save_pretrained` folder; they are all loaded before the page
starts, and a folder that is not a model stops the command with one `error:` line. The models sit
side by side: a `gr.Label` with the probabilities and the sentence with each word shaded by its
attribution to the predicted label (`pipelines.explain`: Integrated Gradients, occlusion for ONNX and SetFit;
green towards the predicted label, red against), plus a line of attention weights for the GloVe
attention models.

Offline: Gradio's analytics and version check are off (`GRADIO_ANALYTICS_ENABLED=False`, set
before Gradio is imported, and `analytics_enabled=False`), server-side rendering is off (it would
start a Node server), and Gradio 6 serves its frontend, fonts included (`LocalFont`), from the
installed package, so the page needs no CDN. It listens on 127.0.0.1 only.
"""

from __future__ import annotations

import html
import os
import sys
from dataclasses import dataclass, field

from pipelines.cli import leading_positionals, parse, run_cli
from pipelines.errors import OptionError
from pipelines.explain import N_STEPS, Explanation, explain, load_all

EXAMPLES = [
    "not bad at all",
    "a slow start, but a great ending",
    "a gorgeous , witty , seductive movie .",
    "Great, another Monday. Just what I needed.",
]
LEGEND = (
    "Each word is shaded by its attribution to the predicted label: green pushes towards it, red against "
    "(Integrated Gradients on the input embeddings; occlusion for ONNX exports and SetFit runs). Attention models add a blue "
    "line: their attention weights, averaged over heads."
)


def word_colour(score: float, scale: float, attention: bool = False) -> str:
    """A CSS colour from the same maps as `pipelines.explain.draw` (RdYlGn centred on 0, Blues)."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    if attention:
        return to_hex(colormaps["Blues"](0.7 * score / scale))
    return to_hex(colormaps["RdYlGn"](0.5 + 0.4 * score / scale))


def shaded_html(explanation: Explanation) -> str:
    """The words as `<span class="word">` elements with background colours; the score is the tooltip."""
    lines = [(explanation.scores, False)]
    if explanation.attention is not None:
        lines.append((explanation.attention, True))
    parts = []
    for scores, attention in lines:
        scale = max((abs(score) for score in scores), default=0.0) or 1.0
        spans = [
            f'<span class="word" title="{score:+.4f}" style="background:{word_colour(score, scale, attention)};'
            f'padding:2px 4px;margin:2px;border-radius:3px;color:#000">{html.escape(word)}</span>'
            for word, score in zip(explanation.words, scores)
        ]
        kind = "attention" if attention else "attribution"
        parts.append(f'<div class="{kind}" style="line-height:2.2">{"".join(spans)}</div>')
    return "".join(parts)


def predict_all(classifiers: list, text: str, n_steps: int = N_STEPS) -> list:
    """Per model, its probabilities (label -> p) and its shaded words as HTML, flattened for Gradio."""
    outputs: list = []
    for classifier in classifiers:
        if not text.strip():
            outputs.extend([None, ""])
            continue
        explanation = explain(classifier, text, n_steps)
        outputs.extend([explanation.probabilities, shaded_html(explanation)])
    return outputs


def build_app(classifiers: list, n_steps: int = N_STEPS):
    """The Gradio Blocks page; element ids `sentence`, `classify`, `label-<i>`, `words-<i>` (for tests)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    import gradio as gr

    with gr.Blocks(analytics_enabled=False, title="sentibench demo") as app:
        gr.Markdown("## sentibench: sentiment models side by side\n" + LEGEND)
        sentence = gr.Textbox(label="sentence", lines=2, elem_id="sentence", placeholder="type a sentence")
        button = gr.Button("Classify", variant="primary", elem_id="classify")
        gr.Examples(EXAMPLES, inputs=sentence)
        outputs = []
        with gr.Row():
            for i, classifier in enumerate(classifiers):
                with gr.Column(min_width=240):
                    gr.Markdown(f"**{html.escape(classifier.name)}**")
                    outputs.append(gr.Label(label="probabilities", elem_id=f"label-{i}"))
                    outputs.append(gr.HTML(elem_id=f"words-{i}"))

        def run(text: str) -> list:
            return predict_all(classifiers, text, n_steps)

        button.click(run, inputs=sentence, outputs=outputs)
        sentence.submit(run, inputs=sentence, outputs=outputs)
    return app


def launch(app, port: int, block: bool = True):
    """Serve on 127.0.0.1:`port`; `block=False` returns at once (tests), `app.close()` stops it."""
    return app.launch(
        server_name="127.0.0.1", server_port=port, share=False, prevent_thread_lock=not block, quiet=not block,
        ssr_mode=False, mcp_server=False, footer_links=[],
    )  # fmt: skip


@dataclass
class DemoArguments:
    run_dirs: list[str] = field(metadata={"help": "model folders: train.py / finetune.py outputs, exports, save_pretrained folders"})
    port: int = field(default=7860, metadata={"help": "the local port to serve on (127.0.0.1)"})
    n_steps: int = field(default=N_STEPS, metadata={"help": "Integrated Gradients steps per model and sentence"})

    def __post_init__(self):
        if not 1 <= self.port <= 65535:
            raise OptionError(f"--port must be between 1 and 65535, got {self.port}")
        if self.n_steps < 2:
            raise OptionError(f"--n_steps must be at least 2, got {self.n_steps}")


def main(argv: list[str]) -> None:
    (args,) = parse((DemoArguments,), leading_positionals(argv, "--run_dirs"))
    classifiers = load_all(args.run_dirs)  # a folder that is not a model stops here, in one line
    print(f"loaded {', '.join(classifier.name for classifier in classifiers)}; serving http://127.0.0.1:{args.port}")
    launch(build_app(classifiers, args.n_steps), args.port)


if __name__ == "__main__":
    sys.exit(run_cli(main))
