"""Performance tools: ``gradviz bench`` (the reference nets of DESIGN.md against the NumPy
reference and PyTorch, ``bench``, ``bench_torch``), the start-up time (``first_step``) and each
kernel against this machine's roofline (``roofline``). It may import the model, the runs and
everything below them; not the teaching aids or the formats.
"""
