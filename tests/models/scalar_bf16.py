"""bf16 reductions to 0-d values and exact GELU / erf on them (once broken: 0-d values became
shape (1,) when rounded to bf16, and erf on a 0-d value was a Python float)."""
import torch
import torch.nn.functional as F


class Scalars(torch.nn.Module):
    def forward(self, x):
        total = x.sum()
        return total, x.mean(), x.amax(), F.gelu(total), torch.erf(x.mean()), total * 0.5


model = Scalars()
example_inputs = lambda: (torch.randn(4, 16, dtype=torch.bfloat16),)  # noqa: E731
