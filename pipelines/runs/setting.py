"""A run's setting: how its model was made, as one frozen value.

The report groups runs by (dataset, model, `Setting`, protocol), the front keys its rows by the same
groups, the grid names its cell folders by `Setting.folder_suffix`, and the study questions pair a
distilled or class-weighted group with its twin through `Setting.without`. A new way of training
(a temperature, a training size) is a field here, read in `Setting.of`, shown in `label` and
`folder_suffix`; nothing else parses a setting.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from pipelines.cli import pairs_text, parse_pairs
from pipelines.runs.io import file_name
from pipelines.runs.record import RunRecord

# The kinds of model in the order a reader meets them (the report's tables sort by it).
KINDS = ("trained vectors", "frozen vectors", "fine-tuned", "as is", "ONNX export")
DEFAULT_ALPHA = 0.5  # pipelines.arguments.DistillationArguments.distillation_alpha
# The ways a run can differ from the plain one, each a set of fields `Setting.without` resets.
VARIANTS = {
    "distillation": ("teacher", "distillation_loss", "distillation_temperature", "distillation_alpha"),
    "class weights": ("class_weights",),
    "temperature scaling": ("temperature_scaled",),
    "training size": ("train_size",),
    "configuration": ("config",),
    "learning rate": ("learning_rate",),
}


def weights_text(given) -> str | None:
    """`--class_weights` as one text whether given ("balanced", "1, 2.0") or recorded (`results.json` keeps
    a list of numbers when numbers were given): "balanced" or "1,2"; None for none."""
    if not given:
        return None
    if isinstance(given, str) and given.strip() == "balanced":
        return "balanced"
    parts = given if isinstance(given, (list, tuple)) else str(given).split(",")
    try:
        return ",".join(f"{float(part):g}" for part in parts)
    except ValueError:
        return str(given).strip()


def config_text(given) -> str | None:
    """`--config_overrides` as one canonical text whether given ("num_layers=6, dropout=0.10") or recorded
    (`results.json` keeps {field: typed value}): "dropout=0.1,num_layers=6", fields sorted, numbers written
    alike (1.0 and "1" as 1, floats by `repr`), booleans as true/false; None for none. The same
    overrides given in another order or spelling are one setting."""
    if not given:
        return None
    pairs = given if isinstance(given, dict) else parse_pairs(str(given), "--config_overrides")
    return pairs_text({key: _value_text(value) for key, value in sorted(pairs.items())}) or None


def _value_text(value) -> str:
    if isinstance(value, bool) or str(value).strip().lower() in ("true", "false"):
        return str(value).strip().lower()
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value).strip()
    return str(int(number)) if number.is_integer() else repr(number)


def _short(value: str) -> str:
    """A config value for a label: floats to 3 significant digits (the folder suffix keeps them whole)."""
    try:
        number = float(value)
    except ValueError:
        return value
    return value if number.is_integer() else f"{number:.3g}"


@dataclass(frozen=True)
class Setting:
    """How a model was made; hashable, so report groups and front rows are keyed by it.

    kind: one of `KINDS`. teacher: the distillation teacher's short name (`minilm`), None when not
    distilled; distillation_loss "mse" (logit regression, the default) or "kl" with its
    distillation_temperature; distillation_alpha the weight of the hard-label loss. class_weights:
    the `--class_weights` given ("balanced" or "1,2,3"). temperature_scaled: the probabilities were
    rescaled by a fitted temperature. train_size: training sentences per class (`--train_size`), when a
    subsample of the benchmark's (a learning curve's point is its own group, never pooled with the full data).
    config: the model config fields `--config_overrides` changed from the `--model` preset's, as `config_text`
    ("dropout=0.1,ffn_dim=2048,num_heads=10,num_layers=6"); None: the preset's defaults. learning_rate:
    `--learning_rate` when not the flow's default (`pipelines.arguments.given_learning_rate`); None: the default.
    """

    kind: str
    teacher: str | None = None
    distillation_loss: str = "mse"
    distillation_temperature: float | None = None
    distillation_alpha: float = DEFAULT_ALPHA
    class_weights: str | None = None
    temperature_scaled: bool = False
    train_size: int | None = None
    config: str | None = None
    learning_rate: float | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"Setting kind must be one of {', '.join(KINDS)}, got {self.kind!r}")

    @classmethod
    def of(cls, record: RunRecord) -> Setting:
        """A trained run's setting from its record (`results.json`)."""
        kind = f"{record.vectors} vectors" if record.is_glove else "fine-tuned"
        distillation = record.distillation if isinstance(record.distillation, dict) else {}
        teacher = distillation.get("teacher")
        return cls(
            kind,
            teacher=Path(str(teacher).rstrip("/")).name if teacher else None,
            distillation_loss=(distillation.get("loss") or "mse") if teacher else "mse",
            distillation_temperature=distillation.get("temperature") if teacher else None,
            distillation_alpha=distillation.get("alpha", DEFAULT_ALPHA) if teacher else DEFAULT_ALPHA,
            class_weights=weights_text(record.class_weights),
            train_size=record.train_size_per_class,
            config=config_text(record.config_overrides),
            learning_rate=record.learning_rate,
        )

    @classmethod
    def of_arguments(
        cls, kind: str, loss_args, teacher: str | None = None, config_overrides: str | None = None, learning_rate: float | None = None,
        train_size: int | None = None,
    ) -> Setting:  # fmt: skip
        """A run's setting before it runs: `kind`, and the loss options (`DistillationArguments`, or None);
        `teacher` is the teacher's short name (`pipelines.distillation.teacher_name`) when it distils;
        `config_overrides` the `--config_overrides` given; `learning_rate` as `given_learning_rate` gives it;
        `train_size` the `--train_size` (training sentences per class), None for the whole training split."""
        if loss_args is None:
            return cls(kind, train_size=train_size, config=config_text(config_overrides), learning_rate=learning_rate)
        return cls(
            kind,
            teacher=teacher,
            distillation_loss=loss_args.distillation_loss if teacher else "mse",
            distillation_temperature=loss_args.distillation_temperature if teacher and loss_args.distillation_loss == "kl" else None,
            distillation_alpha=loss_args.distillation_alpha if teacher else DEFAULT_ALPHA,
            class_weights=weights_text(loss_args.class_weights),
            train_size=train_size,
            config=config_text(config_overrides),
            learning_rate=learning_rate,
        )

    @property
    def variants(self) -> list[str]:
        """The `VARIANTS` this setting has, in their order."""
        plain = self.plain()
        return [name for name, names in VARIANTS.items() if any(getattr(self, f) != getattr(plain, f) for f in names)]

    def plain(self) -> Setting:
        """The same kind of model trained the default way: no distillation, weights, scaling, subset, config or learning-rate change."""
        return Setting(self.kind)

    def without(self, variant: str) -> Setting:
        """This setting with one of `VARIANTS` reset to the default: a distilled run's undistilled twin."""
        return replace(self, **{name: getattr(self.plain(), name) for name in VARIANTS[variant]})

    def variant_label(self, variant: str) -> str:
        """The label part of one variant: "distilled from minilm (KL, T=2)", "class-weighted", ..."""
        if variant == "distillation":
            parts = [f"KL, T={self.distillation_temperature or 1:g}"] if self.distillation_loss == "kl" else []
            parts += [f"alpha {self.distillation_alpha:g}"] if self.distillation_alpha != DEFAULT_ALPHA else []
            return f"distilled from {self.teacher}" + (f" ({', '.join(parts)})" if parts else "")
        if variant == "class weights":
            return "class-weighted" + ("" if self.class_weights == "balanced" else f" ({self.class_weights})")
        if variant == "temperature scaling":
            return "temperature-scaled"
        if variant == "configuration":
            return "config " + " ".join(f"{key}={_short(value)}" for key, value in parse_pairs(self.config, "config").items())
        if variant == "learning rate":
            return f"learning rate {self.learning_rate:.3g}"
        return f"{self.train_size} per class"

    @property
    def variants_label(self) -> str:
        """The label without its kind: "distilled from minilm (KL, T=2), class-weighted"; "" for a plain setting."""
        return ", ".join(self.variant_label(variant) for variant in self.variants)

    @property
    def label(self) -> str:
        """The report's text: "trained vectors, distilled from minilm (KL, T=2), class-weighted"."""
        return ", ".join(filter(None, [self.kind, self.variants_label]))

    @property
    def folder_suffix(self) -> str:
        """What the grid adds to a cell folder's `<dataset>-<protocol>-<vectors>`: `-weighted`,
        `-distilled-<teacher>` (then `-kl-t<T>` for KL, `-alpha<a>` for a non-default alpha), `-ts`,
        `-n<size>`, `-config-<field>_<value>...` (the whole `config_text`), `-lr<learning rate>` (`repr`); so cells trained with these options never pass for finished plain ones."""
        suffix = ""
        if self.class_weights:
            suffix += "-weighted" if self.class_weights.strip() == "balanced" else "-weighted-" + self.class_weights.replace(",", "_")
        if self.teacher:
            suffix += f"-distilled-{file_name(self.teacher)}"
            if self.distillation_loss == "kl":  # the default (mse) keeps the folders cells already have
                suffix += f"-kl-t{self.distillation_temperature or 1:g}"
            if self.distillation_alpha != DEFAULT_ALPHA:
                suffix += f"-alpha{self.distillation_alpha:g}"
        if self.temperature_scaled:
            suffix += "-ts"
        if self.train_size:
            suffix += f"-n{self.train_size}"
        if self.config:
            suffix += "-config-" + file_name(self.config)
        if self.learning_rate is not None:
            suffix += f"-lr{self.learning_rate!r}"  # a float's repr is file-name safe as it is (digits, ".", "e", a sign)
        return suffix

    def sort_key(self) -> tuple:
        """Kinds in `KINDS` order, then the variants' text (the report's row order)."""
        return (KINDS.index(self.kind), self.variants_label)
