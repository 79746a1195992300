"""Registries of engines, sources and sinks; `input` and `output` parsed once at validation; the image-sequence source."""
from __future__ import annotations

from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from bgblur_core import segment, settings as schema, sinks, sources
from bgblur_core.settings import Input, Output, SettingsError, validate
from bgblur_core.sources import ImageSequence, open_path, open_source
from bgblur_core.stages import StageError


# -- engines -----------------------------------------------------------------------------------
def test_every_engine_in_the_schema_is_registered():
    assert set(segment.ENGINES) == set(schema.ENGINES)


def test_an_unknown_engine_is_one_line_listing_the_registered_ones():
    with pytest.raises(StageError) as e:
        segment.make_segmenter(SimpleNamespace(engine="magic"))
    assert str(e.value) == f"engine: no engine named 'magic'; registered: {', '.join(segment.ENGINES)}"


def test_a_registered_engine_is_made_from_the_settings(monkeypatch):
    monkeypatch.setitem(segment.ENGINES, "const", lambda s: ("made for", s.engine))
    assert segment.make_segmenter(SimpleNamespace(engine="const")) == ("made for", "const")
    seg = segment.make_segmenter(validate(engine="hsv"))
    assert type(seg).__name__ == "HsvSegmenter"


# -- input ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, parsed", [
    ("auto", Input("auto")), (" synthetic ", Input("synthetic")), ("2", Input("camera", 2)),
    ("/dev/video4", Input("camera", "/dev/video4")), ("a/photo.JPG", Input("image", "a/photo.JPG")),
    ("clip.mp4", Input("video", "clip.mp4")), ("frames/%05d.jpg", Input("images", "frames/%05d.jpg")),
])
def test_input_is_parsed_once_at_validation(text, parsed):
    assert validate(input=text).input_spec == parsed


def test_a_folder_input_is_an_image_sequence(tmp_path):
    assert validate(input=str(tmp_path)).input_spec == Input("images", str(tmp_path))


def test_an_empty_input_is_one_line_at_validation():
    with pytest.raises(SettingsError, match=r"^input: empty; use auto, synthetic, a camera index"):
        validate(input="  ")


def test_an_unknown_source_kind_is_one_line_listing_the_registered_ones(monkeypatch):
    monkeypatch.delitem(sources.SOURCES, "synthetic")
    with pytest.raises(StageError) as e:
        open_source(validate(input="synthetic"), realtime=False)
    assert str(e.value) == f"input: no source for 'synthetic' inputs; registered: {', '.join(sources.SOURCES)}"


# -- output --------------------------------------------------------------------------------------
def test_output_is_parsed_once_at_validation_in_order():
    assert validate().outputs == (Output("auto"),) and Output("auto").live
    s = validate(output=" virtualcam, obs-stream , obs-stream:0,preview,null, out/a.MP4, b.avi, c.png, d.webp,")
    assert s.outputs == (Output("virtualcam"), Output("obs-stream", port=schema.OBS_STREAM_PORT),
                         Output("obs-stream", port=0), Output("preview"), Output("null"), Output("video", "out/a.MP4"),
                         Output("video", "b.avi"), Output("image", "c.png"), Output("image", "d.webp"))
    assert [o.live for o in s.outputs] == [True, True, True, True, False, False, False, False, False]


def test_live_outputs_make_sources_pace_themselves():
    assert sinks.is_live(validate(output="out.mp4, preview").outputs)
    assert sinks.is_live(validate(output="obs-stream:9000").outputs)
    assert not sinks.is_live(validate(output="a.png,null").outputs)


@pytest.mark.parametrize("text, message", [
    ("obs-stream:abc", "output: 'obs-stream:abc' has a bad port; expected obs-stream or obs-stream:PORT with PORT "
                       "0..65535 (0: any free port)"),
    ("obs-stream:70000", "output: 'obs-stream:70000' has a bad port"),
    ("foo.xyz", "output: 'foo.xyz' is not a known output; use auto, virtualcam, obs-stream[:PORT], preview, null, "
                "or a .mp4/.avi/.png/.jpg path"),
    ("virtualcam,vcam", "output: 'vcam' is not a known output"),
    (" , ", "output: empty; use auto, virtualcam"),
    ("grey.pgm", "output: 'grey.pgm': .pgm holds grey images only"),
])
def test_a_bad_output_is_one_line_at_validation(text, message):
    with pytest.raises(SettingsError) as e:
        validate(output=text)
    assert str(e.value).startswith(message) and "\n" not in str(e.value)


def test_a_bad_output_over_a_settings_change_leaves_the_settings_as_they_were():
    s = validate(output="null")
    with pytest.raises(SettingsError):
        s.replace({"output": "obs-stream:x"})
    assert s.outputs == (Output("null"),)


def test_an_unknown_sink_kind_is_one_line_listing_the_registered_ones(monkeypatch):
    monkeypatch.delitem(sinks.SINKS, "null")
    with pytest.raises(StageError) as e:
        sinks.open_sinks(validate(output="null"), (64, 48))
    assert str(e.value) == f"output: no sink for 'null' outputs; registered: {', '.join(sinks.SINKS)}"


def test_a_registered_sink_gets_its_parsed_output(monkeypatch, tmp_path):
    got = []
    monkeypatch.setitem(sinks.SINKS, "image", lambda spec, settings, size, fps: got.append((spec, size, fps)) or spec)
    opened = sinks.open_sinks(validate(output=f"{tmp_path / 'x.png'},null", fps=12), (64, 48))
    assert got == [(Output("image", str(tmp_path / "x.png")), (64, 48), 12)]
    assert opened[0] == got[0][0] and opened[1].name == "null"


def test_one_list_of_image_extensions():
    assert schema.IMAGE_EXTS is sources.IMAGE_EXTS
    assert schema.is_image("X.TIFF") and not schema.is_image("x.mp4")


# -- the image-sequence source -------------------------------------------------------------------
def numbered(n: int) -> np.ndarray:
    return np.full((12, 16, 3), n * 20, np.uint8)


def number_of(frame: np.ndarray) -> int:
    return int(frame[0, 0, 0]) // 20


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "frames"
    d.mkdir()
    for n in (3, 1, 2, 10):  # written out of order; read back in name order
        cv2.imwrite(str(d / f"f{n:02d}.png"), numbered(n))
    cv2.imwrite(str(d / "f01_mask.png"), np.zeros((12, 16), np.uint8))  # ground truth is not a frame
    (d / "notes.txt").write_text("not an image")
    return d


def read_all(source, limit: int = 20) -> list[int]:
    out = []
    while len(out) < limit and (got := source.read()) is not None:
        out.append(number_of(got[0]))
    return out


def test_a_folder_is_read_in_name_order_leaving_out_masks(folder):
    with ImageSequence(str(folder)) as src:
        assert src.size == (16, 12) and src.name == f"images {folder}"
        assert read_all(src) == [1, 2, 3, 10]
        assert src.path == str(folder / "f10.png")


def test_a_folder_loops_when_asked(folder):
    with ImageSequence(str(folder), loop=True) as src:
        assert read_all(src, 9) == [1, 2, 3, 10, 1, 2, 3, 10, 1]


def test_a_numbered_pattern_is_read_in_number_order(tmp_path):
    for n in (9, 10, 11):
        cv2.imwrite(str(tmp_path / f"{n}.png"), numbered(n))
    cv2.imwrite(str(tmp_path / "x9.png"), numbered(1))  # does not match the pattern
    with open_path(str(tmp_path / "%d.png")) as src:
        assert isinstance(src, ImageSequence) and read_all(src) == [9, 10, 11]


def test_an_image_that_does_not_decode_is_skipped_and_counted(folder):
    (folder / "f02.png").write_bytes(b"broken")
    with ImageSequence(str(folder)) as src:
        assert read_all(src) == [1, 3, 10] and src.skipped == 1


def test_the_run_input_setting_opens_a_folder_as_an_image_sequence(folder):
    with open_source(validate(input=str(folder), output="null", loop=False), realtime=False) as src:
        assert isinstance(src, ImageSequence) and read_all(src) == [1, 2, 3, 10]


@pytest.mark.parametrize("make, why", [
    (lambda d: d, "no images in it"),
    (lambda d: d / "%03d.jpg", "no images in it"),
])
def test_an_empty_sequence_is_one_line(tmp_path, make, why):
    spec = str(make(tmp_path))
    with pytest.raises(StageError) as e:
        ImageSequence(spec)
    assert str(e.value) == f"input: cannot read {spec!r}: {why}"


def test_open_path_reads_an_image_once_or_looped(tmp_path):
    path = tmp_path / "one.png"
    cv2.imwrite(str(path), numbered(4))
    with open_path(str(path)) as src:
        assert read_all(src) == [4]
    with open_path(str(path), loop=True) as src:
        assert read_all(src, 3) == [4, 4, 4]


def test_open_path_refuses_a_camera():
    with pytest.raises(StageError, match="is not a file, a folder of images or a pattern"):
        open_path("0")


def test_a_scene_preset_with_a_bad_output_is_refused_at_validation():
    with pytest.raises(SettingsError, match=r"^scene_presets\['BRB'\]: output: 'x.xyz' is not a known output"):
        validate(scene_presets={"BRB": {"output": "x.xyz"}})
    assert validate(scene_presets={"BRB": {"output": "null"}}).scene_presets == {"BRB": {"output": "null"}}


def test_a_sequence_of_mixed_sizes_is_scaled_to_the_first_unless_asked_not_to(folder):
    cv2.imwrite(str(folder / "f02.png"), np.full((24, 32, 3), 40, np.uint8))
    with ImageSequence(str(folder)) as src:
        shapes = [src.read()[0].shape for _ in range(4)]
    assert shapes == [(12, 16, 3)] * 4
    with ImageSequence(str(folder), same_size=False) as src:
        shapes = [src.read()[0].shape for _ in range(4)]
    assert shapes == [(12, 16, 3), (24, 32, 3), (12, 16, 3), (12, 16, 3)]
