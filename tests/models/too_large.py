import torch

# 600 MB of weights: more than the small chip's 256 MiB HBM and 4 GiB DDR together? No: the
# weights alone fit DDR, so the model is built to exceed both tiers.
with torch.device("meta"):
    model = torch.nn.Sequential(*[torch.nn.Linear(16384, 16384, bias=False) for _ in range(5)])
example_inputs = (torch.randn(1, 16384, device="meta"),)
