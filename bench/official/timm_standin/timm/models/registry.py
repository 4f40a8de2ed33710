_models = {}


def register_model(fn):
    _models[fn.__name__] = fn
    return fn
