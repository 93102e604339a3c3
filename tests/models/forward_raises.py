import torch


class Checked(torch.nn.Module):
    def forward(self, x):
        if x.shape[-1] != 8:
            raise ValueError(
                "expected 8 features,"
                f" got {x.shape[-1]}"
            )
        return x * 2


model = Checked()
example_inputs = (torch.randn(2, 4),)
