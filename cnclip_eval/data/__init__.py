"""Datasets: the catalog, shard sources, CLIP_benchmark's webdataset layout and streaming."""
