import os
import pickle

import pytest

from classifiers.inference.efficientnet_lite import VARIANTS, weights_path
from classifiers.inference.torch_weights import load_state_dict


def test_it_reads_the_installed_lite0_checkpoint_without_torch():
    weights = load_state_dict(weights_path(VARIANTS["lite0"]))
    assert weights["_fc.weight"].shape == (1000, 1280)
    assert weights["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert weights["_fc.weight"].dtype.name == "float32"


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_it_refuses_a_checkpoint_that_would_run_code(tmp_path):
    path = tmp_path / "evil.pth"
    with path.open("wb") as f:
        for header in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
            pickle.dump(header, f)
        pickle.dump({"weight": _Exploit()}, f)
    with pytest.raises(pickle.UnpicklingError, match="refusing to load posix.system"):
        load_state_dict(path)
