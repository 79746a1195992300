"""Model acquisition: the registry, a real download from PyPI, checksums, atomic cache writes, errors."""
from __future__ import annotations

import dataclasses
import os

import pytest

from bgblur_core import models
from bgblur_core.stages import StageError
from _seg_helpers import bgblur


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> str:
    """The real mediapipe wheel, downloaded once with pip (pip's own cache makes reruns quick)."""
    return models.download_wheel(str(tmp_path_factory.mktemp("wheel")))


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BGBLUR_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_registry_names_each_model_file_size_and_checksum():
    assert set(models.MODELS) == {"selfie", "selfie-landscape", "rvm"}
    assert models.MODELS["selfie"].input_size == (256, 256)
    assert models.MODELS["selfie-landscape"].input_size == (256, 144)
    for spec in (models.MODELS["selfie"], models.MODELS["selfie-landscape"]):
        assert spec.member.startswith("mediapipe/modules/selfie_segmentation/") and spec.member.endswith(".tflite")
        assert len(spec.sha256) == 64 and "Apache-2.0" in spec.licence


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("BGBLUR_CACHE_DIR", str(tmp_path / "a"))
    assert models.cache_dir() == tmp_path / "a"
    monkeypatch.delenv("BGBLUR_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert models.cache_dir() == tmp_path / "xdg" / "bgblur" / "models"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert models.cache_dir() == models.Path(os.path.expanduser("~")) / ".cache" / "bgblur" / "models"


def test_models_come_from_the_real_wheel_with_their_pinned_checksums(wheel, cache):
    paths = models.fetch(["selfie", "selfie-landscape"], wheel=wheel)
    assert sorted(p.name for p in paths) == ["selfie_segmentation.tflite", "selfie_segmentation_landscape.tflite"]
    for spec in (models.MODELS["selfie"], models.MODELS["selfie-landscape"]):
        assert models.is_cached(spec)
        assert models.sha256_of(models.cached_path(spec).read_bytes()) == spec.sha256
    assert sorted(os.listdir(cache)) == sorted(p.name for p in paths)  # only the two models: no temp files
    assert models.model_path("selfie", fetch_missing=False) == cache / "selfie_segmentation.tflite"


def test_one_download_caches_every_model_of_its_wheel_but_the_opt_in_ones(wheel, cache):
    assert models.fetch(["selfie"], wheel=wheel) == [cache / "selfie_segmentation.tflite"]
    assert sorted(os.listdir(cache)) == ["selfie_segmentation.tflite", "selfie_segmentation_landscape.tflite"]


def test_a_checksum_mismatch_caches_nothing_and_names_the_command(wheel, cache, monkeypatch):
    bad = dataclasses.replace(models.MODELS["selfie"], sha256="0" * 64)
    monkeypatch.setitem(models.MODELS, "selfie", bad)
    with pytest.raises(StageError) as e:
        models.fetch(wheel=wheel)
    msg = str(e.value)
    assert "checksum" in msg and "bgblur models fetch" in msg and "\n" not in msg
    assert not cache.exists() or os.listdir(cache) == []


def test_no_network_is_a_one_line_error_naming_the_command(cache, tmp_path, monkeypatch):
    empty = tmp_path / "no-wheels"
    empty.mkdir()
    for key, value in {"PIP_CONFIG_FILE": os.devnull, "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
                       "PIP_FIND_LINKS": str(empty), "PIP_EXTRA_INDEX_URL": "", "PIP_RETRIES": "0",
                       "PIP_TIMEOUT": "3", "PIP_DEFAULT_TIMEOUT": "3", "PIP_NO_CACHE_DIR": "1"}.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(StageError) as e:
        models.model_path("selfie-landscape")  # first use fetches automatically
    msg = str(e.value)
    assert "bgblur models fetch" in msg and "\n" not in msg
    assert not cache.exists() or os.listdir(cache) == []


def test_a_corrupt_cached_model_is_not_used(cache):
    cache.mkdir(parents=True)
    (cache / "selfie_segmentation.tflite").write_bytes(b"not a model")
    assert not models.is_cached(models.MODELS["selfie"])
    with pytest.raises(StageError, match="bgblur models fetch"):
        models.model_path("selfie", fetch_missing=False)


def test_write_atomic_leaves_no_half_written_file(tmp_path, monkeypatch):
    target = tmp_path / "m.tflite"
    models.write_atomic(target, b"abc")
    assert target.read_bytes() == b"abc"

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(models.os, "replace", broken_replace)
    with pytest.raises(OSError):
        models.write_atomic(tmp_path / "n.tflite", b"abc")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.tflite"]


def test_models_list_and_fetch_from_the_cli(real_models):
    r = bgblur("models", "fetch")  # the step CI runs before the tests: quick once cached
    assert r.returncode == 0, r.stderr
    assert r.stdout.count(".tflite") == 2
    r = bgblur("models", "list")
    assert r.returncode == 0, r.stderr
    assert "selfie-landscape" in r.stdout and "256x144" in r.stdout and r.stdout.count("cached") >= 2
    r = bgblur("models", "fetch", "nonsense")
    assert r.returncode == 2 and "unknown model" in r.stderr
