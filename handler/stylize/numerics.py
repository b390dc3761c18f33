"""Small constants the statistics, the masks and the losses share."""

EPS = 1e-8  # keeps divisions by a norm or a mask's mass finite
MIN_MASS = 1e-6  # a region below this many cells' worth at a layer has nothing to match there
