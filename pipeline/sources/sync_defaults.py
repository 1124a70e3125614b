"""Each source's default ``--sync`` mode and its prior ("assumed") sync model, stated once, with the reason.

``egoimu build`` prints the line of :func:`describe` at the start, records the mode in recordings.csv
(``sync_mode``) and manifest.json (``sync``: ``mode``, ``chosen_by``, ``prior``); an explicit ``--sync`` (or a
config file's ``sync_mode``) overrides the default.
"""

from __future__ import annotations

from dataclasses import dataclass

#: the prior models (``t_video = offset + scale · t_imu``, before any measurement)
DURATION_RATIO = "duration-ratio"  # offset 0, scale = video duration / IMU span
CONTAINER_TIMELINE = "container-timeline"  # offset 0, scale 1: the IMU times are already on the MP4's timeline
#: offset 0, scale 1 as documented by the dataset (Ego4D's canonical_timestamp_ms), and the IMU need not span the
#: video (trimmed parts, components without IMU): a clip without IMU under it is rejected alone (``imu_window``)
CANONICAL_TIMELINE = "canonical-timeline"


@dataclass(frozen=True)
class SyncDefault:
    """A source's default ``--sync`` mode, its prior model, and why."""

    mode: str  # assumed | auto
    prior: str  # DURATION_RATIO | CONTAINER_TIMELINE
    reason: str


SYNC_DEFAULTS: dict[str, SyncDefault] = {
    "epic": SyncDefault(
        "assumed", DURATION_RATIO,
        "EPIC-KITCHENS' published CSVs: offset 0 (GoPro starts telemetry with the recording), scale = video "
        "duration / IMU span (the payload quirk's Milliseconds carry the telemetry clock's error); the measured "
        "sync is not verified on a real EPIC video+IMU pair here, so the paper's data is not changed silently: "
        "--sync auto measures it, egoimu audit --sync checks a build"),
    "gopro": SyncDefault(
        "auto", CONTAINER_TIMELINE,
        "GPMF sample times are already on the MP4's timeline (offset 0, scale 1; the duration ratio would be a "
        "small wrong correction: the IMU span differs from the video's by up to a sample plus TIMO); auto checks "
        "that by measurement and keeps it, recorded, when not confident"),
    "ego4d": SyncDefault(
        "assumed", CANONICAL_TIMELINE,
        "Ego4D documents canonical_timestamp_ms as the time on the canonical video's timeline (offset 0, scale 1), "
        "and its IMU may cover only parts of a video (those clips are rejected, not the video); no real Ego4D "
        "video+IMU pair is here to verify the measured sync on, so the documented timeline is kept: --sync auto "
        "measures it, egoimu audit --sync checks a build"),
    "dogcentric": SyncDefault("assumed", DURATION_RATIO, "video only: no IMU to sync"),
}


def sync_default(source: str) -> SyncDefault:
    """The default of ``source`` (``epic``, ``gopro``, ``ego4d``, ``dogcentric``)."""
    return SYNC_DEFAULTS[source]


def describe(source: str, mode: str, chosen_by: str) -> str:
    """The build's opening line about its sync: the mode, who chose it and, for a source's default, why."""
    d = sync_default(source)
    if chosen_by == "default":
        return f"[sync] --sync {mode} (the default of --source {source}; prior: {d.prior}): {d.reason}"
    return f"[sync] --sync {mode} (from {chosen_by}; --source {source}'s default is {d.mode}, prior {d.prior})"


def sync_record(source: str, chosen_by: str) -> dict[str, str]:
    """manifest.json ``sync``'s record of the choice: who chose the mode (``default``, ``--sync`` or the config
    file) and the prior model of ``source``."""
    return {"chosen_by": chosen_by, "source": source, "prior": sync_default(source).prior}
