from egoimu.manifests.shardfmt import ID_WIDTHS, encode_id
from egoimu.pipeline.sources.ids import BAD_ID, ID_TOO_LONG, bad_chars, id_problem, printable, too_long


def test_printable_makes_any_id_writable_as_utf8():
    raw = b"P0\xe91\x00\n".decode("utf-8", "surrogateescape")
    assert printable(raw) == "P0\ufffd1\\x00\\x0a"
    printable(raw).encode("utf-8")


def test_what_passes_fits_the_shard_fields():
    for name, width in ID_WIDTHS.items():
        fits = "P" * width
        assert id_problem({name: fits}) is None and encode_id(fits, width, name)  # the writer accepts it
        assert too_long({name: fits + "1"})[0] == ID_TOO_LONG
    assert too_long({"participant_id": "é" * 8}) is None and too_long({"participant_id": "é" * 8 + "x"})


def test_path_ids_must_be_plain_file_name_parts():
    for bad in ("../x", ".", "..", "a/b", "a\\b", "", "-x", "P 01"):
        assert bad_chars({"video_id": bad})[0] == BAD_ID, bad
    assert bad_chars({"narration_id": "P01_101_0 a/b"}) is None  # only participant and video ids are paths
    assert bad_chars({"narration_id": "x\x00"}) == (BAD_ID, r"narration_id 'x\x00' holds a control character")
    assert bad_chars({"participant_id": "P01", "video_id": "P01_101.v2-b"}) is None
