"""One level of a U-Net: a double convolution (conv, batch norm, ReLU) on the way down, max
pooling, a bottleneck, bilinear upsampling back up, the skip connection concatenated on
channels, and a double convolution to the output channels."""

import torch
from torch import nn
import torch.nn.functional as F


def double_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
    )


class UNetBlock(nn.Module):
    def __init__(self, channels: int = 3, width: int = 16, classes: int = 2):
        super().__init__()
        self.down = double_conv(channels, width)
        self.bottleneck = double_conv(width, 2 * width)
        self.reduce = nn.Conv2d(2 * width, width, 1)
        self.up = double_conv(2 * width, width)
        self.out = nn.Conv2d(width, classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.down(x)
        deep = self.bottleneck(F.max_pool2d(skip, 2))
        up = F.interpolate(self.reduce(deep), scale_factor=2, mode="bilinear", align_corners=False)
        return self.out(self.up(torch.cat([skip, up], dim=1)))


torch.manual_seed(0)
model = UNetBlock()
with torch.no_grad():
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
model.eval()
example_inputs = (torch.randn(1, 3, 32, 32),)
