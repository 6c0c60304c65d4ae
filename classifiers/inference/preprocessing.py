"""Turn an RGB image into a model input, as the version's input spec says.

The spec travels with each model version, so an uploaded model trained with
another normalisation is served correctly. Preprocessing names:

- ``lite``: (x - 127) / 128, the EfficientNet-Lite convention.
- ``tf``: x / 127.5 - 1 (MobileNet, Inception style).
- ``torch``: ImageNet mean/std on x / 255.
- ``raw``: 0..255 floats, for models that normalise inside the graph.

Test-time augmentation (``"tta"``): ``"none"`` (the default) gives the
network one view of the photo; ``"flip"`` gives it two in one batch, the
photo and its mirror image, whose probabilities the pipeline averages. A cat
seen from the left is as much a cat seen from the right, so the two views
make different mistakes and their average makes fewer (at twice the work).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

_IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
_IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)

NORMALISERS = {
    "lite": lambda x: (x - 127.0) / 128.0,
    "tf": lambda x: x / 127.5 - 1.0,
    "torch": lambda x: (x / 255.0 - _IMAGENET_MEAN) / _IMAGENET_STD,
    "raw": lambda x: x,
}
RESAMPLING = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR}
TTA_VIEWS = {"none": 1, "flip": 2}


SIZE_RANGE = (32, 1024)


def validate_spec(spec: dict, *, size_optional: bool = False) -> None:
    """Refuse a spec that cannot be served. ``size_optional``: an upload may
    leave the size out, as validation reads it from the model's input shape."""
    size = spec.get("size")
    if not (size_optional and size is None) and (
        not isinstance(size, int)
        or isinstance(size, bool)
        or not SIZE_RANGE[0] <= size <= SIZE_RANGE[1]
    ):
        raise ValueError("input spec 'size' must be an integer between 32 and 1024")
    if spec.get("preprocessing") not in NORMALISERS:
        raise ValueError(f"input spec 'preprocessing' must be one of {sorted(NORMALISERS)}")
    crop = spec.get("crop", 1.0)
    if crop != "none" and (not isinstance(crop, int | float) or not 0.5 <= crop <= 1.0):
        raise ValueError("input spec 'crop' must be 'none' or between 0.5 and 1.0")
    if spec.get("resample", "bicubic") not in RESAMPLING:
        raise ValueError(f"input spec 'resample' must be one of {sorted(RESAMPLING)}")
    if spec.get("tta", "none") not in TTA_VIEWS:
        raise ValueError(f"input spec 'tta' must be one of {sorted(TTA_VIEWS)}")


def view_count(spec: dict) -> int:
    """How many views of one photo the network is given (see ``model_views``)."""
    return TTA_VIEWS[spec.get("tta", "none")]


def centre_crop_box(image: Image.Image, fraction: float) -> tuple[float, float, float, float]:
    """The centred square covering ``fraction`` of the short side."""
    width, height = image.size
    side = min(width, height) * fraction
    left, top = (width - side) / 2, (height - side) / 2
    return (left, top, left + side, top + side)


def to_model_input(image: Image.Image, spec: dict) -> np.ndarray:
    """One image -> float32 array of shape (size, size, 3)."""
    size = spec["size"]
    crop = spec.get("crop", 1.0)
    resized = image.convert("RGB").resize(
        (size, size),
        RESAMPLING[spec.get("resample", "bicubic")],
        box=None if crop == "none" else centre_crop_box(image, crop),
    )
    pixels = np.asarray(resized, dtype=np.float32)
    return NORMALISERS[spec["preprocessing"]](pixels).astype(np.float32)


def model_views(image: Image.Image, spec: dict) -> np.ndarray:
    """One image -> its views as a batch, (view_count(spec), size, size, 3).

    The first view is always the photo as it is (Grad-CAM explains that one);
    with ``"tta": "flip"`` the second is its mirror image.
    """
    x = to_model_input(image, spec)
    if view_count(spec) == 1:
        return x[None]
    return np.stack([x, x[:, ::-1, :]])


def merge_views(probabilities: np.ndarray, views: int) -> np.ndarray:
    """Rows of ``views`` consecutive views per photo -> one averaged row per photo."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if views == 1:
        return probabilities
    return probabilities.reshape(-1, views, probabilities.shape[-1]).mean(axis=1)
