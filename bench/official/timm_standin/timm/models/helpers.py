def load_pretrained(*args, **kwargs):
    raise NotImplementedError('timm stand-in: load_pretrained is not provided (not needed for benchmarking)')
