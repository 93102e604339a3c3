"""Composition of Experts: a router and a library of expert models served from one node's three
memory tiers (docs/coe.md).

One idea per module: `config` reads COE.toml; `architecture` says what an expert computes (the
key its compiled programs share) and `decoder_model` is one socket's TP shard in PyTorch;
`programs` compiles once per architecture into an on-disk cache; `session` ties a CoE to its node;
`timer` turns those programs into expert timings (`ExpertTimer`); `collectives` prices the
tensor-parallel all-reduces; `memory_plan` lays the library over DDR/HBM; `hbm_cache` is the
expert cache and its eviction policies; `requests` reads traces; `serve` is the serving simulator;
`gpu_baseline` is the DGX model; `timeline` and `plot` draw; `weights` gives experts of one
architecture their own weights over one program's image; `functional` runs a MODEL.py CoE end to end
(router, then each expert generating through its KV cache).
"""
