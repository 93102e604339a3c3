import torch


class Broken(torch.nn.Module):
    def __init__(self):
        super().__init__()
        raise RuntimeError("weights file missing")


model = Broken
example_inputs = (torch.randn(2, 4),)
