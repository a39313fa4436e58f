"""The demo prior's world: bundled photos and their training / held-out split (``photos``), the
demo prior's training and model card (``training``), classical baselines (``baselines``)."""
