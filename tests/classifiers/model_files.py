"""Small Keras model files for the validation tests, built on the fly.

They take 32x32 images and answer over 1000 classes, like the ImageNet
demos' networks, but build and load in a fraction of a second.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SIZE = 32
SPEC = {"size": SIZE, "preprocessing": "lite", "crop": 1.0, "resample": "bicubic"}
LABELS = [f"class {i}" for i in range(1000)]


def _base(outputs: int = 1000, *, lambda_layer=False, nan: bool = False):
    import keras
    from keras import layers

    inputs = keras.Input((SIZE, SIZE, 3))
    x = layers.Conv2D(4, 3, activation="relu")(inputs)
    if lambda_layer:
        x = layers.Lambda(lambda_layer if callable(lambda_layer) else (lambda t: t * 1.0))(x)
    x = layers.GlobalAveragePooling2D()(x)
    dense = layers.Dense(outputs)
    x = dense(x)
    if nan:
        kernel, bias = dense.get_weights()
        dense.set_weights([np.full_like(kernel, np.nan), bias])
    return keras.Model(inputs, layers.Softmax()(x))


def valid(path: Path) -> Path:
    _base().save(path)
    return path


def with_lambda(path: Path) -> Path:
    _base(lambda_layer=True).save(path)
    return path


def with_code_that_leaves_a_mark(path: Path, marker: Path) -> Path:
    """A Lambda whose code writes ``marker`` whenever it runs (also while saving)."""
    code = eval(  # noqa: S307 - the lambda must be real source so Keras serialises it
        f"lambda t: (__import__('pathlib').Path({str(marker)!r}).write_text('ran'), t)[1]"
    )
    _base(lambda_layer=code).save(path)
    marker.unlink(missing_ok=True)
    return path


def without_convolutions(path: Path) -> Path:
    """input -> pooling -> dense: valid, but with no feature map to explain."""
    import keras
    from keras import layers

    inputs = keras.Input((SIZE, SIZE, 3))
    x = layers.GlobalAveragePooling2D()(inputs)
    model = keras.Model(inputs, layers.Dense(1000, activation="softmax")(x))
    model.save(path)
    return path


def wrong_output_size(path: Path) -> Path:
    _base(outputs=10).save(path)
    return path


def outputs_nan(path: Path) -> Path:
    _base(nan=True).save(path)
    return path


def h5(path: Path) -> Path:
    _base().save(path)  # the .h5 suffix makes Keras write legacy HDF5
    return path


def corrupt(path: Path) -> Path:
    path.write_bytes(b"PK\x03\x04 this is not really a zip archive" * 20)
    return path


def with_input(path: Path, height: int | None, width: int | None) -> Path:
    """A valid classifier whose input is ``height`` x ``width`` (None: any size)."""
    import keras
    from keras import layers

    inputs = keras.Input((height, width, 3))
    x = layers.Conv2D(4, 3, activation="relu")(inputs)
    x = layers.GlobalAveragePooling2D()(x)
    keras.Model(inputs, layers.Dense(1000, activation="softmax")(x)).save(path)
    return path
