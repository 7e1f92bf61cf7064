"""`aunce-rt train`: prepare benchmarks, pretrain, linear-evaluate, evaluate, report, run paper grids.

Thin commands over training/: each parses, calls the library, prints a summary.
torch is imported only inside the command bodies.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

train_app = typer.Typer(
    help="Train and evaluate AU encoders (AUNCE, WCE, WFL) on the benchmarks.", no_args_is_help=True
)

out_console = Console()
err_console = Console(stderr=True)

SET_HELP = "Override a config key: --set loss.temperature=0.3 (dotted keys, YAML values). Repeatable."


def _config(config: str, overrides: list[str] | None):  # type: ignore[no-untyped-def]
    from aunce_rt.training.config import load_config

    return load_config(config, overrides or [])


def _print_report(report: dict, title: str) -> None:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value (%)", justify="right")

    def pct(ms: dict) -> str:
        return "n/a" if ms.get("mean") is None else f"{100 * ms['mean']:.1f} ± {100 * ms['std']:.1f}"

    table.add_row("F1-macro", pct(report["f1_macro"]))
    table.add_row("F1-micro", pct(report["f1_micro"]))
    table.add_row("accuracy", pct(report["accuracy_mean"]))
    for au, m in report["per_au"].items():
        table.add_row(f"  {au} F1", pct(m["f1"]))
    out_console.print(table)
    out_console.print(f"epoch selection: {report['selection']}")


@train_app.command("prepare")
def prepare_cmd(
    raw_dir: Path = typer.Argument(..., exists=True, file_okay=False, help="The benchmark's root folder."),
    dataset: str = typer.Option(
        ..., "--dataset", "-d", help="Protocol: bp4d, bp4d_plus, disfa, affwild2, gft, ..."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (crops/, manifest.csv, no_face.txt)."),
    manifest: Path | None = typer.Option(
        None,
        exists=True,
        dir_okay=False,
        help="CSV manifest of full frames (path, subject, AU columns) instead of the raw layout.",
    ),
    landmarks: str = typer.Option("auto", help="auto (dataset files, else MediaPipe) | dataset | mediapipe."),
    landmarks_dir: Path | None = typer.Option(
        None, help="Folder mirroring RAW_DIR with .npy/.txt/.pts landmarks."
    ),
    workers: int = typer.Option(1, min=1, help="Worker processes."),
) -> None:
    """Align every annotated frame into 256x256 crops (resumable; no-face frames listed)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from aunce_rt.datasets.prepare import prepare

    with Progress(
        TextColumn("aligning"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=err_console
    ) as bar:
        task = bar.add_task("prepare", total=None)

        def on_progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        report = prepare(
            raw_dir,
            dataset,
            out,
            manifest=manifest,
            landmarks=landmarks,
            landmarks_dir=landmarks_dir,
            workers=workers,
            on_progress=on_progress,
        )
    out_console.print(
        f"{report.total} frames: {report.written} aligned now, {report.skipped} already done, "
        f"{len(report.no_face)} without a face (listed in {report.no_face_file})"
    )
    out_console.print(
        f"manifest: {report.manifest}\nnext: aunce-rt train pretrain {dataset} "
        f"--set data.train={report.manifest}"
    )


def _run(
    config: str, overrides: list[str] | None, out: Path | None, resume: bool, stages: tuple[str, ...]
) -> None:
    from aunce_rt.cli._progress import epoch_progress
    from aunce_rt.training.run import run_experiment

    cfg = _config(config, overrides)
    with epoch_progress() as callbacks:
        result = run_experiment(cfg, out, resume=resume, stages=stages, callbacks=callbacks)
    if result.report:
        _print_report(result.report, f"{cfg.name} ({cfg.data.protocol})")
    out_console.print(f"run folder: {result.path}")


@train_app.command("pretrain")
def pretrain_cmd(
    config: str = typer.Argument(..., help="A config YAML or a bundled name (bp4d, synthau_tiny, ...)."),
    overrides: list[str] | None = typer.Option(None, "--set", help=SET_HELP),
    out: Path | None = typer.Option(None, "--out", "-o", help="Run folder (default runs/<name>)."),
    resume: bool = typer.Option(
        False, "--resume", help="Continue the run in --out from its last checkpoint."
    ),
    then_linear: bool = typer.Option(True, "--linear/--no-linear", help="Run linear evaluation afterwards."),
) -> None:
    """Pretrain the encoder of every split and seed (then, by default, linear-evaluate it)."""
    _run(config, overrides, out, resume, ("pretrain", "linear") if then_linear else ("pretrain",))


@train_app.command("linear")
def linear_cmd(
    run_dir: Path = typer.Argument(
        ..., exists=True, file_okay=False, help="A run folder with pretrained encoders."
    ),
    overrides: list[str] | None = typer.Option(None, "--set", help=SET_HELP),
) -> None:
    """Linear evaluation (frozen encoder, one probe per AU) of a pretrained run."""
    from aunce_rt.cli._progress import epoch_progress
    from aunce_rt.training.config import load_config, read_yaml
    from aunce_rt.training.run import run_experiment

    cfg = load_config(data=read_yaml(run_dir / "config.yaml"), overrides=overrides or [])
    with epoch_progress() as callbacks:
        result = run_experiment(cfg, run_dir, resume=True, stages=("linear",), callbacks=callbacks)
    _print_report(result.report, f"{cfg.name} ({cfg.data.protocol})")


@train_app.command("eval")
def eval_cmd(
    model: Path = typer.Argument(..., exists=True, dir_okay=False, help="A model checkpoint (model.pt)."),
    config: str = typer.Option(..., "--config", "-c", help="Config whose data provides the test split(s)."),
    overrides: list[str] | None = typer.Option(None, "--set", help=SET_HELP),
) -> None:
    """Evaluate a trained model on the test split(s) of a config, at the model's thresholds."""
    from aunce_rt.training.run import evaluate_model

    cfg = _config(config, overrides)
    results = evaluate_model(model, cfg)
    table = Table(title=f"{model.name} on {cfg.data.protocol}")
    for col in ("split", "F1-macro", "F1-micro", "accuracy"):
        table.add_column(col, justify="right")
    for name, m in results.items():
        table.add_row(
            name,
            f"{100 * m['f1_macro']:.1f}",
            f"{100 * m['f1_micro']:.1f}",
            "n/a" if m["accuracy_mean"] is None else f"{100 * m['accuracy_mean']:.1f}",
        )
    out_console.print(table)


@train_app.command("report")
def report_cmd(
    run_dir: Path = typer.Argument(..., exists=True, file_okay=False, help="A run folder."),
) -> None:
    """Re-aggregate a run's finished splits into report.md / report.json and print it."""
    from aunce_rt.evaluation.report import report_from_run

    report = report_from_run(run_dir)
    _print_report(report, f"{report['name']} ({report['protocol']})")
    out_console.print(f"written: {run_dir / 'report.md'}, {run_dir / 'report.json'}")


@train_app.command("experiment")
def experiment_cmd(
    grid: str = typer.Argument(..., help="main | losses | ablation | probs | beta | cross, or a grid YAML."),
    config: str | None = typer.Option(
        None, "--config", "-c", help="Base config for variants without their own."
    ),
    overrides: list[str] | None = typer.Option(None, "--set", help=SET_HELP),
    out: Path = typer.Option(Path("runs"), "--out", "-o", help="Parent folder; the grid writes out/<grid>/."),
    only: list[str] | None = typer.Option(None, "--only", help="Run only this variant (repeatable)."),
    resume: bool = typer.Option(False, "--resume", help="Continue unfinished variants."),
) -> None:
    """Run a paper table's grid of variants and print the table (also out/<grid>/table.md)."""
    from aunce_rt.cli._progress import epoch_progress
    from aunce_rt.training.experiments import format_table, load_grid, run_grid

    g = load_grid(grid)
    with epoch_progress() as callbacks:
        rows = run_grid(
            g,
            out / g.name,
            base=config,
            overrides=tuple(overrides or ()),
            resume=resume,
            only=tuple(only or ()),
            callbacks=callbacks,
        )
    out_console.print(format_table(g, rows), markup=False, highlight=False)


@train_app.command("tsne")
def tsne_cmd(
    models: list[str] = typer.Argument(
        ..., help="NAME=MODEL.pt pairs, e.g. AUNCE=runs/a/model.pt WCE=runs/b/model.pt"
    ),
    config: str = typer.Option(
        ..., "--config", "-c", help="Config whose first test split provides the frames."
    ),
    overrides: list[str] | None = typer.Option(None, "--set", help=SET_HELP),
    au: int | None = typer.Option(None, help="AU code to show (default: the first AU)."),
    out: Path = typer.Option(Path("tsne.png"), "--out", "-o", help="PNG to write."),
    points: int = typer.Option(300, min=5, help="Frames drawn (exact t-SNE)."),
) -> None:
    """Paper Fig. 5: exact t-SNE of one AU's features from several models, side by side."""
    from aunce_rt.errors import InputError
    from aunce_rt.training.experiments import tsne_figure

    pairs = {}
    for item in models:
        if "=" not in item:
            raise InputError(f"expected NAME=MODEL.pt, got {item!r}")
        name, path = item.split("=", 1)
        pairs[name] = path
    path = tsne_figure(pairs, _config(config, overrides), out, au_code=au, max_points=points)
    out_console.print(f"written: {path}")


@train_app.command("recipe")
def recipe_cmd(
    name: str = typer.Argument("default", help="Recipe name (training/configs/recipes/) or a YAML path."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Run folder (default runs/recipe-NAME)."),
    overrides: list[str] | None = typer.Option(None, "--set", help=SET_HELP),
    install_default: bool = typer.Option(
        False,
        "--install-default/--no-install",
        help="Also copy the model into the package (aunce_rt/assets/NAME.onnx), the default model.",
    ),
    install_to: Path | None = typer.Option(
        None, "--install-to", help="Also copy the model to this file (or folder, as NAME.onnx)."
    ),
) -> None:
    """Train, export, verify and describe a model from its recipe into its run folder (resumable)."""
    from aunce_rt.cli._progress import epoch_progress
    from aunce_rt.pipelines.recipe import run_recipe

    with epoch_progress() as callbacks:
        res = run_recipe(
            name,
            out,
            overrides=tuple(overrides or ()),
            install_default=install_default,
            install_to=install_to,
            callbacks=callbacks,
        )
    table = Table(title=f"recipe {name}: variants on the SynthAU test crops")
    for col in ("precision", "ms / face (ORT, CPU)", "F1-macro (%)", "max |dp| vs fp32", "chosen"):
        table.add_column(col, justify="right")
    for v in res.variants:
        table.add_row(
            v.precision,
            f"{v.ms_per_face:.2f}",
            f"{100 * v.f1_macro:.1f}",
            f"{v.max_abs_diff_vs_fp32:.4f}",
            "yes" if v is res.chosen else "",
        )
    out_console.print(table)
    rt = res.runtime
    truth = rt.get("truth_aligned_same_frames")
    same_frames = (
        f"the same frames aligned with the true landmarks: {100 * truth['f1_macro']:.1f}%; " if truth else ""
    )
    out_console.print(
        f"through the runtime on {rt['people']} unseen people ({rt['frames']} frames): "
        f"F1-macro {100 * rt['f1_macro']:.1f}%, face found in {100 * rt['detection_rate']:.1f}% of frames; "
        f"{same_frames}static test crops of other unseen people: {100 * res.crops['f1_macro']:.1f}%"
    )
    if res.model is not None:
        out_console.print(f"model: {res.model}")
    if res.installed:
        uses = "; `aunce-rt demo` now uses it" if install_default else ""
        out_console.print(f"installed {res.installed}{uses}")


@train_app.command("real-faces")
def real_faces_cmd(
    out: Path = typer.Option(
        Path("runs/real-faces"), "--out", "-o", help="Run folder (its cache/ is resumed)."
    ),
    shared: Path = typer.Option(
        Path("../shared"), "--shared", help="Folder holding data/faces_cc, data/video_cc and models/."
    ),
    faces: Path | None = typer.Option(
        None, "--faces", help="CC BY face photos (default SHARED/data/faces_cc)."
    ),
    videos: Path | None = typer.Option(
        None, "--videos", help="CC BY face clips (default SHARED/data/video_cc)."
    ),
    teacher: Path | None = typer.Option(
        None, "--teacher", help="MediaPipe face_landmarker.task (default SHARED/models/...); training only."
    ),
    appearance_model: Path | None = typer.Option(
        None,
        "--appearance-model",
        help="Image-only aunce-rt .onnx whose scores the recipe records (default: bundled).",
    ),
    synth_n: int = typer.Option(4000, "--synth-n", help="SynthAU training renders."),
    mirror: bool = typer.Option(True, "--mirror/--no-mirror", help="Also train on every face mirrored."),
    appearance: bool = typer.Option(False, "--appearance/--geometry-only", help="Fuse the appearance model."),
    align_neutral: bool = typer.Option(
        True, "--align-neutral/--no-align-neutral", help="Move SynthAU geometry onto the real neutral face."
    ),
    symmetric: bool = typer.Option(
        True, "--symmetric/--asymmetric", help="Average the head with its mirror."
    ),
    frontal: bool = typer.Option(
        False, "--frontal/--no-frontal", help="Rotate every face's 3-D geometry onto a frontal reference."
    ),
    calibrate: bool = typer.Option(
        True, "--calibrate/--no-calibrate", help="Platt-scale each AU on held-out SynthAU people."
    ),
    regions: bool = typer.Option(
        False, "--regions/--whole-face", help="Upper-face AUs read the upper face only, the others the lower."
    ),
    head: str = typer.Option(
        "linear", "--head", help="linear (per-AU logistic regressions) or mlp (one hidden layer)."
    ),
    mlp_seed: int = typer.Option(0, "--mlp-seed", help="Initialisation seed of the MLP head."),
    workers: int = typer.Option(2, "--workers", help="Processes for the feature extraction."),
    install_default: bool = typer.Option(
        False, "--install-default/--no-install", help="Also copy the model to aunce_rt/assets/default.onnx."
    ),
    install_to: Path | None = typer.Option(
        None, "--install-to", help="Also copy the model to this file or folder."
    ),
) -> None:
    """Make the real-face model: landmark geometry on SynthAU + CC BY real faces (teacher soft targets)."""
    from aunce_rt.errors import InputError
    from aunce_rt.pipelines.real_faces import RealFaceConfig, RealFaceSources, run_real_face_recipe

    if head not in ("linear", "mlp"):
        raise InputError(f"--head {head!r} is not a head kind; use --head linear or --head mlp")
    base = RealFaceSources.from_shared(shared, appearance_model)
    sources = RealFaceSources(
        faces=faces or base.faces,
        videos=videos or base.videos,
        teacher=teacher or base.teacher,
        appearance_model=base.appearance_model,
    )
    cfg = RealFaceConfig(
        synth_n=synth_n,
        mirror=mirror,
        appearance=appearance,
        align_neutral=align_neutral,
        symmetric=symmetric and not appearance,
        frontal=frontal,
        calibrate=calibrate,
        regions=regions,
        head=head,
        mlp_seed=mlp_seed,
        workers=workers,
    )
    res = run_real_face_recipe(sources, out, cfg, install_default=install_default, install_to=install_to)
    held = res.metrics["synthau_heldout_renders"]
    rt = res.metrics["synthau_runtime_unseen_people"]
    out_console.print(
        f"SynthAU held-out renders: mean AUC {held['mean_auc']:.3f}, F1-macro {100 * held['f1_macro']:.1f}%; "
        f"through the runtime on {rt['people']} unseen people: F1-macro {100 * rt['f1_macro']:.1f}%"
    )
    out_console.print(f"model: {res.model} (card: {res.model.parent / 'MODEL_CARD.md'})")
    if res.installed:
        out_console.print(f"installed {res.installed}")
    out_console.print(
        "score it on real labelled faces: aunce-rt eval images LABELS.csv --model " + str(res.model)
    )
