#!/usr/bin/python3
"""Train the Slipway "digits_mlp" example: a MatMul-heavy multilayer perceptron on the
same data as the digits CNN, made to show what int8 quantization buys (`slipway optimize`).

Dataset: scikit-learn's bundled ``load_digits`` (1797 8x8 images, pixel values 0..16).
Split: the digits example's stratified 80/20 train/test split (same seed, so the same
360 held-out images); model selection on a validation split of the training part.

Outputs (relative to this file):
  1/model.onnx      opset 17, input ``image`` float32 [batch,1,8,8] (raw 0..16 pixels),
                    output ``probabilities`` float32 [batch,10]. Every Linear layer is a Gemm.
  data/heldout.csv  the 360 held-out test images: ``label,p0..p63`` (for --eval)
  data/calibration.csv  256 training images, same columns (for --static --calibration)

Run with the Debian Python that has python3-torch, python3-onnx and python3-sklearn:

    /usr/bin/python3 examples/models/digits_mlp/train.py
"""

import copy
import os
import random

import numpy as np
import onnx
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

SEED = 0
EPOCHS = 40
BATCH_SIZE = 32
LR = 1e-3
WEIGHT_DECAY = 1e-4
HIDDEN = 768
OPSET = 17
CALIBRATION_ROWS = 256

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_PATH = os.path.join(HERE, "1", "model.onnx")
DATA_DIR = os.path.join(HERE, "data")


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)


class DigitsMLP(nn.Module):
    """64 -> HIDDEN -> HIDDEN -> HIDDEN -> 10, ReLU between; raw pixels in, probabilities out."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64, HIDDEN),
            nn.ReLU(),
            nn.Linear(HIDDEN, HIDDEN),
            nn.ReLU(),
            nn.Dropout(0.2),
            nn.Linear(HIDDEN, HIDDEN),
            nn.ReLU(),
            nn.Linear(HIDDEN, 10),
        )

    def logits(self, x):
        return self.net(x / 16.0)

    def forward(self, x):
        return torch.softmax(self.logits(x), dim=1)


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        return (model.logits(x).argmax(dim=1) == y).float().mean().item()


def write_csv(path, images, labels):
    with open(path, "w") as f:
        f.write("label," + ",".join(f"p{i}" for i in range(64)) + "\n")
        for image, label in zip(images, labels):
            f.write(str(int(label)) + "," + ",".join(str(int(v)) for v in image.reshape(-1)) + "\n")


def main():
    seed_everything(SEED)
    digits = load_digits()
    images = digits.images.astype(np.float32)
    labels = digits.target.astype(np.int64)
    indices = np.arange(len(labels))
    # The digits example's split: the same seed gives the same 360 held-out images.
    train_idx, test_idx = train_test_split(indices, test_size=0.2, stratify=labels, random_state=SEED)
    fit_idx, val_idx = train_test_split(train_idx, test_size=0.1, stratify=labels[train_idx], random_state=SEED)

    def tensors(idx):
        return torch.from_numpy(images[idx]).unsqueeze(1), torch.from_numpy(labels[idx])

    x_fit, y_fit = tensors(fit_idx)
    x_val, y_val = tensors(val_idx)
    x_test, y_test = tensors(test_idx)

    model = DigitsMLP()
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
            best_val, best_epoch, best_state = val_acc, epoch, copy.deepcopy(model.state_dict())
        if epoch % 10 == 0:
            print(f"epoch {epoch:3d}  loss {loss.item():.4f}  validation accuracy {val_acc:.4f}")
    model.load_state_dict(best_state)
    model.eval()
    print(f"selected epoch {best_epoch} (validation accuracy {best_val:.4f})")
    test_acc = accuracy(model, x_test, y_test)
    print(f"held-out test accuracy: {test_acc:.4f} ({round(test_acc * len(y_test))}/{len(y_test)})")

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
    )
    onnx_model = onnx.load(MODEL_PATH)
    onnx.checker.check_model(onnx_model)
    onnx_model.doc_string = f"Slipway example: MLP digit classifier (load_digits). Held-out test accuracy {test_acc:.4f}."
    onnx.save(onnx_model, MODEL_PATH)
    print(f"wrote {MODEL_PATH} ({os.path.getsize(MODEL_PATH)} bytes)")

    os.makedirs(DATA_DIR, exist_ok=True)
    write_csv(os.path.join(DATA_DIR, "heldout.csv"), images[test_idx], labels[test_idx])
    calibration = np.random.RandomState(SEED).choice(fit_idx, CALIBRATION_ROWS, replace=False)
    write_csv(os.path.join(DATA_DIR, "calibration.csv"), images[calibration], labels[calibration])
    print(f"wrote {DATA_DIR}/heldout.csv ({len(test_idx)} rows) and calibration.csv ({CALIBRATION_ROWS} rows)")


if __name__ == "__main__":
    main()
