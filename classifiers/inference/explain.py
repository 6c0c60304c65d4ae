"""Grad-CAM: where in the photo the network found its answer.

The explanation comes out of the same call as the prediction: one forward
pass returns both the probabilities and the last feature map, and the
gradient of the chosen answer only flows back through the few layers after
that map, so explaining costs little more than predicting.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


class ExplainableClassifier:
    """A loaded Keras classifier with an in-graph Grad-CAM, for a batch at once."""

    def __init__(self, model) -> None:
        self.model = model
        self.feature_layer = _last_feature_map(model)
        self._explain: dict[int, object] = {}  # one traced function per views per photo

    def predict_on_batch(self, batch: np.ndarray) -> np.ndarray:
        return self.model.predict_on_batch(batch)

    def explain(
        self, batch: np.ndarray, rows: np.ndarray, bias: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """One photo given as its views (one, or two with test-time flip):
        the views' probabilities, and the Grad-CAM map (0..1) of the answer
        their average gives, on the first view (the photo as it is)."""
        probabilities, cams = self.explain_batch(batch, rows, bias, views=len(batch))
        return probabilities, cams[0]

    def explain_batch(
        self, batch: np.ndarray, rows: np.ndarray, bias: np.ndarray, *, views: int = 1
    ) -> tuple[np.ndarray, list[np.ndarray | None]]:
        """Several photos, each as ``views`` consecutive rows, in one forward
        pass: every row's probabilities, and per photo the Grad-CAM map (0..1)
        of its best candidate answer, on its first view."""
        photos = len(batch) // views
        if self.feature_layer is None:
            return np.asarray(self.predict_on_batch(batch)), [None] * photos
        if views not in self._explain:
            self._explain[views] = self._build(batch.shape[1:], views)
        probabilities, cams = self._explain[views](batch, rows, bias)
        cams = cams.numpy()
        if cams.size == 0:  # no gradient reaches the feature map: no explanation
            return probabilities.numpy(), [None] * photos
        peaks = cams.reshape(len(cams), -1).max(axis=1)
        peaks[peaks <= 0] = 1.0
        return probabilities.numpy(), list(cams / peaks[:, None, None])

    def _build(self, image_shape: tuple[int, ...], views: int):
        import keras
        import tensorflow as tf

        graph = keras.Model(self.model.inputs, [self.feature_layer.output, self.model.output])

        # One trace for every batch size: micro-batches vary from 1 to B photos.
        @tf.function(
            input_signature=[
                tf.TensorSpec([None, *image_shape], tf.float32),
                tf.TensorSpec([None, None], tf.float32),
                tf.TensorSpec([None], tf.float32),
            ]
        )
        def explain(batch, rows, bias):
            with tf.GradientTape() as tape:
                features, probabilities = graph(batch, training=False)
                # A photo's answer is the average of its views (test-time flip).
                classes = tf.shape(probabilities)[-1]
                per_photo = tf.reduce_mean(tf.reshape(probabilities, [-1, views, classes]), 1)
                scores = tf.linalg.matmul(per_photo, rows, transpose_b=True)  # (photos, rows)
                best = tf.argmax(tf.math.log(scores + 1e-9) + bias, axis=1)
                # Each photo's target depends on its own features only, so the
                # gradient of their sum is every photo's own gradient.
                target = tf.reduce_sum(tf.gather(scores, best, batch_dims=1))
            gradients = tape.gradient(target, features)
            if gradients is None:
                # The answer does not depend on that map through anything
                # differentiable: an explanation is optional, so give none.
                return probabilities, tf.zeros((0, 0, 0))
            weights = tf.reduce_mean(gradients, axis=(1, 2))
            cams = tf.nn.relu(tf.reduce_sum(features * weights[:, None, None, :], axis=-1))
            return probabilities, cams[::views]  # the first view: the photo as it is

        return explain


def _last_feature_map(model):
    """The last layer with a spatial (batch, h, w, channels) output; never the
    input itself (a network without convolutions has no feature map)."""
    for layer in reversed(model.layers):
        if type(layer).__name__ == "InputLayer":
            continue
        shape = getattr(layer, "output", None) is not None and layer.output.shape
        if shape and len(shape) == 4 and shape[1] and shape[1] > 1:
            return layer
    return None


def _jet(values: np.ndarray) -> np.ndarray:
    """A blue-to-red colour ramp, enough for a heatmap without matplotlib."""
    v = np.clip(values, 0, 1)
    red = np.clip(1.5 - np.abs(4 * v - 3), 0, 1)
    green = np.clip(1.5 - np.abs(4 * v - 2), 0, 1)
    blue = np.clip(1.5 - np.abs(4 * v - 1), 0, 1)
    return (np.stack([red, green, blue], axis=-1) * 255).astype(np.uint8)


OVERLAY_SIDE = 64  # pixels (the long side): the browser scales it over the photo
# How far the map fades out beyond the part of the photo the network saw, as a
# share of the overlay's long side: a soft rim, not a claim about what it did not see.
RIM = 0.06


def heatmap_png(cam: list[list[float]], box: tuple[float, ...] | None = None) -> bytes:
    """A small transparent PNG of the Grad-CAM grid.

    With ``box`` (the result's ``crop_box``: the square the network saw, in
    fractions of the photo's width and height) the PNG has the photo's shape
    and covers all of it: the grid sits on the box and fades out softly
    beyond it, so no hard-edged rectangle stops short of the photo's edges.
    Without, it is the grid alone, for the box.

    Small on purpose: encoding an overlay the size of the photo (with
    ``optimize``) once cost four times the prediction itself; this is a
    fraction of a millisecond, and the browser scales it smoothly.
    """
    values = _scaled(np.asarray(cam, dtype=np.float32), OVERLAY_SIDE, OVERLAY_SIDE)
    if box is not None:
        values = _covering_photo(values, box)
    rgba = np.zeros((*values.shape, 4), np.uint8)
    rgba[..., :3] = _jet(values)
    rgba[..., 3] = (np.clip(values, 0, 1) * 170).astype(np.uint8)  # cold areas stay see-through
    buffer = io.BytesIO()
    Image.fromarray(rgba).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _scaled(values: np.ndarray, width: int, height: int) -> np.ndarray:
    grid = Image.fromarray((np.clip(values, 0, 1) * 255).astype(np.uint8))
    grid = grid.resize((max(width, 1), max(height, 1)), Image.Resampling.BICUBIC)
    return np.asarray(grid, dtype=np.float32) / 255


def _covering_photo(values: np.ndarray, box: tuple[float, ...]) -> np.ndarray:
    left, top, right, bottom = (float(x) for x in box)
    if not (0 <= left < right <= 1 and 0 <= top < bottom <= 1):
        return values
    # The box is a square of the photo, so its fractions give the photo's shape.
    aspect = (bottom - top) / (right - left)  # width / height
    if aspect >= 1:
        width, height = OVERLAY_SIDE, max(1, round(OVERLAY_SIDE / aspect))
    else:
        width, height = max(1, round(OVERLAY_SIDE * aspect)), OVERLAY_SIDE
    x0, x1 = round(left * width), max(round(right * width), round(left * width) + 1)
    y0, y1 = round(top * height), max(round(bottom * height), round(top * height) + 1)
    inner = _scaled(values, x1 - x0, y1 - y0)
    spread = np.pad(inner, ((y0, height - y1), (x0, width - x1)), mode="edge")
    xs, ys = np.arange(width)[None, :], np.arange(height)[:, None]
    dx = np.maximum(np.maximum(x0 - xs, xs - (x1 - 1)), 0)
    dy = np.maximum(np.maximum(y0 - ys, ys - (y1 - 1)), 0)
    fade = np.exp(-((np.hypot(dx, dy) / (RIM * OVERLAY_SIDE)) ** 2))
    return spread * fade
