import torch


class SortsDescending(torch.nn.Module):
    def forward(self, x):
        y = x * 2
        return torch.sort(
            y,
            dim=-1,
            descending=True,
        ).values


model = SortsDescending()
example_inputs = (torch.randn(2, 4),)
