import numpy as np
import pytest
import torch
from PIL import Image

from spgd.checkpoints import sha256_of
from spgd.data import image_folder, load_image, mixture_samples
from spgd.priors import smooth_mixture


def write_png(path, array):
    Image.fromarray(array.astype(np.uint8)).save(path)


def test_image_folder_sorts_slices_resizes_and_crops(tmp_path):
    for name, value in [("b.png", 100), ("a.png", 0), ("c.png", 255)]:
        image = np.full((40, 80, 3), value)
        image[:, :10] = 255 - value  # a stripe at the left edge, well outside the centre crop
        write_png(tmp_path / name, image)
    (tmp_path / "notes.txt").write_text("not an image")
    images, manifest = image_folder(tmp_path, 20, start=1, count=2)
    assert [row["id"] for row in manifest] == ["b", "c"]
    assert manifest[0]["sha256"] == sha256_of(tmp_path / "b.png")
    assert images.shape == (2, 3, 20, 20) and images.dtype == torch.float32
    # shorter side 40 -> 20 (80 -> 40), the centre crop drops 10 px per side: the stripe is gone
    # tolerance: JPEG is lossy: a flat grey block decodes within a level or two of 100 (2 / 255 = 0.008 in [-1, 1])
    assert torch.allclose(images[0], torch.full_like(images[0], 100 / 255 * 2 - 1), atol=0.02)
    assert images.min() >= -1 and images.max() <= 1


def test_image_folder_errors_name_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        image_folder(tmp_path / "missing", 16)
    write_png(tmp_path / "a.png", np.zeros((16, 16, 3)))
    with pytest.raises(ValueError, match="asked for 5 images from index 0, found 1"):
        image_folder(tmp_path, 16, count=5)


def test_load_image_converts_grey_to_rgb(tmp_path):
    Image.fromarray(np.full((32, 32), 255, dtype=np.uint8)).save(tmp_path / "g.png")
    # tolerance: a constant image resized (bicubic weights sum to 1 in float32): exact to float32 rounding; default
    # rtol
    assert torch.allclose(load_image(tmp_path / "g.png", 16), torch.ones(3, 16, 16))


def test_sixteen_bit_palette_and_alpha_images_keep_their_values(tmp_path):
    """Known pixel values through each kind of file (no resize: 16 px read at 16)."""
    grey16 = np.full((16, 16), 32768, dtype=np.uint16)  # half of 65535, not white
    Image.fromarray(grey16).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode in ("I;16", "I")
    # tolerance: 16-bit level 32768 through float32 resizing of a constant: float32 rounding; default tolerances
    assert torch.allclose(load_image(tmp_path / "g16.png", 16), torch.full((3, 16, 16), 32768 / 65535 * 2 - 1))
    palette = Image.new("P", (16, 16))
    palette.putpalette([0, 0, 0, 200, 100, 50] + [0] * 762)
    palette.putpixel((3, 4), 1)
    palette.info["transparency"] = 0
    palette.save(tmp_path / "p.png")
    image = (load_image(tmp_path / "p.png", 16) + 1) / 2 * 255
    # tolerance: 8-bit levels read back on the 0..255 scale: exact up to float32 rounding of x / 255 * 2 - 1 and back
    assert torch.allclose(image[:, 4, 3], torch.tensor([200.0, 100.0, 50.0]), atol=1e-3)
    # tolerance: as above
    assert torch.allclose(image[:, 0, 0], torch.zeros(3), atol=1e-3)
    rgba = np.zeros((16, 16, 4), dtype=np.uint8)
    rgba[..., :3], rgba[..., 3] = (10, 20, 30), 0  # fully transparent: the colour is kept
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    image = (load_image(tmp_path / "a.png", 16) + 1) / 2 * 255
    # tolerance: as above: float32 rounding of 8-bit levels only
    assert torch.allclose(image[:, 5, 5], torch.tensor([10.0, 20.0, 30.0]), atol=1e-3)


def test_small_or_unreadable_images_are_refused_naming_the_file(tmp_path):
    write_png(tmp_path / "small.png", np.zeros((12, 20, 3)))
    with pytest.raises(ValueError, match=r"small.png is 20 x 12 px, smaller than image_size 16; set .*'upscale: true'"):
        load_image(tmp_path / "small.png", 16)
    assert load_image(tmp_path / "small.png", 16, upscale=True).shape == (3, 16, 16)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(ValueError, match="cannot read image .*broken.png"):
        load_image(tmp_path / "broken.png", 16)


def test_mixture_samples_are_seeded_and_hashed():
    prior = smooth_mixture(16)
    a, manifest = mixture_samples(prior, 3, seed=4)
    b, _ = mixture_samples(prior, 3, seed=4)
    assert torch.equal(a, b) and a.shape == (3, 1, 16, 16)
    assert [m["id"] for m in manifest] == ["synthetic_000", "synthetic_001", "synthetic_002"]
    assert len({m["sha256"] for m in manifest}) == 3


def test_exif_orientation_is_not_applied_as_upstream_and_is_named(tmp_path):
    """Upstream's loading ignores EXIF orientation, and so do we (the published numbers saw the
    stored pixels); the files that carry a rotation are named in a warning."""
    import warnings

    from PIL import Image

    from spgd.data import EXIF_ORIENTATION, exif_rotated, image_folder

    pixels = np.zeros((16, 32, 3), dtype=np.uint8)
    pixels[:, :16] = 255  # left half white: a 90-degree rotation would move it to the top or bottom
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6  # "rotate 90 degrees clockwise to display"
    Image.fromarray(pixels).save(tmp_path / "rotated.jpg", exif=exif, quality=100)
    Image.fromarray(pixels).save(tmp_path / "plain.jpg", quality=100)
    assert exif_rotated(sorted(tmp_path.iterdir())) == ["rotated.jpg"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        images, _ = image_folder(tmp_path, 16)
    assert "1 images carry an EXIF orientation, not applied (as upstream): rotated.jpg" in str(caught[0].message)
    assert torch.equal(images[0], images[1])  # both loaded as stored


def test_a_bad_intermediate_file_is_named(tmp_path):
    from spgd.pipeline.files import ResultFileError, read_result

    truncated = tmp_path / "shard0.pt"
    torch.save({"x": torch.zeros(3)}, truncated)
    truncated.write_bytes(truncated.read_bytes()[:100])
    with pytest.raises(ResultFileError, match=f"{truncated}: not a readable result file"):
        read_result(truncated)
    whole = tmp_path / "images.pt"
    torch.save({"images": torch.zeros(1)}, whole)
    with pytest.raises(ResultFileError, match=f"{whole}: lacks ids"):
        read_result(whole, ("images", "ids"))


def test_load_dataset_gives_each_kind_and_names_a_mismatched_mixture(tmp_path):
    """The dataset job's loading, from Python (spgd.pipeline.steps.load_dataset), written and read back."""
    from spgd.pipeline.files import read_manifest, read_result, write_dataset
    from spgd.pipeline.steps import load_dataset

    views, manifest = load_dataset({"kind": "held_out_photos", "count": 2, "image_size": 16, "start": 0}, seed=0)
    assert views.shape == (2, 3, 16, 16) and len(manifest) == 2
    mixture = {"type": "gmm_smooth", "side": 8}
    images, rows = load_dataset({"kind": "mixture_samples", "count": 3, "image_size": 8, "start": 1}, 0, mixture)
    first, _ = load_dataset({"kind": "mixture_samples", "count": 4, "image_size": 8, "start": 0}, 0, mixture)
    assert torch.equal(images, first[1:])  # start: the same draws, later ones
    with pytest.raises(ValueError, match="dataset faces: image_size 16 differs from the mixture prior's side 8"):
        load_dataset({"kind": "mixture_samples", "count": 1, "image_size": 16, "start": 0}, 0, mixture, "faces")
    write_dataset(images, rows, tmp_path / "images.pt", tmp_path / "manifest.csv")
    assert read_manifest(tmp_path / "manifest.csv") == rows
    assert read_result(tmp_path / "images.pt", ("images", "ids"))["ids"] == [row["id"] for row in rows]
