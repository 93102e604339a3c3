"""PyTorch frontend: MODEL.py loading, torch.export capture and import into the rgraph dialect."""
