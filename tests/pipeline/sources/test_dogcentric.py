from egoimu.pipeline.sources.dogcentric import (
    DUPLICATE_CLIP,
    NOT_A_CLIP,
    canonical_activity,
    dog_folds,
    scan_dogcentric,
)
from egoimu.pipeline.sources.ids import ID_TOO_LONG


def _touch(root, rel, data=b"x"):
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)


def test_aliases():
    assert canonical_activity("Look_at_Left") == "LookLeft"
    assert canonical_activity("Right") == "LookRight"
    assert canonical_activity("Play") == "Ball"
    assert canonical_activity("Ball") == "Ball"
    assert canonical_activity("Bark") is None


def test_scan_survives_raw_release_glitches(tmp_path):
    _touch(tmp_path, "Look_at_Right/LookRight_Ku_3_10_90.avi", b"a")
    _touch(tmp_path, "Turn_Right/LookRight_Ku_3_10_90.avi", b"a")
    _touch(tmp_path, "Shake/Shake__Ku_8_1100_1230.avi", b"b")
    _touch(tmp_path, "Car/Car_Hime_2_7700_7850.avi", b"c")
    _touch(tmp_path, "Car/Thumbs.db")
    _touch(tmp_path, "info.txt")
    clips, rej = scan_dogcentric(tmp_path)
    assert [c.clip_id for c in clips] == ["Car_Hime_2_7700_7850", "LookRight_Ku_3_10_90", "Shake_Ku_8_1100_1230"]
    look = next(c for c in clips if c.activity == "LookRight")
    assert look.path.startswith("Look_at_Right/")
    reasons = sorted((r.path, r.reason) for r in rej)
    assert reasons == [("Car/Thumbs.db", NOT_A_CLIP), ("Turn_Right/LookRight_Ku_3_10_90.avi", DUPLICATE_CLIP),
                       ("info.txt", NOT_A_CLIP)]
    assert len(clips) + len(rej) == 6  # every file accounted for


def test_three_ways_to_pair_four_dogs():
    folds = dog_folds()
    assert len(folds) == 3
    for a, b in folds:
        assert sorted(a + b) == ["Hime", "Ku", "Ringo", "Ryu"]
    assert len({frozenset(a) for a, _ in folds} | {frozenset(b) for _, b in folds}) == 6


def test_a_clip_id_longer_than_the_shard_fields_is_rejected(tmp_path):
    _touch(tmp_path, "Car/Car_Hime_2_7700_7850.avi", b"c")
    _touch(tmp_path, "Car/Car_Hime_2_7700_" + "7" * 40 + ".avi", b"d")
    clips, rej = scan_dogcentric(tmp_path)
    assert [c.clip_id for c in clips] == ["Car_Hime_2_7700_7850"]
    assert [(r.path, r.reason) for r in rej] == [("Car/Car_Hime_2_7700_" + "7" * 40 + ".avi", ID_TOO_LONG)]
    assert rej[0].detail.endswith("is 56 bytes (UTF-8); the shard's narration_id field holds 32")
