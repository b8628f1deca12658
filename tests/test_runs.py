"""A run's identity (`pipelines.runs.setting`) and its folders (`pipelines.runs.layout`)."""

import json
from pathlib import Path

import pytest

from pipelines.runs.layout import CellFolder, default_run_folder, short_name
from pipelines.runs.record import RunRecord
from pipelines.runs.setting import Setting

RESULTS = Path(__file__).resolve().parent.parent / "results"

# Every grid folder of the committed study, and the setting its runs show in the report.
STUDY_SETTINGS = {
    "mr-cv10-trained": "trained vectors",
    "mr-lab-frozen": "frozen vectors",
    "mr-lab-trained": "trained vectors",
    "mr-lab-trained-distilled-minilm": "trained vectors, distilled from minilm",
    "mr-lab-trained-distilled-minilm-kl-t2": "trained vectors, distilled from minilm (KL, T=2)",
    "mr-lab-trained-distilled-mpnet": "trained vectors, distilled from mpnet",
    "semeval2017a-lab-trained": "trained vectors",
    "semeval2017a-lab-trained-distilled-minilm": "trained vectors, distilled from minilm",
    "semeval2017a-lab-trained-distilled-mpnet": "trained vectors, distilled from mpnet",
    "semeval2017a-lab-trained-weighted": "trained vectors, class-weighted",
    "mr-minilm": "fine-tuned",
    "mr-mpnet": "fine-tuned",
    "mr-setfit-mpnet": "fine-tuned",
    "semeval2017a-minilm": "fine-tuned",
    "semeval2017a-mpnet": "fine-tuned",
    "semeval2017a-setfit-mpnet": "fine-tuned",
}


@pytest.mark.parametrize(
    "cell",
    [
        CellFolder("mr", "bilstm", 0, "lab", "trained"),
        CellFolder("mr", "meanmax", 3, "cv10", "trained", fold=7),
        CellFolder("semeval2017a", "transformer", 4, "lab", "frozen", "-weighted-1_2_3-distilled-minilm-kl-t2-alpha0.2"),
        CellFolder("mr", "minilm", 2),
        CellFolder("semeval2017a", "vinai_bertweet-base", 1),
    ],
)
def test_a_cell_folder_parses_back_to_itself(tmp_path, cell):
    assert CellFolder.parse(cell.path) == cell
    assert CellFolder.parse(cell.under(tmp_path / "runs" / "study")) == cell


def test_cell_folders_have_the_grid_and_fine_tune_layouts():
    assert CellFolder("mr", "meanmax", 3, "cv10", "trained", fold=7).path.as_posix() == "mr-cv10-trained/meanmax/seed-3/fold-7"
    assert CellFolder("mr", "bilstm", 0, "lab", "trained", "-distilled-minilm").path.as_posix() == "mr-lab-trained-distilled-minilm/bilstm/seed-0"
    assert CellFolder("mr", "minilm", 2).path.as_posix() == "mr-minilm/seed-2"
    for folder in ("runs/mr-bilstm", "runs/study/mr-lab-trained/bilstm", "seed-x", "runs/study/mr-lab-trained/bilstm/fold-1"):
        assert CellFolder.parse(folder) is None


def test_short_names_drop_the_machine_and_keep_hub_ids():
    assert short_name("/work/study/runs/study/mr-lab-trained/attention/seed-0") == "mr-lab-trained/attention/seed-0"
    assert short_name("/tmp/x/mr-cv10-trained/mean/seed-1/fold-2") == "mr-cv10-trained/mean/seed-1/fold-2"
    assert short_name("/tmp/x/bilstm/seed-0") == "bilstm/seed-0"  # a seed folder outside a grid
    assert short_name("/tmp/exports/bilstm-int8") == "bilstm-int8"
    assert short_name("cardiffnlp/twitter-roberta-base-sentiment-latest") == "cardiffnlp/twitter-roberta-base-sentiment-latest"


def test_default_run_folders_name_what_tells_runs_apart():
    assert default_run_folder("mr", "meanmax") == "runs/mr-meanmax"
    assert default_run_folder("mr", "meanmax", seed=3, variant="frozen-vectors") == "runs/mr-meanmax-frozen-vectors-seed3"
    assert default_run_folder("semeval2017a", "vinai/bertweet-base", cv_folds=10, fold=2) == "runs/semeval2017a-vinai_bertweet-base-cv10-fold2"
    assert default_run_folder("mr", "bilstm", search="optuna") == "runs/mr-bilstm-search-optuna"


def committed_records() -> list[tuple[Path, dict]]:
    return [(path.parent, json.loads(path.read_text())) for path in sorted((RESULTS / "records" / "study").rglob("results.json"))]


def test_every_committed_setting_has_its_label_folder_suffix_and_plain_twin():
    from pipelines.runs.record import RunRecord

    seen = set()
    for folder, payload in committed_records():
        setting = Setting.of(RunRecord.from_dict(payload, folder))
        cell = CellFolder.parse(folder)
        group = cell.path.parts[0]
        seen.add(group)
        assert setting.label == STUDY_SETTINGS[group], folder
        assert setting.folder_suffix == cell.suffix, folder  # the grid made this folder from the same setting
        assert setting.plain() == Setting(setting.kind) and setting.plain().label == setting.kind
        assert (setting == setting.plain()) == (setting.label == setting.kind)
    assert seen == set(STUDY_SETTINGS)


def test_a_setting_is_a_value_with_its_variants_labelled_and_undone_one_at_a_time():
    kl = Setting("trained vectors", teacher="minilm", distillation_loss="kl", distillation_temperature=2.0, distillation_alpha=0.2)
    both = Setting("frozen vectors", teacher="minilm", class_weights="1,2,3")
    assert kl.label == "trained vectors, distilled from minilm (KL, T=2, alpha 0.2)"
    assert kl.folder_suffix == "-distilled-minilm-kl-t2-alpha0.2"
    assert both.label == "frozen vectors, distilled from minilm, class-weighted (1,2,3)"
    assert both.variants_label == "distilled from minilm, class-weighted (1,2,3)" and both.plain().variants_label == ""
    assert both.plain().label == "frozen vectors" and kl.sort_key() < both.plain().sort_key() < both.sort_key()  # kinds in KINDS order, then variants
    assert both.folder_suffix == "-weighted-1_2_3-distilled-minilm"
    assert both.variants == ["distillation", "class weights"]
    assert both.without("distillation") == Setting("frozen vectors", class_weights="1,2,3")
    assert both.without("class weights") == Setting("frozen vectors", teacher="minilm")
    assert len({kl, both, Setting("trained vectors", teacher="minilm", distillation_loss="kl", distillation_temperature=2.0,
                                  distillation_alpha=0.2)}) == 2  # equal settings are one key
    scaled = Setting("fine-tuned", temperature_scaled=True, train_size=1000)
    assert scaled.label == "fine-tuned, temperature-scaled, 1000 per class"
    assert scaled.folder_suffix == "-ts-n1000" and scaled.plain() == Setting("fine-tuned")
    with pytest.raises(ValueError, match="Setting kind must be one of"):
        Setting("trained")


def test_a_configuration_is_one_canonical_text_in_the_setting():
    """`--config_overrides` as given (any order, "0.10", "1e-3") and as recorded (typed) are one setting; its
    label shortens floats, its folder suffix keeps them whole; `without` and `plain` drop it."""
    from pipelines.runs.setting import config_text

    given = "num_layers=6, dropout=0.10,learning_scale=1e-3,final_layer_norm=True,attention_dropout=0"
    recorded = {"attention_dropout": 0.0, "dropout": 0.1, "final_layer_norm": True, "learning_scale": 0.001, "num_layers": 6}
    assert config_text(given) == config_text(recorded) == "attention_dropout=0,dropout=0.1,final_layer_norm=true,learning_scale=0.001,num_layers=6"
    assert config_text(None) is None and config_text({}) is None
    assert config_text("dropout=0.3") != config_text("dropout=0.31")
    searched = Setting("trained vectors", config=config_text({"dropout": 0.4628040490213926, "num_layers": 3}))
    assert searched.variants == ["configuration"]
    assert searched.label == "trained vectors, config dropout=0.463 num_layers=3"
    assert searched.folder_suffix == "-config-dropout_0.4628040490213926_num_layers_3"
    assert searched.without("configuration") == searched.plain() == Setting("trained vectors")
    weighted = Setting("trained vectors", class_weights="balanced", config="dropout=0.1")
    assert weighted.label == "trained vectors, class-weighted, config dropout=0.1"
    assert weighted.folder_suffix == "-weighted-config-dropout_0.1"
    assert CellFolder.parse(f"runs/mr-lab-trained{searched.folder_suffix}/transformer/seed-2").suffix == searched.folder_suffix


def test_a_learning_rate_other_than_the_flows_default_is_a_variant_of_the_setting():
    """What the record keeps (`given_learning_rate`: None at the flow's own default) is what the setting shows."""
    from pipelines.arguments import given_learning_rate
    from pipelines.training_arguments import FinetuneTrainingArguments, GloveTrainingArguments

    assert given_learning_rate(GloveTrainingArguments(output_dir="x")) is None
    assert given_learning_rate(GloveTrainingArguments(output_dir="x", learning_rate=5e-5)) == 5e-5
    assert given_learning_rate(FinetuneTrainingArguments(output_dir="x")) is None
    assert given_learning_rate(FinetuneTrainingArguments(output_dir="x", learning_rate=1e-3)) == 1e-3
    searched = Setting("trained vectors", config="dropout=0.1", learning_rate=0.0004232108122422937)
    assert searched.variants == ["configuration", "learning rate"]
    assert searched.label == "trained vectors, config dropout=0.1, learning rate 0.000423"
    assert searched.folder_suffix == "-config-dropout_0.1-lr0.0004232108122422937"
    assert searched.without("learning rate") == Setting("trained vectors", config="dropout=0.1")
    record = RunRecord(dataset="mr", model="transformer", test={"accuracy": 0.7}, model_type="glove-transformer", vectors="trained",
                       learning_rate=0.0004232108122422937,
                       config_overrides={"dropout": 0.1})  # fmt: skip
    assert Setting.of(record) == searched
    assert RunRecord.from_dict(record.to_dict()).learning_rate == record.learning_rate
    assert "learning_rate" not in RunRecord(dataset="mr", model="mean", test={"accuracy": 0.7}).to_dict()  # only when given


def test_the_grid_names_its_cells_from_the_loss_options():
    from pipelines.arguments import DistillationArguments

    options = DistillationArguments(class_weights="balanced")
    assert Setting.of_arguments("trained vectors", options).folder_suffix == "-weighted"
    options.distillation_loss, options.distillation_temperature = "kl", 2.0
    assert Setting.of_arguments("trained vectors", options, teacher="minilm").folder_suffix == "-weighted-distilled-minilm-kl-t2"
    assert Setting.of_arguments("fine-tuned", None) == Setting("fine-tuned")
    options = DistillationArguments()
    assert Setting.of_arguments("trained vectors", options, config_overrides="num_layers=6").folder_suffix == "-config-num_layers_6"
    assert Setting.of_arguments("trained vectors", options, learning_rate=3e-4, train_size=64).folder_suffix == "-n64-lr0.0003"
    assert Setting.of_arguments("fine-tuned", None, train_size=64) == Setting("fine-tuned", train_size=64)


def test_the_report_groups_the_committed_records_as_the_committed_report_does():
    from pipelines.report.collect import gather_rows, group_rows

    groups = group_rows(gather_rows(RESULTS / "records"))
    report = json.loads((RESULTS / "report" / "report.json").read_text())
    committed = [(dataset, s["model"], s["setting"], s["protocol"], s["n"]) for dataset, section in report["datasets"].items()
                 for s in section["summaries"]]  # fmt: skip
    assert [(g.dataset, g.model, g.setting.label, g.protocol_label, g.size()) for g in groups] == committed


def test_no_file_under_results_names_a_machine():
    """Issue 30 item 9: records hold paths relative to the folder commands run from, and every "Made by" line
    runs on a fresh clone (`scripts/migrate_results.py` rewrote the older files; `layout.portable_paths` writes the new),
    the measurements under bench/ and the docs included."""
    machine = ("/work/", "/tmp/", "/root/", "/home/")
    repo = RESULTS.parent
    files = [*RESULTS.rglob("*"), *(repo / "bench").glob("*.md"), *(repo / "docs").glob("*.md"), repo / "README.md"]
    found = [
        f"{path.relative_to(repo)}: {root}"
        for path in sorted(files)
        if path.is_file() and path.suffix in (".json", ".md")
        for root in machine
        if root in path.read_text(encoding="utf-8")
    ]
    assert found == []


def test_records_name_paths_relative_to_the_working_folder(tmp_path, monkeypatch):
    from pipelines.runs.record import RunRecord
    from pipelines.runs.layout import portable_paths

    monkeypatch.chdir(tmp_path)
    run = tmp_path / "runs" / "study" / "mr-lab-trained" / "bilstm" / "seed-0"
    record = RunRecord("mr", "bilstm", {"accuracy": 0.8}, best_checkpoint=str(run / "checkpoint-10"),
                       distillation={"teacher": "minilm", "teacher_path": str(tmp_path / "runs" / "teachers" / "mr-minilm")},
                       extra={"embeddings": "/elsewhere/glove.txt.gz", "data": {"data_dir": str(tmp_path / "data")}})  # fmt: skip
    written = record.to_dict()
    assert written["best_checkpoint"] == "runs/study/mr-lab-trained/bilstm/seed-0/checkpoint-10"
    assert written["distillation"]["teacher_path"] == "runs/teachers/mr-minilm" and written["data"]["data_dir"] == "data"
    assert written["embeddings"] == "/elsewhere/glove.txt.gz"  # outside the working folder: as given
    assert portable_paths({"note": "see /elsewhere\nand more", "runs": [str(tmp_path)]}) == {"note": "see /elsewhere\nand more", "runs": ["."]}
    monkeypatch.setenv("SENTIBENCH_CACHE", str(tmp_path.parent / "cache"))  # an extracted backbone lives in the cache
    backbone = tmp_path.parent / "cache" / "backbones" / "all-mpnet-base-v2-6a7875979245"
    assert RunRecord("mr", "mpnet", {}, extra={"model_path": str(backbone)}).to_dict()["model_path"] == (
        "$SENTIBENCH_CACHE/backbones/all-mpnet-base-v2-6a7875979245"
    )
