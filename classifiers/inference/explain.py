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
    """A loaded Keras classifier with an in-graph Grad-CAM."""

    def __init__(self, model) -> None:
        self.model = model
        self.feature_layer = _last_feature_map(model)
        self._explain = None

    def predict_on_batch(self, batch: np.ndarray) -> np.ndarray:
        return self.model.predict_on_batch(batch)

    def explain(
        self, batch: np.ndarray, rows: np.ndarray, bias: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Probabilities, and the Grad-CAM map (0..1) of the best candidate row."""
        if self.feature_layer is None:
            return self.predict_on_batch(batch), None
        if self._explain is None:
            self._explain = self._build()
        probabilities, cam = self._explain(batch, rows, bias)
        cam = cam.numpy()
        if cam.size == 0:  # no gradient reaches the feature map: no explanation
            return probabilities.numpy(), None
        peak = cam.max()
        return probabilities.numpy(), (cam / peak if peak > 0 else cam)

    def _build(self):
        import keras
        import tensorflow as tf

        graph = keras.Model(self.model.inputs, [self.feature_layer.output, self.model.output])

        @tf.function(reduce_retracing=True)
        def explain(batch, rows, bias):
            with tf.GradientTape() as tape:
                features, probabilities = graph(batch, training=False)
                # Several views of one photo (test-time flip): the answer is
                # their average; the map is of the first view, the photo as it is.
                scores = tf.linalg.matvec(rows, tf.reduce_mean(probabilities, axis=0))
                best = tf.argmax(tf.math.log(scores + 1e-9) + bias)
                target = scores[best]
            gradients = tape.gradient(target, features)
            if gradients is None:
                # The answer does not depend on that map through anything
                # differentiable: an explanation is optional, so give none.
                return probabilities, tf.zeros((0, 0))
            weights = tf.reduce_mean(gradients, axis=(1, 2))
            cam = tf.nn.relu(tf.reduce_sum(features * weights[:, None, None, :], axis=-1))[0]
            return probabilities, cam

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


def heatmap_png(cam: list[list[float]], size: tuple[int, int], crop_box: list[float]) -> bytes:
    """A transparent PNG, the size of the stored photo, to lay over it."""
    width, height = size
    left, top, right, bottom = (
        round(crop_box[0] * width),
        round(crop_box[1] * height),
        round(crop_box[2] * width),
        round(crop_box[3] * height),
    )
    grid = Image.fromarray((np.asarray(cam, dtype=np.float32) * 255).astype(np.uint8))
    grid = grid.resize((max(right - left, 1), max(bottom - top, 1)), Image.Resampling.BICUBIC)
    values = np.asarray(grid, dtype=np.float32) / 255
    rgba = np.zeros((values.shape[0], values.shape[1], 4), np.uint8)
    rgba[..., :3] = _jet(values)
    rgba[..., 3] = (np.clip(values, 0, 1) * 170).astype(np.uint8)  # cold areas stay see-through
    overlay = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    overlay.paste(Image.fromarray(rgba), (left, top))
    buffer = io.BytesIO()
    overlay.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
