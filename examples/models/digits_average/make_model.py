#!/usr/bin/python3
"""Write the "digits_average" example model: the element-wise mean of two probability tensors.

It is the last step of the "digits_ensemble" graph, which averages what the CNN ("digits") and
the softmax regression ("digits_linear") say about the same image. A graph only routes tensors;
arithmetic on them is a model's job, as in Triton's ensembles, so the averaging is a one-node
ONNX graph (opset 17, ONNX's Mean operator).

Inputs ``a`` and ``b``: float32 [batch, 10]. Output ``probabilities``: float32 [batch, 10].

    /usr/bin/python3 examples/models/digits_average/make_model.py
"""

import os

import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_PATH = os.path.join(HERE, "1", "model.onnx")


def main():
    def tensor(name):
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", 10])

    graph = helper.make_graph(
        [helper.make_node("Mean", ["a", "b"], ["probabilities"])],
        "digits_average",
        [tensor("a"), tensor("b")],
        [tensor("probabilities")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="slipway-examples")
    model.ir_version = 8
    model.doc_string = "Slipway example: element-wise mean of two [batch,10] probability tensors."
    onnx.checker.check_model(model)
    os.makedirs(os.path.dirname(MODEL_PATH), exist_ok=True)
    onnx.save(model, MODEL_PATH)
    print(f"wrote {MODEL_PATH} ({os.path.getsize(MODEL_PATH)} bytes)")


if __name__ == "__main__":
    main()
