"""The digits CNN's layers, shared by train.py (which trains and exports it) and the serving benchmark's
Python peers (bench/servers/flask_digits.py, which load the exported weights into it)."""
import torch
from torch import nn


class DigitsCNN(nn.Module):
    """A small CNN for 8x8 digits. Takes raw 0..16 pixels, returns probabilities."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 64, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 64 x 4 x 4
            nn.Conv2d(64, 64, kernel_size=3, padding=1),
            nn.ReLU(),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(0.3),
            nn.Linear(64 * 4 * 4, 128),
            nn.ReLU(),
            nn.Dropout(0.3),
            nn.Linear(128, 10),
        )

    def logits(self, x):
        x = x / 16.0  # normalisation lives in the graph
        return self.classifier(self.features(x))

    def forward(self, x):
        return torch.softmax(self.logits(x), dim=1)
