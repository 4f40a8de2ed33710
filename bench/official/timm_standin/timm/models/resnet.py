# Imported by vision_transformer.py for its (unused) hybrid ResNet models only.
def resnet26d(*args, **kwargs):
    raise NotImplementedError('timm stand-in: resnet26d is not provided')


def resnet50d(*args, **kwargs):
    raise NotImplementedError('timm stand-in: resnet50d is not provided')
