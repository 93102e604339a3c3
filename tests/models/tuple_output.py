"""Outputs may be a tuple (and an output that is an input needs its own copy)."""
import torch


class Pair(torch.nn.Module):
    def forward(self, x, y):
        return x + y, x, (x * y).sum()


model = Pair()
example_inputs = lambda: (torch.randn(3, 5), torch.randn(3, 5))  # noqa: E731
