# Minimal, self-written stand-in for timm 0.3.2: only the names that the official ConvMAE model files
# (vision_transformer.py, models_convvit.py, models_convmae.py) import. Not a copy of timm.
# The real timm 0.3.x cannot be imported on torch >= 1.9 anyway (it uses torch._six.container_abcs).
__version__ = '0.3.2+convmae-bench-standin'
