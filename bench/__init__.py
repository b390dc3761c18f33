"""Benchmarks: engine vs the floor of the method (bare VGG19 forward+backward) and vs the PyTorch
tutorial's algorithm, run with ``python -m bench`` (``make bench``). See bench/RESULTS.md."""
