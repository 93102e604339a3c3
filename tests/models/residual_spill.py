"""Two residuals whose long paths reduce the whole value (a global mean-centred, then a scaled
branch): the short path of each must hold all of x, more than the small chip's free PMUs hold,
so rdu-size-fifos spills them through HBM (passes/spill.py). Compiled and simulated in tests."""
import torch


class Residuals(torch.nn.Module):
    def forward(self, x):
        h = x - x.mean()  # join 1: x and its mean
        y = torch.relu(h) * 0.5
        return h + y.sum() * 1e-3 + y  # join 2: h directly, through y, and through y's sum


model = Residuals()
example_inputs = lambda: (torch.randn(1024, 512),)  # noqa: E731
