#!/usr/bin/python3
"""Train the Slipway "digits_linear" example model and export it to ONNX.

A second digit classifier for the ensemble example (examples/models/digits_ensemble),
trained differently from the "digits" CNN on purpose, so that averaging the two helps:

- model: multinomial logistic regression (softmax regression) on the 64 pixels (one Dense 64 -> 10);
- optimiser: full-batch L-BFGS (the CNN uses mini-batch Adam), L2 penalty chosen
  on a validation split;
- preprocessing: per-pixel standardisation learnt from the fitting images (the CNN
  divides by 16), folded into the exported graph.

Dataset and split are the CNN's: scikit-learn's bundled ``load_digits``, stratified
80/20 train/test with seed 0; the same 360 held-out test images are never used for
training or model selection. The L2 strength is picked on a stratified 90/10
validation split of the training portion.

Also writes ../digits_ensemble/heldout.json: the 360 held-out test images and labels.

Output: 1/model.onnx, ONNX opset 17, input ``image`` float32 [batch,1,8,8] (raw
0..16 pixels), output ``probabilities`` float32 [batch,10] (softmax in the graph):
the same signature as "digits", so one request feeds both.

    /usr/bin/python3 examples/models/digits_linear/train.py
"""

import json
import os
import random

import numpy as np
import onnx
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

SEED = 0
OPSET = 17
L2_CANDIDATES = [1e-4, 1e-3, 3e-3, 1e-2, 3e-2]
HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_PATH = os.path.join(HERE, "1", "model.onnx")
# The 360 held-out test images (the same for the CNN, which uses the same split), for the ensemble
# example's evaluation and test.
HELDOUT_PATH = os.path.join(HERE, "..", "digits_ensemble", "heldout.json")


class SoftmaxRegression(nn.Module):
    """Standardise each pixel, then one linear layer and a softmax."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        self.linear = nn.Linear(64, 10)

    def logits(self, x):
        return self.linear((x.reshape(x.shape[0], 64) - self.mean) / self.std)

    def forward(self, x):
        return torch.softmax(self.logits(x), dim=1)


def fit(x, y, mean, std, l2):
    torch.manual_seed(SEED)
    model = SoftmaxRegression(mean, std)
    optimiser = torch.optim.LBFGS(model.parameters(), lr=1.0, max_iter=500, line_search_fn="strong_wolfe")
    loss_fn = nn.CrossEntropyLoss()

    def closure():
        optimiser.zero_grad()
        loss = loss_fn(model.logits(x), y) + l2 * model.linear.weight.pow(2).sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    return model.eval()


def accuracy(model, x, y):
    with torch.no_grad():
        return (model.logits(x).argmax(dim=1) == y).float().mean().item()


def main():
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.set_num_threads(1)

    digits = load_digits()
    images = digits.images.astype(np.float32)
    labels = digits.target.astype(np.int64)
    indices = np.arange(len(labels))
    train_idx, test_idx = train_test_split(indices, test_size=0.2, stratify=labels, random_state=SEED)
    fit_idx, val_idx = train_test_split(train_idx, test_size=0.1, stratify=labels[train_idx], random_state=SEED)

    def tensors(idx):
        return torch.from_numpy(images[idx]).unsqueeze(1), torch.from_numpy(labels[idx])

    x_fit, y_fit = tensors(fit_idx)
    x_val, y_val = tensors(val_idx)
    x_train, y_train = tensors(train_idx)
    x_test, y_test = tensors(test_idx)

    def stats(x):
        flat = x.reshape(x.shape[0], 64)
        # Pixels that are always 0 in the border would divide by zero: give them unit scale.
        return flat.mean(dim=0), flat.std(dim=0).clamp(min=1.0)

    mean, std = stats(x_fit)
    # Ties go to the stronger penalty (the simpler model).
    scores = [(accuracy(fit(x_fit, y_fit, mean, std, l2), x_val, y_val), l2, l2) for l2 in L2_CANDIDATES]
    for acc, _, l2 in scores:
        print(f"l2 {l2:g}: validation accuracy {acc:.4f}")
    best_acc, _, best_l2 = max(scores)
    print(f"selected l2 {best_l2:g} (validation accuracy {best_acc:.4f}); refitting on all {len(train_idx)} training images")

    mean, std = stats(x_train)
    model = fit(x_train, y_train, mean, std, best_l2)
    test_acc = accuracy(model, x_test, y_test)
    print(f"held-out test accuracy: {test_acc:.4f} ({round(test_acc * len(y_test))}/{len(y_test)})")
    if test_acc < 0.94:
        raise SystemExit(f"held-out accuracy {test_acc:.4f} is below the 0.94 target")

    os.makedirs(os.path.dirname(MODEL_PATH), exist_ok=True)
    torch.onnx.export(
        model,
        torch.zeros(1, 1, 8, 8, dtype=torch.float32),
        MODEL_PATH,
        input_names=["image"],
        output_names=["probabilities"],
        dynamic_axes={"image": {0: "batch"}, "probabilities": {0: "batch"}},
        opset_version=OPSET,
        do_constant_folding=True,
        export_params=True,
    )
    onnx_model = onnx.load(MODEL_PATH)
    onnx.checker.check_model(onnx_model)
    onnx_model.doc_string = (
        "Slipway example: softmax regression on standardised load_digits pixels (L-BFGS). "
        f"Held-out test accuracy {test_acc:.4f}."
    )
    onnx.save(onnx_model, MODEL_PATH)
    print(f"wrote {MODEL_PATH} ({os.path.getsize(MODEL_PATH)} bytes)")

    heldout = {"labels": [int(labels[i]) for i in test_idx], "images": [[int(v) for v in images[i].flatten()] for i in test_idx]}
    os.makedirs(os.path.dirname(HELDOUT_PATH), exist_ok=True)
    with open(HELDOUT_PATH, "w") as f:
        json.dump(heldout, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {os.path.normpath(HELDOUT_PATH)} ({len(test_idx)} held-out images, 64 pixels each, row-major)")


if __name__ == "__main__":
    main()
