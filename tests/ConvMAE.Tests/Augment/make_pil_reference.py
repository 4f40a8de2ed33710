"""Writes pil_reference.json: small images and what Pillow makes of them under the ops timm's RandAugment uses.

Run by hand with a Pillow install (checked with Debian's python3-pil 9.4):
    /usr/bin/python3 tests/ConvMAE.Tests/Augment/make_pil_reference.py [out.json] [--big]
The C# tests read the committed JSON; they do not need Python. --big writes larger images and more
arguments, for a one-off manual comparison (point CONVMAE_PIL_REFERENCE at the file when running the tests).
"""
import base64, json, random, sys
import PIL
from PIL import Image, ImageOps, ImageEnhance

FILL = (124, 116, 104)  # timm img_mean for ImageNet mean, what finetuning passes as fillcolor
big = "--big" in sys.argv
args = [a for a in sys.argv[1:] if not a.startswith("--")]
out = args[0] if args else "tests/ConvMAE.Tests/Augment/pil_reference.json"
rng = random.Random(1234)


def noise(w, h):
    im = Image.new("RGB", (w, h))
    im.putdata([tuple(rng.randrange(256) for _ in range(3)) for _ in range(w * h)])
    return im


def gradient(w, h):
    im = Image.new("RGB", (w, h))
    im.putdata([(int(255 * x / (w - 1)), int(255 * y / (h - 1)), (x * 37 + y * 11) % 256)
                for y in range(h) for x in range(w)])
    return im


def make_inputs():
    # odd non-square noise, square gradient (90-degree rotations), and a low-contrast image last
    imgs = [noise(11, 7), gradient(8, 8)] if not big else [noise(61, 47), gradient(61, 47), noise(48, 48), gradient(48, 48), noise(5, 3)]
    w, h = imgs[0].size
    low = Image.new("RGB", (w, h))
    low.putdata([(60 + rng.randrange(80), 100 + rng.randrange(9), 77) for _ in range(w * h)])
    return imgs + [low]


def solarize_add(img, add, thresh=128):
    lut = [min(255, i + add) if i < thresh else i for i in range(256)]
    return img.point(lut * 3)


RES = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC}


def ops():
    yield "AutoContrast", None, None, ImageOps.autocontrast
    yield "Equalize", None, None, ImageOps.equalize
    yield "Invert", None, None, ImageOps.invert
    for b in ([0, 1, 2, 4] if not big else range(0, 8)):
        yield "Posterize", b, None, lambda im, b=b: ImageOps.posterize(im, b)
    for t in ([0, 26, 128, 256] if not big else range(0, 257, 7)):
        yield "Solarize", t, None, lambda im, t=t: ImageOps.solarize(im, t)
    for a in ([30, 99] if not big else range(0, 111, 11)):
        yield "SolarizeAdd", a, None, lambda im, a=a: solarize_add(im, a)
    factors = [0.1, 0.5, 1.81, 2.5] if not big else [rng.uniform(0, 2.2) for _ in range(12)] + [0.1, 1.9]
    for name, cls in [("Color", ImageEnhance.Color), ("Contrast", ImageEnhance.Contrast),
                      ("Brightness", ImageEnhance.Brightness), ("Sharpness", ImageEnhance.Sharpness)]:
        for f in factors:
            yield name, f, None, lambda im, f=f, cls=cls: cls(im).enhance(f)
    angles = [27.0, -13.7, 90.0, 180.0] if not big else [rng.uniform(-30, 30) for _ in range(10)] + [90.0, 270.0]
    shears = [0.27, -0.1] if not big else [rng.uniform(-0.3, 0.3) for _ in range(8)]
    pcts = [0.405, -0.2] if not big else [rng.uniform(-0.45, 0.45) for _ in range(8)]
    for rname, r in RES.items():
        for a in angles:
            yield "Rotate", a, rname, lambda im, a=a, r=r: im.rotate(a, resample=r, fillcolor=FILL)
        for s in shears:
            yield "ShearX", s, rname, lambda im, s=s, r=r: im.transform(im.size, Image.AFFINE, (1, s, 0, 0, 1, 0), resample=r, fillcolor=FILL)
            yield "ShearY", s, rname, lambda im, s=s, r=r: im.transform(im.size, Image.AFFINE, (1, 0, 0, s, 1, 0), resample=r, fillcolor=FILL)
        for p in pcts:
            yield "TranslateXRel", p, rname, lambda im, p=p, r=r: im.transform(im.size, Image.AFFINE, (1, 0, p * im.size[0], 0, 1, 0), resample=r, fillcolor=FILL)
            yield "TranslateYRel", p, rname, lambda im, p=p, r=r: im.transform(im.size, Image.AFFINE, (1, 0, 0, 0, 1, p * im.size[1]), resample=r, fillcolor=FILL)


def b64(im):
    return base64.b64encode(im.tobytes()).decode()


inputs = make_inputs()
cases = []
for name, arg, res, fn in ops():
    geometric = res is not None
    for i, im in enumerate(inputs):
        if geometric and i == len(inputs) - 1:
            continue  # the low-contrast image is there for the histogram ops
        cases.append({"op": name, "arg": arg, "resample": res, "input": i, "expected": b64(fn(im))})
doc = {"pillow": PIL.__version__, "fill": FILL,
       "inputs": [{"width": im.size[0], "height": im.size[1], "rgb": b64(im)} for im in inputs],
       "cases": cases}
with open(out, "w") as f:
    json.dump(doc, f, separators=(",", ":"))
print(out, len(cases), "cases")
