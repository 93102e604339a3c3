"""The tiny CoE's router: a classifier over 5 categories (code, math, chat, story, other), random weights.
It reads a fixed window of SEQ token ids (a prompt padded on the right with token 0) and returns
one logit per category: embedding, summed over the window, a small MLP."""

import torch
from torch import nn

SEQ = 16
CATEGORIES = 5


class Router(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(256, 32, padding_idx=0)  # padding adds nothing to the sum
        self.hidden = nn.Linear(32, 32)
        self.classify = nn.Linear(32, CATEGORIES)

    def forward(self, ids):
        pooled = self.embed(ids).sum(dim=1)
        return self.classify(torch.tanh(self.hidden(pooled)))


def model():
    torch.manual_seed(0)
    return Router().eval()


def example_inputs():
    return (torch.randint(0, 256, (1, SEQ), generator=torch.Generator().manual_seed(1)),)
