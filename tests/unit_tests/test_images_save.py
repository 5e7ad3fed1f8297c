"""Saving results: unique safe names, extension from the format, never outside the directory."""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path

import pytest
from PIL import Image

from arli import ArliValidationError, GeneratedImage
from arli.images import parse_image_response, safe_filename


def image(fmt: str = "JPEG", colour: tuple[int, int, int] = (10, 20, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buf, format=fmt)
    return buf.getvalue()


def test_default_names_are_unique_and_carry_seed_index_hash_and_format(tmp_path: Path) -> None:
    jpeg, png = image("JPEG"), image("PNG", (1, 2, 3))
    result = parse_image_response(
        {
            "images": [base64.b64encode(d).decode() for d in (jpeg, png)],
            "info": {"seed": 42, "all_seeds": [42, 43]},
        }
    )
    paths = result.save(tmp_path)
    assert [p.parent for p in paths] == [tmp_path.resolve()] * 2
    first, second = (p.name for p in paths)
    assert first.startswith("arli-42-0-")
    assert first.endswith(".jpg")
    assert second.startswith("arli-43-1-")
    assert second.endswith(".png")
    assert paths[0].read_bytes() == jpeg
    assert result.paths == paths
    assert [img.path for img in result] == paths
    assert f"Saved to:\n- {paths[0]}\n- {paths[1]}" in str(result)


def test_saving_again_reuses_identical_files_and_never_overwrites_others(tmp_path: Path) -> None:
    data = image()
    img = GeneratedImage(data=data, mime_type="image/jpeg", seed=1)
    first = img.save(tmp_path)
    assert img.save(tmp_path) == first  # same bytes: same file
    other = GeneratedImage(data=image(colour=(200, 0, 0)), mime_type="image/jpeg", seed=1)
    named = other.save(tmp_path, name=first.name)
    assert named != first
    assert named.name == first.stem + "-1.jpg"
    assert first.read_bytes() == data
    replaced = other.save(tmp_path, name=first.name, overwrite=True)
    assert replaced == first
    assert first.read_bytes() == other.data


def test_directory_is_created(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b"
    path = GeneratedImage(data=image(), mime_type="image/jpeg").save(target)
    assert path.parent == target.resolve()
    assert path.name.startswith("arli-0-")  # no seed part when unknown


@pytest.mark.parametrize(
    "name",
    [
        "../escape.jpg",
        "..",
        "a/../../b.jpg",
        "sub/dir.jpg",
        "..\\win.jpg",
        "/etc/passwd",
        "C:evil.jpg",
        "C:\\Windows\\x.jpg",
        "nul\x00byte.jpg",
        "tab\tname.jpg",
        "   ",
    ],
)
def test_names_that_leave_the_directory_are_refused(tmp_path: Path, name: str) -> None:
    img = GeneratedImage(data=image(), mime_type="image/jpeg")
    with pytest.raises(ArliValidationError) as info:
        img.save(tmp_path / "out", name=name)
    assert info.value.field == "name"
    assert not (tmp_path / "escape.jpg").exists()


def test_extension_always_comes_from_the_detected_format() -> None:
    assert safe_filename("photo.png", "jpg") == "photo.jpg"
    assert safe_filename("photo", "webp") == "photo.webp"
    assert safe_filename("my cat: the sequel!.exe", "png") == "my-cat-the-sequel.png"
    assert safe_filename(".hidden", "jpg") == "hidden.jpg"


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_symlinks_are_never_written_through(tmp_path: Path) -> None:
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(b"precious")
    out = tmp_path / "out"
    out.mkdir()
    img = GeneratedImage(data=image(), mime_type="image/jpeg", seed=5)
    (out / img.default_name()).symlink_to(outside)
    (out / "chosen.jpg").symlink_to(outside)
    dangling = out / "dangling.jpg"
    dangling.symlink_to(tmp_path / "nowhere.jpg")
    for kwargs in (
        {},
        {"name": "chosen.jpg"},
        {"name": "chosen.jpg", "overwrite": True},
        {"name": "dangling"},
    ):
        path = img.save(out, **kwargs)  # type: ignore[arg-type]
        assert not path.is_symlink()
        assert path.parent == out.resolve()
        assert path.read_bytes() == img.data
    assert outside.read_bytes() == b"precious"
    assert not (tmp_path / "nowhere.jpg").exists()


def test_unsafe_prefix_is_cleaned(tmp_path: Path) -> None:
    img = GeneratedImage(data=image(), mime_type="image/jpeg")
    path = img.save(tmp_path, prefix="../../x")
    assert path.parent == tmp_path.resolve()
    assert path.name.startswith("x-0-")


def test_a_destination_with_an_image_suffix_is_a_file_name(tmp_path: Path) -> None:
    jpeg = image("JPEG")
    path = GeneratedImage(data=jpeg, mime_type="image/jpeg").save(tmp_path / "out" / "fox.jpg")
    assert path == (tmp_path / "out" / "fox.jpg").resolve()
    assert path.is_file()
    assert path.read_bytes() == jpeg
    # the extension still follows the bytes, as with name=
    png = GeneratedImage(data=image("PNG"), mime_type="image/png").save(tmp_path / "cat.jpeg")
    assert png.name == "cat.png"
    assert not (tmp_path / "cat.jpeg").exists()


def test_an_existing_directory_with_an_image_suffix_stays_a_directory(tmp_path: Path) -> None:
    folder = tmp_path / "shots.png"
    folder.mkdir()
    path = GeneratedImage(data=image("PNG"), mime_type="image/png", seed=3).save(folder)
    assert path.parent == folder.resolve()
    assert path.name.startswith("arli-3-0-")


def test_several_images_saved_to_one_file_name_are_numbered(tmp_path: Path) -> None:
    first, second = image("JPEG"), image("JPEG", (200, 0, 0))
    result = parse_image_response(
        {"images": [base64.b64encode(d).decode() for d in (first, second)], "info": {}}
    )
    paths = result.save(tmp_path / "fox.jpg")
    assert [p.name for p in paths] == ["fox.jpg", "fox-1.jpg"]
    assert [p.read_bytes() for p in paths] == [first, second]
