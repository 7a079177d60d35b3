#!/usr/bin/python3
"""Train the Slipway "digits" example model and export it to ONNX.

Dataset: scikit-learn's bundled ``load_digits`` (1797 8x8 grey-scale images of
handwritten digits, pixel values 0..16; ships with scikit-learn, no download).

Split: stratified 80/20 train/test. The 20% test set is held out: it is never
used for training or for model selection, only for the final accuracy that is
printed at the end. Model selection (picking the best epoch) uses a stratified
validation split carved out of the training portion.

Outputs (relative to this file):
  1/model.onnx   ONNX opset 17, input ``image`` float32 [batch,1,8,8] (raw 0..16
                 pixel values; scaling to 0..1 happens inside the graph), output
                 ``probabilities`` float32 [batch,10] (softmax inside the graph).
  samples.json   10 held-out test images, one per digit 0..9, as
                 [{"label": n, "image": [[[8 rows of 8 numbers]]]}, ...]

Run with the Debian Python that has python3-torch, python3-onnx and
python3-sklearn installed:

    /usr/bin/python3 examples/models/digits/train.py
"""

import copy
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
EPOCHS = 60
BATCH_SIZE = 32
LR = 1e-3
WEIGHT_DECAY = 1e-4
OPSET = 17

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_PATH = os.path.join(HERE, "1", "model.onnx")
SAMPLES_PATH = os.path.join(HERE, "samples.json")


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)


class DigitsCNN(nn.Module):
    """Small CNN for 8x8 digits. Takes raw 0..16 pixels, returns probabilities."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 32 x 4 x 4
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(32 * 4 * 4, 64),
            nn.ReLU(),
            nn.Dropout(0.3),
            nn.Linear(64, 10),
        )

    def logits(self, x):
        x = x / 16.0  # normalisation lives in the graph
        return self.classifier(self.features(x))

    def forward(self, x):
        return torch.softmax(self.logits(x), dim=1)


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        return (model.logits(x).argmax(dim=1) == y).float().mean().item()


def main():
    seed_everything(SEED)

    digits = load_digits()
    images = digits.images.astype(np.float32)  # (1797, 8, 8), values 0..16
    labels = digits.target.astype(np.int64)
    indices = np.arange(len(labels))

    # Held-out test set: 20%, stratified. Used only for the final report.
    train_idx, test_idx = train_test_split(
        indices, test_size=0.2, stratify=labels, random_state=SEED
    )
    # Validation set for model selection, carved out of the training portion.
    fit_idx, val_idx = train_test_split(
        train_idx, test_size=0.1, stratify=labels[train_idx], random_state=SEED
    )

    def tensors(idx):
        return (
            torch.from_numpy(images[idx]).unsqueeze(1),  # [n,1,8,8]
            torch.from_numpy(labels[idx]),
        )

    x_fit, y_fit = tensors(fit_idx)
    x_val, y_val = tensors(val_idx)
    x_test, y_test = tensors(test_idx)
    print(
        f"dataset: {len(labels)} images; train {len(train_idx)} "
        f"(fit {len(fit_idx)} + validation {len(val_idx)}), held-out test {len(test_idx)}"
    )

    model = DigitsCNN()
    optimiser = torch.optim.Adam(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(SEED)

    best_val, best_epoch, best_state = -1.0, -1, None
    for epoch in range(1, EPOCHS + 1):
        model.train()
        order = torch.randperm(len(y_fit), generator=generator)
        for start in range(0, len(order), BATCH_SIZE):
            batch = order[start : start + BATCH_SIZE]
            optimiser.zero_grad()
            loss = loss_fn(model.logits(x_fit[batch]), y_fit[batch])
            loss.backward()
            optimiser.step()
        val_acc = accuracy(model, x_val, y_val)
        if val_acc > best_val:
            best_val, best_epoch = val_acc, epoch
            best_state = copy.deepcopy(model.state_dict())
        if epoch % 10 == 0:
            print(f"epoch {epoch:3d}  loss {loss.item():.4f}  validation accuracy {val_acc:.4f}")

    model.load_state_dict(best_state)
    model.eval()
    print(f"selected epoch {best_epoch} (validation accuracy {best_val:.4f})")

    test_acc = accuracy(model, x_test, y_test)
    print(f"held-out test accuracy: {test_acc:.4f} ({round(test_acc * len(y_test))}/{len(y_test)})")
    if test_acc < 0.97:
        raise SystemExit(f"held-out accuracy {test_acc:.4f} is below the 0.97 target")

    # Export to ONNX: single self-contained file, dynamic batch dimension.
    os.makedirs(os.path.dirname(MODEL_PATH), exist_ok=True)
    dummy = torch.zeros(1, 1, 8, 8, dtype=torch.float32)
    torch.onnx.export(
        model,
        dummy,
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
    for init in onnx_model.graph.initializer:
        if init.data_location == onnx.TensorProto.EXTERNAL:
            raise SystemExit(f"initializer {init.name} uses external data")
    onnx_model.doc_string = (
        "Slipway example: handwritten digit classifier trained on scikit-learn load_digits. "
        f"Held-out test accuracy {test_acc:.4f}."
    )
    onnx.save(onnx_model, MODEL_PATH)
    print(f"wrote {MODEL_PATH} ({os.path.getsize(MODEL_PATH)} bytes)")

    # One held-out test image per digit, first occurrence in test order.
    samples = []
    for digit in range(10):
        idx = next(i for i in test_idx if labels[i] == digit)
        image = [[[int(v) for v in row] for row in images[idx]]]  # [1,8,8]
        samples.append({"label": digit, "image": image})
    with open(SAMPLES_PATH, "w") as f:
        f.write("[\n")
        f.write(",\n".join("  " + json.dumps(s) for s in samples))
        f.write("\n]\n")
    print(f"wrote {SAMPLES_PATH}")


if __name__ == "__main__":
    main()
