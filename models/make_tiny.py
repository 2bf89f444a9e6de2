"""Write testdata/tiny/model.onnx: a tiny CNN (Conv-BN-Relu, residual Add,
MaxPool, GlobalAveragePool, Flatten, Gemm-BN, Softmax) of a few hundred
bytes, used as a fuzzing seed where the real models are too large.

    /usr/bin/python3 models/make_tiny.py testdata/tiny/model.onnx
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def main(out):
    rng = np.random.default_rng(0)

    def init(name, *shape):
        return numpy_helper.from_array(rng.uniform(-1, 1, shape).astype(np.float32), name)

    def bn(prefix, c):
        return [init(prefix + "_s", c), init(prefix + "_b", c), init(prefix + "_m", c),
                numpy_helper.from_array(rng.uniform(0.5, 2, c).astype(np.float32), prefix + "_v")]

    inits = [init("w1", 3, 2, 3, 3), init("b1", 3), *bn("bn1", 3),
             init("w2", 3, 3, 1, 1), init("g", 4, 3), init("gc", 4), *bn("bn2", 4)]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
        helper.make_node("BatchNormalization", ["c1", "bn1_s", "bn1_b", "bn1_m", "bn1_v"], ["n1"], name="bn1"),
        helper.make_node("Relu", ["n1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], name="conv2"),
        helper.make_node("Add", ["c2", "r1"], ["a"], name="add"),
        helper.make_node("MaxPool", ["a"], ["p"], kernel_shape=[2, 2], strides=[2, 2], name="pool"),
        helper.make_node("GlobalAveragePool", ["p"], ["gp"], name="gap"),
        helper.make_node("Flatten", ["gp"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "g", "gc"], ["fc"], transB=1, name="fc"),
        helper.make_node("BatchNormalization", ["fc", "bn2_s", "bn2_b", "bn2_m", "bn2_v"], ["n2"], name="bn2"),
        helper.make_node("Softmax", ["n2"], ["y"], axis=1, name="softmax"),
    ]
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 6, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="bnrun")
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, out)


if __name__ == "__main__":
    main(sys.argv[1])
