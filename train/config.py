"""The trainer's configuration: one frozen dataclass, two presets, ``key=value`` overrides.

Every field says whether it is ``# paper`` (stated in arXiv 2110.01680) or ``# ours``. The clip geometry
(paper: 2 s at 24 fps, 256 x 256 x 48 frames; IMU 396 x 6 at 198 Hz; spectrograms with nfft = 64) is not a
training setting: it is the build's (:mod:`egoimu.manifests.geometry`, manifest.json ``config.geometry``),
checked against the model by :func:`geometry_problems` and recorded in the run's config.json. The paper states
the backbones (SlowFast-R50, VGG16), the plain cosine similarity of eq. 1 (temperature 1)
and, for Table 3, a frozen pretrained video CNN. It states no optimiser, learning rate, schedule, batch
size, embedding size or number of steps: those are ours. ``objective`` picks what is trained: the
contrastive pair (default) or one of the supervised verb classifiers the paper compares against (Tables
1-4); the embedding/head/temperature fields concern the contrastive objective only, ``num_verbs`` the
supervised ones.

Presets: ``paper`` sets every value the paper states (and, where it states none, ours); ``default`` is
egoimu's choice and differs from ``paper`` where egoimu chose otherwise (each field's comment says why: measured,
or kept from before). Which fields differ, and
which are the paper's or ours, is not restated here: :func:`settings_table` generates it from the field
comments and :data:`PRESETS` (README's "settings" table is that output, and a test fails when they drift;
``python -m egoimu.train.config`` prints it).

Sources, later ones win: the preset, ``--config FILE`` (YAML/JSON mapping of fields, or a run's
``config.json``), the command-line flags (``--model``, ``--steps``, ...), then ``key=value`` words.
Values are type-checked and range-checked (every float finite, every int of 64 bits, the seed in
0..2**63-1, lr and temperature > 0, ...); an unknown key is an error that names the close matches.

Automatic values: ``warmup_steps`` -1 (the default) follows the schedule, :data:`WARMUP_SHARE` of ``steps``;
:meth:`TrainConfig.resolved` makes it explicit, as the run's config.json records it. The field comments are the
fields' one description: :func:`field_docs` reads them for ``egoimu train --help-config`` (:func:`help_config`)
and ``--print-config`` (:func:`config_yaml`, YAML that ``--config`` reads back).

Hashing: :meth:`TrainConfig.sha256` covers every field that can change the trained weights;
:data:`RUNTIME_KEYS` (workers, logging and checkpoint cadence) are saved but not hashed, and they are the
only keys a ``--resume`` may change.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import functools
import inspect
import json
import math
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from egoimu.manifests.files import load_yaml_file
from egoimu.manifests.geometry import FORMER_KEYS, SLOWFAST_ALPHA, ClipGeometry
from egoimu.manifests.schema import config_sha256
from egoimu.train.data import DataConfig
from egoimu.train.jpeg_device import JPEG_DECODE_MODES
from egoimu.train.models.registry import MODELS

AMP_MODES = ("auto", "bf16", "off")
HEADS = ("mlp", "linear")
#: The supervised objectives and the encoder each trains (train/models/classifier.py).
VERB_OBJECTIVES: dict[str, str] = {"verb_video": "video", "verb_imu": "imu"}
OBJECTIVES = ("contrastive", *VERB_OBJECTIVES)
MAX_LOGIT_SCALE = 100.0  # as egoimu.train.loss.ContrastiveLoss's default clamp
#: Settings that cannot change the trained weights: not hashed, and a resume may change them.
RUNTIME_KEYS = frozenset({"num_workers", "log_every", "ckpt_every", "eval_every_epoch"})
#: The largest seed: torch.manual_seed takes up to 2**64 - 1 and numpy's SeedSequence any integer >= 0; 2**63 - 1
#: also fits every signed 64-bit column (pandas, HDF5 attributes) that records it.
MAX_SEED = 2**63 - 1
#: How the slow pathway picks its frames ("auto" resolves to one of the others, :meth:`TrainConfig.resolved`).
SLOW_PATHWAYS = ("auto", "linspace", "stride")
#: What a saved config (a checkpoint's or config.json's, :meth:`TrainConfig.from_dict`) that lacks a field ran
#: with: the behaviour of egoimu before the field existed (BatchNorm in the VGG, the slow pathway's x[:, :, ::4]).
LEGACY_VALUES: dict[str, Any] = {"imu_batchnorm": True, "slow_pathway": "stride"}
#: ours: the warm-up's share of the schedule when ``warmup_steps`` is -1 (auto): 500 of 20000 steps.
WARMUP_SHARE = 0.025
AUTO = -1  # warmup_steps: follow the schedule


class ConfigError(ValueError):
    """A bad setting: unknown key, wrong type, value out of range, unreadable config file."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run (flat, so that ``key=value`` reads naturally)."""

    # --- objective
    objective: str = "contrastive"  # ours: contrastive (paper eq. 1) | verb_video | verb_imu: supervised verb
    #   classifiers on one encoder's backbone (paper Tables 1-2 "video only" / "head-motion only"; verb_video
    #   is also Tables 3-4's "fully supervised on EPIC-KITCHENS" video CNN); labelled clips only (verb >= 0)
    num_verbs: int = 97  # ours: classifier outputs (EPIC-KITCHENS-100's 97 verb classes); verb objectives only
    # --- model
    model: str = "full"  # paper: SlowFast-R50 (video) + VGG16 (head motion); "small" is ours (CPU-sized)
    embed_dim: int = 128  # ours: joint embedding size (the paper compares features by cosine, size unstated)
    head: str = "mlp"  # ours: projection head mlp | linear
    temperature: float = 0.1  # ours: initial temperature; paper: 1 (plain cosine)
    learnable_temperature: bool = True  # ours (measured pick from {1, 0.1, learnable} on validation, README)
    small_frames: int = 16  # ours: --model small sees the clip average-pooled to 16 frames ...
    small_motion: bool = True  # ours (measured): --model small sees frame differences instead of frames
    small_size: int = 64  # ours: ... of 64 x 64 (on the device, before the backbone); full sees 48 x 256²
    imu_batchnorm: bool = True  # ours (measured, README): BatchNorm after every conv of the head-motion VGG
    #   (vgg16_bn), which trains faster from scratch; paper: plain VGG16, none (paper preset: False)
    slow_pathway: str = "auto"  # ours: the slow pathway's frames, linspace (pytorchvideo/PySlowFast's
    #   linspace(0, T-1, T/4), the Kinetics checkpoint's convention) | stride (every 4th) | auto: linspace with a
    #   pytorchvideo init_video, an egoimu init_video's own, else stride; a run's config.json records the choice
    freeze_video: bool = False  # paper (Table 3 "Freeze Video CNN"): the video backbone neither learns nor
    #   updates its BatchNorm statistics; ours: the video projection head still learns (see loop.py)
    init_video: str = ""  # paper (Table 3): pretrained video CNN, a pytorchvideo Kinetics checkpoint or an
    #   egoimu checkpoint (its video backbone); "" = random initialisation
    init_video_name: str = ""  # ours: what a pytorchvideo init_video was trained on, as the user names it
    #   (e.g. "kinetics400": Table 3's Kinetics column); "" = "pytorchvideo checkpoint (unnamed)"
    # --- optimisation (the paper states none of these)
    lr: float = 1e-3  # ours (measured on the small model: 3e-4 reached test AUC 0.77, 1e-3 0.89)
    min_lr_ratio: float = 0.1  # ours: cosine decays to lr x min_lr_ratio at the last step
    weight_decay: float = 0.05  # ours: AdamW, on conv/linear weights only (not biases, norms, logit scale)
    warmup_steps: int = -1  # ours: linear warm-up, then cosine; -1 = follow the schedule: WARMUP_SHARE (2.5 %) of
    #   steps, rounded (500 of the default 20000); a run's config.json records the resolved count
    steps: int = 20000  # ours: schedule length (optimiser steps)
    grad_clip: float = 1.0  # ours: max global gradient norm (0 = off)
    amp: str = "auto"  # ours: auto = bf16 autocast on CUDA, off on CPU | bf16 | off
    batch_size: int = 16  # ours: clips per process and step (global batch = batch_size x processes)
    seed: int = 0  # ours: weights' initialisation, data order, flips
    hflip: float = 0.5  # ours: probability of a consistent video/IMU horizontal flip (train/augment.py)
    spec_norm: bool = True  # ours: spectrograms normalised per channel with the train split's mean/std
    jpeg_decode: str = "cpu"  # ours: JPEG builds: cpu (simplejpeg in the loader workers) | device (torchvision's
    #   decode_jpeg on the training device, nvjpeg on CUDA; needs torchvision with CUDA) | auto (device on CUDA with
    #   that decoder, else cpu); hashed: decoders differ by a few levels, so the weights may too (README)
    accl_dc: bool = False  # ours (measured): blank the accelerometer's 0 Hz bin (gravity = absolute head
    #   orientation, a shortcut on the synthetic set) so that only motion is matched; paper preset: True
    # --- bookkeeping (RUNTIME_KEYS: not hashed, may change on resume)
    num_workers: int = 2  # ours: DataLoader worker processes per rank
    log_every: int = 10  # ours: steps between metrics.jsonl / TensorBoard records
    ckpt_every: int = 1000  # ours: steps between checkpoints (0 = only at the end / --stop-at)
    eval_every_epoch: int = 1  # ours: validation correspondence ROC-AUC every N epochs (0 = never)

    def __post_init__(self) -> None:
        numbers = _number_problems(self)
        if numbers:  # the rules below compare and divide: they need finite numbers of 64 bits
            raise ConfigError("; ".join(numbers))
        problems = [msg for ok, msg in (
            (self.model in MODELS, f"model must be one of {sorted(MODELS)}, not {self.model!r}"),
            (self.head in HEADS, f"head must be one of {HEADS}, not {self.head!r}"),
            (self.amp in AMP_MODES, f"amp must be one of {AMP_MODES}, not {self.amp!r}"),
            (self.jpeg_decode in JPEG_DECODE_MODES,
             f"jpeg_decode must be one of {JPEG_DECODE_MODES}, not {self.jpeg_decode!r}"),
            (self.temperature > 0, f"temperature must be > 0, got {self.temperature}"),
            (not self.learnable_temperature or self.temperature <= 0 or 1.0 / self.temperature <= MAX_LOGIT_SCALE,
             f"learnable temperature starts at 1/temperature = {1 / max(self.temperature, 1e-300):g} > "
             f"{MAX_LOGIT_SCALE:g} (temperature must be >= {1 / MAX_LOGIT_SCALE:g})"),
            (self.lr > 0, f"lr must be > 0, got {self.lr}"),
            (0 <= self.min_lr_ratio <= 1, f"min_lr_ratio must be in [0, 1], got {self.min_lr_ratio}"),
            (self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay}"),
            (self.grad_clip >= 0, f"grad_clip must be >= 0 (0 = off), got {self.grad_clip}"),
            (self.steps >= 1 and (self.warmup_steps == AUTO or 0 <= self.warmup_steps <= self.steps),
             f"need steps >= 1 and 0 <= warmup_steps <= steps (or warmup_steps -1: {WARMUP_SHARE:.1%} of steps), "
             f"got steps {self.steps}, warmup_steps {self.warmup_steps}"),
            (self.batch_size >= 2, f"batch_size must be >= 2 (BatchNorm, negatives), got {self.batch_size}"),
            (self.num_workers >= 0, f"num_workers must be >= 0, got {self.num_workers}"),
            (0.0 <= self.hflip <= 1.0, f"hflip is a probability, got {self.hflip}"),
            (self.log_every >= 1 and self.ckpt_every >= 0 and self.eval_every_epoch >= 0,
             "need log_every >= 1, ckpt_every >= 0, eval_every_epoch >= 0"),
            (self.small_frames >= 1 and self.small_size >= 32, "need small_frames >= 1 and small_size >= 32"),
            (self.embed_dim >= 1, "embed_dim must be >= 1"),
            (self.slow_pathway in SLOW_PATHWAYS,
             f"slow_pathway must be one of {SLOW_PATHWAYS}, not {self.slow_pathway!r}"),
            (self.objective in OBJECTIVES, f"objective must be one of {OBJECTIVES}, not {self.objective!r}"),
            (self.num_verbs >= 2, f"num_verbs must be >= 2, got {self.num_verbs}"),
            (self.objective != "verb_imu" or not (self.freeze_video or self.init_video),
             "freeze_video and init_video concern the video CNN, which objective 'verb_imu' does not have"),
            (self.init_video or not self.init_video_name,
             "init_video_name names the checkpoint of init_video, which is not set"),
        ) if not ok]
        if problems:
            raise ConfigError("; ".join(problems))

    def warmup(self) -> int:
        """The warm-up's length in steps: ``warmup_steps``, or with -1 :data:`WARMUP_SHARE` of ``steps``."""
        return self.warmup_steps if self.warmup_steps != AUTO else round(WARMUP_SHARE * self.steps)

    def resolved(self, init_slow_pathway: Callable[[str], str] | None = None) -> TrainConfig:
        """This config with every automatic value made explicit, as a run records it: ``warmup_steps``, and
        ``slow_pathway`` "auto": "stride" without ``init_video``, else ``init_slow_pathway(init_video)`` (the
        init's convention, read from the file: train/checkpoint.py); without that reader it stays "auto"."""
        pathway = self.slow_pathway
        if pathway == "auto" and not self.init_video:
            pathway = "stride"
        elif pathway == "auto" and init_slow_pathway is not None:
            pathway = init_slow_pathway(self.init_video)
        return dataclasses.replace(self, warmup_steps=self.warmup(), slow_pathway=pathway)

    # ------------------------------------------------------------------ dict / hash / overrides

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def sha256(self) -> str:
        """sha256 of the canonical JSON of every field except :data:`RUNTIME_KEYS`."""
        return config_sha256({k: v for k, v in self.to_dict().items() if k not in RUNTIME_KEYS})

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<config>") -> TrainConfig:
        """A saved config (a checkpoint's or a run's config.json): a field it lacks takes its
        :data:`LEGACY_VALUES` value (what such a run was trained with), else its default."""
        return cls().replace({**LEGACY_VALUES, **data}, source)

    def replace(self, changes: dict[str, Any], source: str = "<config>") -> TrainConfig:
        """A copy with ``changes`` (field -> value) type-checked and applied."""
        fixed = checked(changes, source)
        try:
            return dataclasses.replace(self, **fixed)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None

    def with_overrides(self, words: list[str]) -> TrainConfig:
        """Apply command-line ``key=value`` words (values parsed by the field's type)."""
        return self.replace(parse_overrides(words), "command line")

    def diff(self, other: TrainConfig) -> dict[str, tuple[Any, Any]]:
        """Fields whose values differ: name -> (self's, other's)."""
        a, b = self.to_dict(), other.to_dict()
        return {k: (a[k], b[k]) for k in a if a[k] != b[k]}


def _number_problems(cfg: TrainConfig) -> list[str]:
    """Every float field must be finite (no inf or nan) and every int field a signed 64-bit integer (the seed
    one in 0..:data:`MAX_SEED`)."""
    out = []
    for name, typ in _field_types().items():
        value = getattr(cfg, name)
        if typ is float and isinstance(value, float) and not math.isfinite(value):
            out.append(f"{name} must be a finite number (not inf or nan), got {value}")
        elif name == "seed" and isinstance(value, int) and not 0 <= value <= MAX_SEED:
            out.append(f"seed must be an integer in 0..{MAX_SEED} (2**63 - 1), got {value}")
        elif typ is int and isinstance(value, int) and not -2**63 <= value < 2**63:
            out.append(f"{name} must be an integer in -2**63..2**63 - 1, got {value}")
    return out


def _field_types() -> dict[str, type]:
    hints = typing.get_type_hints(TrainConfig)
    return {f.name: hints[f.name] for f in dataclasses.fields(TrainConfig)}


def checked(changes: dict[str, Any], source: str) -> dict[str, Any]:
    """``changes`` with every key known and every value of its field's type (ints widened to float)."""
    types = _field_types()
    out = {}
    for key, value in changes.items():
        _check_known(key, types, source)
        out[key] = _check_type(key, value, types[key], source)
    return out


def parse_overrides(words: list[str]) -> dict[str, Any]:
    """Command-line ``key=value`` words -> {field: value}, each value parsed by its field's type."""
    types = _field_types()
    changes: dict[str, Any] = {}
    for word in words:
        key, sep, text = word.partition("=")
        if not sep or not key:
            raise ConfigError(f"command line: {word!r} is not key=value")
        _check_known(key, types, "command line")
        changes[key] = _parse(key, text, types[key])
    return changes


def _check_known(key: str, types: dict[str, type], source: str) -> None:
    if key not in types and key in FORMER_KEYS:
        raise ConfigError(f"{source}: {key!r} is not a training setting: the clip geometry is the build's "
                          f"(manifest.json config.geometry), checked against the model when training starts; "
                          f"set it when building (egoimu build --config, section 'geometry')")
    if key not in types:
        close = difflib.get_close_matches(key, list(types), n=3)
        hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
        raise ConfigError(f"{source}: unknown config key {key!r}{hint} (known: {', '.join(types)})")


def _check_type(key: str, value: Any, typ: type, source: str) -> Any:
    if typ is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, typ) and not (typ is int and isinstance(value, bool)):
        return value
    raise ConfigError(f"{source}: {key} must be {typ.__name__}, got {type(value).__name__} {value!r}")


def _parse(key: str, text: str, typ: type) -> Any:
    try:
        if typ is bool:
            low = text.strip().lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError
        return typ(text)
    except ValueError:
        raise ConfigError(f"command line: {key}={text!r} is not a valid {typ.__name__}") from None


PRESETS: dict[str, TrainConfig] = {
    "paper": TrainConfig(temperature=1.0, learnable_temperature=False, model="full", accl_dc=True,
                         small_motion=False, imu_batchnorm=False),
    "default": TrainConfig(),
}


def read_config_file(path: str | Path) -> dict[str, Any]:
    """A YAML/JSON mapping of fields (or a run's config.json, whose ``config`` entry is used), unchecked."""
    try:
        data = load_yaml_file(path)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if isinstance(data, dict) and isinstance(data.get("config"), dict):
        data = data["config"]
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of config keys")
    return dict(data or {})


def geometry_problems(cfg: TrainConfig, geometry: ClipGeometry) -> list[str]:
    """Why the model ``cfg`` describes cannot take clips of ``geometry`` (a build's), each naming the fields:
    the contract's encoder rules (SlowFast's alpha, the frame size, VGG16's poolings) and, for ``--model small``,
    ``small_frames <= frames`` and divisible by SlowFast's alpha (both slow pathways then see small_frames / alpha
    frames, as the fusion needs). Empty when training can start."""
    out = geometry.encoder_problems()
    if cfg.model == "small" and cfg.small_frames > geometry.frames:
        out.append(f"small_frames = {cfg.small_frames} > the build's {geometry.frames} frames a clip")
    if cfg.model == "small" and cfg.small_frames % SLOWFAST_ALPHA:
        out.append(f"small_frames = {cfg.small_frames} must be divisible by SlowFast's alpha = {SLOWFAST_ALPHA}")
    return out


def data_config(cfg: TrainConfig, *, train: bool = True, jpeg_bytes: bool = False) -> DataConfig:
    """The loader settings of ``cfg`` (no flips outside training); ``jpeg_bytes``: JPEG frames stay undecoded
    (``jpeg_decode`` resolved to device, :func:`egoimu.train.jpeg_device.resolve_jpeg_decode`)."""
    return DataConfig(batch_size=cfg.batch_size, num_workers=cfg.num_workers, seed=cfg.seed,
                      hflip=cfg.hflip if train else 0.0, spec_norm=cfg.spec_norm, jpeg_bytes=jpeg_bytes)


def config_record(cfg: TrainConfig, **extra: Any) -> str:
    """The JSON text of RUN/config.json: the config, its sha256, and ``extra`` (data root, manifest, ...)."""
    return json.dumps({"config": cfg.to_dict(), "config_sha256": cfg.sha256(), **extra}, indent=2) + "\n"


@functools.lru_cache(maxsize=1)
def field_docs() -> dict[str, str]:
    """Each TrainConfig field's comment in this module's source (from ``paper``/``ours`` on, continuation lines
    ``#   ...`` joined): the one description, shown by ``egoimu train --help-config`` and ``--print-config``."""
    source = inspect.getsource(TrainConfig)
    lines = source.splitlines()
    cls = ast.parse(source).body[0]
    assert isinstance(cls, ast.ClassDef)
    docs = {}
    for node in cls.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            parts = [lines[node.lineno - 1].partition("#")[2].strip()]
            for line in lines[node.lineno:]:
                if not line.strip().startswith("#   "):
                    break
                parts.append(line.strip()[1:].strip())
            docs[node.target.id] = " ".join(parts)
    return docs


def help_config() -> str:
    """Every TrainConfig field: name, type, the ``default`` and ``paper`` presets' values, and what it is."""
    default, paper = PRESETS["default"], PRESETS["paper"]
    out = ["TrainConfig fields (set any with key=value, or in a --config YAML file); 'paper' = stated in "
           "arXiv 2110.01680, 'ours' = egoimu's choice:", ""]
    for name, typ in _field_types().items():
        value, theirs = getattr(default, name), getattr(paper, name)
        preset = f"default {value!r}" + (f", paper preset {theirs!r}" if theirs != value else "")
        runtime = "  (runtime: not hashed, may change on --resume)" if name in RUNTIME_KEYS else ""
        out += [f"  {name} ({typ.__name__}; {preset}){runtime}", f"      {field_docs()[name]}"]
    return "\n".join(out) + "\n"


def config_yaml(cfg: TrainConfig, header: str = "") -> str:
    """``cfg`` as YAML that ``--config`` reads back: one ``field: value`` line each, in field order, with the
    field's description as a comment (an automatic warm-up, -1, says the count it resolves to); ``header`` (a
    line) first, as a comment."""
    lines = [f"# {header}"] if header else []
    for name, value in cfg.to_dict().items():
        text = yaml.safe_dump({name: value}, default_flow_style=True, width=1 << 16).strip()
        auto = f"auto: {cfg.warmup()} at steps {cfg.steps}; " if name == "warmup_steps" and value == AUTO else ""
        lines.append(f"{text.removeprefix('{').removesuffix('}')}  # {auto}{field_docs()[name]}")
    return "\n".join(lines) + "\n"


def field_source(name: str) -> str:
    """"paper" or "ours": how a TrainConfig field's comment begins (a comment naming both, e.g. ``model``'s
    "paper: ...; small is ours", counts as the paper's)."""
    return "paper" if field_docs()[name].startswith("paper") else "ours"


def settings_table() -> str:
    """README's settings table (Markdown), generated from the field comments and :data:`PRESETS`: every
    TrainConfig field with the ``default`` and ``paper`` presets' values (bold where they differ), paper/ours and
    its description, then the list of fields in which the presets differ. ``python -m egoimu.train.config``
    prints it; tests/train/test_config_table.py fails when README's copy drifts from it."""
    default, paper = PRESETS["default"], PRESETS["paper"]
    differ = default.diff(paper)
    rows = ["| field | `default` preset | `paper` preset | source | what it is |", "|---|---|---|---|---|"]
    for name in _field_types():
        values = [f"`{json.dumps(getattr(cfg, name))}`" for cfg in (default, paper)]
        if name in differ:
            values = [f"**{v}**" for v in values]
        doc = field_docs()[name].replace("|", "\\|")
        rows.append(f"| `{name}` | {values[0]} | {values[1]} | {field_source(name)} | {doc} |")
    listing = ", ".join(f"`{name}`" for name in differ)
    return "\n".join([*rows, "", f"The presets differ in {len(differ)} fields: {listing}."]) + "\n"


if __name__ == "__main__":
    print(settings_table(), end="")
