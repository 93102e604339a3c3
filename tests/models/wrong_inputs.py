import torch

model = torch.nn.Linear(4, 4)
example_inputs = (torch.randn(2, 7),)
