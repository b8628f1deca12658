"""The training flows' `TrainingArguments`: the project's Trainer defaults (`pipelines.arguments`) over transformers'.

Apart from `pipelines.arguments` because subclassing `TrainingArguments` imports torch and
transformers (seconds), which `--help` and a bad project option do without. Import the classes
from `pipelines.arguments`, which loads this module when one is first asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import TrainingArguments

from pipelines.arguments import FinetuneTrainingOptions, GloveTrainingOptions, RunTrainingOptions
from pipelines.errors import OptionError


@dataclass
class RunTrainingArguments(RunTrainingOptions, TrainingArguments):
    """`TrainingArguments` with what both training flows share (`RunTrainingOptions`), declared once."""

    def __post_init__(self):
        self.output_dir_given = self.output_dir is not None
        for option in ("per_device_train_batch_size", "per_device_eval_batch_size", "gradient_accumulation_steps"):
            if getattr(self, option) < 1:
                raise OptionError(f"--{option} must be at least 1, got {getattr(self, option)}")
        if not self.learning_rate >= 0:  # NaN included; torch's optimizers refuse it only once the run folder is made
            raise OptionError(f"--learning_rate must be 0 or more, got {self.learning_rate}")
        if self.max_steps <= 0 and not self.num_train_epochs > 0:  # --max_steps > 0 overrides the epochs
            raise OptionError(f"--num_train_epochs must be above 0 (or give --max_steps), got {self.num_train_epochs}")
        if not torch.cuda.is_available():  # pinned memory only helps copies to a GPU; on CPU torch warns every epoch
            self.dataloader_pin_memory = False
        super().__post_init__()


@dataclass
class GloveTrainingArguments(GloveTrainingOptions, RunTrainingArguments):
    """Defaults that suit small GloVe models on CPU (`GloveTrainingOptions`)."""


def native_cpu_bf16() -> bool:
    """True where this CPU computes bf16 natively (AVX512-BF16 or AMX tiles), as torch's own dispatch detects it.

    There, bf16 autocast halves the matrix multiplications' cost (`bench/finetune_recipe.py`: about 2x
    MPNet's training samples/s on 2 cores of an AMD EPYC with AVX512-BF16); without it, bf16 is emulated
    and slower than fp32.
    """
    return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()


def accelerator_present() -> bool:
    """True where `TrainingArguments` picks a device other than the CPU unless told `--use_cpu`: by the checks it
    picks one with (a GPU, MPS, XPU, MLU, MUSA, NPU, HPU, Neuron or TPU/XLA device). Their hosts often have native
    bf16 (Xeons with AMX), and CPU bf16 must not move a run off them."""
    from transformers import utils

    devices = ("cuda", "mps", "xpu", "mlu", "musa", "npu", "hpu", "neuron", "tpu", "xla")
    return any(getattr(utils, f"is_torch_{device}_available")() for device in devices)


@dataclass
class FinetuneTrainingArguments(FinetuneTrainingOptions, RunTrainingArguments):
    """Defaults that suit fine-tuning a BERT-size model (`FinetuneTrainingOptions`)."""

    def __post_init__(self):
        if self.auto_mixed_precision and not (self.fp16 or self.bf16):
            if torch.cuda.is_available() and not self.use_cpu:
                self.bf16 = torch.cuda.is_bf16_supported()
                self.fp16 = not self.bf16
            elif (self.use_cpu or not accelerator_present()) and native_cpu_bf16():
                # the CPU trains: bf16 autocast only where it is native; transformers asks use_cpu for it
                self.bf16 = self.use_cpu = True
        super().__post_init__()
