#!/usr/bin/env python3
"""Differential check of `convmae eval-coco` against pycocotools on random COCO cases (developer tool, not a test).

Needs pycocotools built from source (Debian has no package): apt-get install cython3 python3-numpy python3-matplotlib,
then in a checkout of cocodataset/cocoapi: cd PythonAPI && python3 setup.py build_ext --inplace. This changes the
machine (it installs Debian packages); the kit and its tests never need it.

usage: coco_eval_fuzz.py PYCOCOTOOLS_DIR CONVMAE_CLI [N_CASES] [SEED]
Each case mixes polygons partly outside the image, crowd regions as uncompressed RLE, compressed-RLE objects,
images without annotations, non-contiguous category ids, tied scores, duplicates, false positives, an image with more
than 100 detections, and (every other case) segm results that carry a bbox. Prints the worst difference per case.
"""
import json, os, random, subprocess, sys, tempfile

sys.path.insert(0, sys.argv[1])
import numpy as np
from pycocotools import mask as mu
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


def polygon(rng, cx, cy, r, w, h):
    k = rng.randint(3, 9)
    pts = []
    for i in range(k):
        a = 2 * np.pi * i / k + rng.uniform(-0.3, 0.3)
        rr = r * rng.uniform(0.4, 1.0)
        pts += [cx + rr * np.cos(a), cy + rr * np.sin(a)]
    return pts


def case(rng, with_box_in_segm):
    cats = rng.sample([1, 2, 4, 7, 9, 13, 44, 90], rng.randint(1, 4))
    images, anns, dts_b, dts_s = [], [], [], []
    aid = rng.choice([0, 1])   # an annotation id 0 now and then (pycocotools counts its matches as unmatched)
    for im in range(rng.randint(2, 8)):
        iid = 100 + im * rng.randint(1, 5)
        W, H = rng.randint(40, 300), rng.randint(40, 300)
        images.append({"id": iid, "width": W, "height": H, "file_name": f"{iid}.png"})
        nobj = 0 if rng.random() < 0.2 else rng.randint(1, 6)
        for _ in range(nobj):
            cat = rng.choice(cats)
            r = rng.uniform(3, min(W, H) / 1.5)
            cx, cy = rng.uniform(-r / 2, W + r / 2), rng.uniform(-r / 2, H + r / 2)
            crowd = rng.random() < 0.15
            poly = polygon(rng, cx, cy, r, W, H)
            rle = mu.merge(mu.frPyObjects([poly], H, W))
            area = float(mu.area(rle))
            if area == 0:
                continue
            bbox = [float(v) for v in mu.toBbox(rle)]
            if crowd:
                m = mu.decode(rle)
                cnts, flat, prev, run = [], m.flatten(order="F"), 0, 0
                for v in flat:
                    if v != prev:
                        cnts.append(run); run = 0; prev = v
                    run += 1
                cnts.append(run)
                seg = {"size": [H, W], "counts": [int(c) for c in cnts]}
            elif rng.random() < 0.3:
                seg = {"size": [H, W], "counts": rle["counts"].decode()}
            else:
                seg = [poly]
            anns.append({"id": aid, "image_id": iid, "category_id": cat, "segmentation": seg, "area": area,
                         "bbox": bbox, "iscrowd": int(crowd)})
            aid += 1
            # detections of this object: a few noisy copies
            for _ in range(rng.randint(0, 3)):
                s = round(rng.random(), rng.choice([1, 2, 4]))
                dx, dy, sc = rng.gauss(0, r / 6), rng.gauss(0, r / 6), rng.uniform(0.7, 1.3)
                p2 = [(v - cx) * sc + cx + dx if i % 2 == 0 else (v - cy) * sc + cy + dy for i, v in enumerate(poly)]
                r2 = mu.merge(mu.frPyObjects([p2], H, W))
                b2 = [float(v) for v in mu.toBbox(r2)]
                if b2[2] * b2[3] == 0:
                    continue
                dcat = cat if rng.random() < 0.9 else rng.choice(cats + [999])
                dts_b.append({"image_id": iid, "category_id": dcat, "bbox": b2, "score": s})
                d = {"image_id": iid, "category_id": dcat, "segmentation": {"size": [H, W], "counts": r2["counts"].decode()}, "score": s}
                if with_box_in_segm:
                    d["bbox"] = b2
                dts_s.append(d)
        many = 130 if im == 0 else rng.randint(0, 5)
        for _ in range(many):   # false positives (image 0: more than 100 of them)
            x, y = rng.uniform(0, W - 2), rng.uniform(0, H - 2)
            bw, bh = rng.uniform(1, W / 3), rng.uniform(1, H / 3)
            s = round(rng.random(), 2)
            cat = rng.choice(cats)
            dts_b.append({"image_id": iid, "category_id": cat, "bbox": [x, y, bw, bh], "score": s})
            r2 = mu.frPyObjects([[x, y, x, y + bh, x + bw, y + bh, x + bw, y]], H, W)[0]
            d = {"image_id": iid, "category_id": cat, "segmentation": {"size": [H, W], "counts": r2["counts"].decode()}, "score": s}
            if with_box_in_segm:
                d["bbox"] = [x, y, bw, bh]
            dts_s.append(d)
    gt = {"images": images, "annotations": anns,
          "categories": [{"id": c, "name": f"c{c}", "supercategory": "thing"} for c in cats]}
    return gt, dts_b, dts_s


def pycoco(gt_path, dt_path, t):
    import contextlib, io
    with contextlib.redirect_stdout(io.StringIO()):
        g = COCO(gt_path); d = g.loadRes(dt_path)
        e = COCOeval(g, d, t); e.evaluate(); e.accumulate(); e.summarize()
    return list(e.stats)


def main():
    cli, n, seed = sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 20, int(sys.argv[4]) if len(sys.argv) > 4 else 0
    rng = random.Random(seed)
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for c in range(n):
            gt, db, ds = case(rng, with_box_in_segm=c % 2 == 1)
            paths = {k: os.path.join(tmp, f"{k}.json") for k in ("gt", "bbox", "segm")}
            json.dump(gt, open(paths["gt"], "w")); json.dump(db, open(paths["bbox"], "w")); json.dump(ds, open(paths["segm"], "w"))
            for t in ("bbox", "segm"):
                if not (db if t == "bbox" else ds):
                    continue
                ref = pycoco(paths["gt"], paths[t], t)
                out = subprocess.run([cli, "eval-coco", "--gt", paths["gt"], "--dt", paths[t], "--iou-type", t],
                                     capture_output=True, text=True)
                if out.returncode != 0:
                    print(f"case {c} {t}: eval-coco failed: {out.stdout}{out.stderr}"); worst = float("inf"); continue
                kit = json.loads(out.stdout)["stats"]
                diff = max(abs(a - b) for a, b in zip(ref, kit))
                worst = max(worst, diff)
                print(f"case {c} {t}: max |diff| {diff:.2e}  AP {ref[0]:.4f}")
                if diff > 1e-4:
                    print("  pycocotools", ref); print("  kit        ", kit)
                    json.dump(gt, open(f"/tmp/fail_gt_{c}.json", "w")); json.dump(db if t == "bbox" else ds, open(f"/tmp/fail_dt_{c}_{t}.json", "w"))
    print(f"worst {worst:.2e} over {n} cases")
    sys.exit(0 if worst <= 1e-4 else 1)


main()
