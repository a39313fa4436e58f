"""The workflow's steps as a library: a config decoded (``config``), external inputs fetched and
recorded (``fetch``), one step per job (``steps``: degrade a dataset, restore a shard, score a
task), and the compute plan of a config (``plan``)."""
