"""Write testdata/tiny_seg/model.onnx: a tiny segmentation network
(Conv-BN-Relu at stride 2, a 1×1 classifier to 4 classes, bilinear Resize
back to the input's size) of a few hundred bytes, taking [1, 3, 32, 32]
and giving a [1, 4, 32, 32] class map, for the CLI's --mask tests.

    /usr/bin/python3 models/make_tiny_seg.py testdata/tiny_seg/model.onnx
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def main(out):
    rng = np.random.default_rng(1)

    def init(name, *shape, lo=-1, hi=1):
        return numpy_helper.from_array(rng.uniform(lo, hi, shape).astype(np.float32), name)

    inits = [init("w1", 8, 3, 3, 3), init("b1", 8),
             init("bn_s", 8), init("bn_b", 8), init("bn_m", 8), init("bn_v", 8, lo=0.5, hi=2),
             init("w2", 4, 8, 1, 1), init("b2", 4),
             numpy_helper.from_array(np.array([1, 1, 2, 2], dtype=np.float32), "scales")]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], strides=[2, 2], name="conv1"),
        helper.make_node("BatchNormalization", ["c1", "bn_s", "bn_b", "bn_m", "bn_v"], ["n1"], name="bn1"),
        helper.make_node("Relu", ["n1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], name="classifier"),
        helper.make_node("Resize", ["c2", "", "scales"], ["y"], mode="linear",
                         coordinate_transformation_mode="pytorch_half_pixel", name="upsample"),
    ]
    graph = helper.make_graph(nodes, "tiny_seg",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 32, 32])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 32, 32])],
                              inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="bnrun")
    onnx.checker.check_model(model)
    onnx.save(model, out)


if __name__ == "__main__":
    main(sys.argv[1])
