"""What the workflow shows: tidy and paper-style tables (``tables``), ablation and gradient-angle
figures (``figures``), image grids (``images``) and the HTML report (``report``)."""
