"""The Python prototype server people start from, as a peer row in the serving benchmark.

Flask + PyTorch running the digits CNN (examples/models/digits/digits_cnn.py, the layers train.py
trains, with the weights read from the ONNX file's initializers, so it answers exactly what Slipway
serves). JSON in and out in the Open Inference Protocol's form, with Flask's defaults.

  Flask's development server:  python3 flask_digits.py MODEL.onnx PORT
  gunicorn (N sync workers):    DIGITS_ONNX=MODEL.onnx gunicorn -w N -b 127.0.0.1:PORT flask_digits:app

Debian packages: python3-torch, python3-onnx, python3-flask, gunicorn.
"""
import os
import sys

import numpy as np
import onnx
import torch
from flask import Flask, jsonify, request
from onnx import numpy_helper

# The same layers train.py trains and exports (examples/models/digits/digits_cnn.py).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'examples', 'models', 'digits'))
from digits_cnn import DigitsCNN  # noqa: E402


def load(path):
    model = DigitsCNN()
    weights = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in onnx.load(path).graph.initializer}
    model.load_state_dict(weights)
    return model.eval()


def create_app(path):
    model = load(path)
    app = Flask(__name__)

    @app.post("/v2/models/<name>/infer")
    def infer(name):
        body = request.get_json(force=True)
        first = body["inputs"][0]
        x = torch.tensor(np.asarray(first["data"], dtype=np.float32).reshape(first["shape"]))
        with torch.no_grad():
            y = model(x)
        return jsonify(
            model_name=name,
            model_version="1",
            outputs=[{"name": "probabilities", "datatype": "FP32", "shape": list(y.shape), "data": y.flatten().tolist()}],
        )

    @app.get("/v2/health/live")
    def live():
        return jsonify(live=True)

    return app


if "DIGITS_ONNX" in os.environ:
    # One intra-op thread per gunicorn worker: the workers are the parallelism.
    torch.set_num_threads(1)
    app = create_app(os.environ["DIGITS_ONNX"])

if __name__ == "__main__":
    create_app(sys.argv[1]).run(host="127.0.0.1", port=int(sys.argv[2]), threaded=True)
