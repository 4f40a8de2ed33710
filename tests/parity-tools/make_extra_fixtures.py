# Writes extra parity fixtures (same format as shared/parity) from the OFFICIAL ConvMAE code, for local checks of
# configurations the shared fixtures do not cover: other widths, depths, heads, per-stage mlp ratios, mask ratios,
# batch sizes, eps 1e-5, norm_pix_loss off, global_pool off (token-0 features), 96/128-px classifiers, drop_path_rate.
# The output is generated data: keep it out of git.
#
# Set-up (nothing of the official code is kept in this repository): next to this script, put models_convmae.py,
# models_convvit.py, vision_transformer.py and util/pos_embed.py (np.float -> np.float64 for numpy >= 1.24) from
# Alpha-VL/ConvMAE @ 4c97b4c, an empty util/__init__.py, and timm 0.3.2 (or a minimal stand-in package `timm` providing
# what those files import: timm.models.layers.{to_2tuple, trunc_normal_, DropPath}, timm.models.vision_transformer,
# timm.models.registry.register_model). Then, with Debian's python3-torch:
#   /usr/bin/python3 make_extra_fixtures.py /tmp/parity-extra
#   CONVMAE_PARITY_DIR=/tmp/parity-extra dotnet test tests/ConvMAE.Tests -c Release --no-build --filter Category=Parity
import json, os, struct, sys, torch, numpy as np, torch.nn as nn
from functools import partial
import models_convmae, models_convvit
OUT = sys.argv[1]
def save_st(path, tensors):
    header, blobs, off = {}, [], 0
    for k, t in tensors.items():
        t = t.detach().contiguous()
        dt = {torch.float32: 'F32', torch.int64: 'I64'}[t.dtype]
        b = t.numpy().tobytes(); header[k] = {'dtype': dt, 'shape': list(t.shape), 'data_offsets': [off, off + len(b)]}
        blobs.append(b); off += len(b)
    h = json.dumps(header).encode(); h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f: f.write(struct.pack('<Q', len(h))); f.write(h); [f.write(b) for b in blobs]
def write(name, kind, batch, mask_ratio, eps, model_kw, model, io):
    d = os.path.join(OUT, name); os.makedirs(d, exist_ok=True)
    sd = model.state_dict()
    cfg = {'kind': kind, 'batch': batch, 'model': model_kw, 'layer_norm_eps': eps, 'mask_ratio': mask_ratio,
           'reference': 'official ConvMAE code, local extra', 'tensors': sorted(io), 'n_params': sum(v.numel() for v in sd.values())}
    json.dump(cfg, open(os.path.join(d, 'config.json'), 'w'), indent=2)
    save_st(os.path.join(d, 'model.safetensors'), dict(sd)); save_st(os.path.join(d, 'io.safetensors'), io)
def pretrain(name, seed, batch, mask_ratio, eps, kw, grads):
    torch.manual_seed(seed)
    m = models_convmae.MaskedAutoencoderConvViT(norm_layer=partial(nn.LayerNorm, eps=eps), **kw); m.eval()
    with torch.no_grad():   # perturb LN / biases so zero-init params are exercised
        for n, p in m.named_parameters():
            if p.requires_grad and (n.endswith('.bias') or 'norm' in n): p.add_(torch.randn_like(p) * 0.1)
    imgs = torch.randn(batch, 3, 224, 224); noise = torch.rand(batch, 196)
    orig = torch.rand; torch.rand = lambda *a, **k: noise.clone()
    latent, mask, ids = m.forward_encoder(imgs, mask_ratio); torch.rand = orig
    pred = m.forward_decoder(latent, ids); loss = m.forward_loss(imgs, pred, mask)
    m.zero_grad(); loss.backward(); P = dict(m.named_parameters())
    io = {'imgs': imgs, 'noise': noise, 'latent': latent, 'mask': mask, 'ids_restore': ids, 'pred': pred,
          'target': m.patchify(imgs), 'loss': loss.reshape(1)}
    io.update({'grad.' + g: P[g].grad for g in grads})
    write(name, 'pretrain', batch, mask_ratio, eps, kw, m, io)
def classifier(name, seed, batch, eps, kw, grads):
    torch.manual_seed(seed)
    m = models_convvit.ConvViT(norm_layer=partial(nn.LayerNorm, eps=eps), qkv_bias=True, **kw); m.eval()
    with torch.no_grad():
        for n, p in m.named_parameters():
            if n.endswith('.bias') or 'norm' in n: p.add_(torch.randn_like(p) * 0.1)
    s = kw['img_size'][0]; imgs = torch.randn(batch, 3, s, s)
    f = m.forward_features(imgs); lo = m.head(f); obj = (lo ** 2).mean()
    m.zero_grad(); obj.backward(); P = dict(m.named_parameters())
    io = {'imgs': imgs, 'features': f, 'logits': lo, 'objective': obj.reshape(1)}
    io.update({'grad.' + g: P[g].grad for g in grads})
    write(name, 'classifier', batch, None, eps, kw, m, io)

pretrain('pretrain-x-ratio06', 1, 3, 0.6, 1e-6,
    dict(img_size=[224, 56, 28], patch_size=[4, 2, 2], embed_dim=[32, 48, 96], depth=[1, 2, 2], num_heads=3,
         mlp_ratio=[2, 3, 4], decoder_embed_dim=64, decoder_depth=1, decoder_num_heads=2, norm_pix_loss=False),
    ['decoder_blocks.0.mlp.fc1.weight', 'blocks3.1.attn.proj.weight', 'stage2_output_decode.weight', 'blocks2.1.attn.bias', 'patch_embed3.norm.weight', 'mask_token'])
pretrain('pretrain-x-ratio09', 2, 1, 0.9, 1e-5,
    dict(img_size=[224, 56, 28], patch_size=[4, 2, 2], embed_dim=[16, 32, 64], depth=[2, 1, 1], num_heads=2,
         mlp_ratio=[4, 2, 3], decoder_embed_dim=32, decoder_depth=2, decoder_num_heads=2, norm_pix_loss=True),
    ['decoder_blocks.1.mlp.fc2.weight', 'blocks1.1.mlp.fc1.weight', 'decoder_norm.bias', 'patch_embed4.weight'])
classifier('classifier-x-token0-128px', 3, 3, 1e-6,
    dict(img_size=[128, 32, 16], patch_size=[4, 2, 2], embed_dim=[32, 48, 96], depth=[1, 1, 2], num_heads=6,
         mlp_ratio=[3, 2, 4], num_classes=7, global_pool=False),
    ['norm.weight', 'head.bias', 'blocks3.1.mlp.fc2.weight', 'pos_embed', 'patch_embed2.proj.weight'])
classifier('classifier-x-pool-96px-dpr', 4, 2, 1e-6,
    dict(img_size=[96, 24, 12], patch_size=[4, 2, 2], embed_dim=[16, 24, 48], depth=[1, 2, 3], num_heads=4,
         mlp_ratio=[4, 4, 2], num_classes=5, global_pool=True, drop_path_rate=0.2),
    ['fc_norm.bias', 'blocks2.1.norm2.weight', 'blocks3.2.attn.qkv.bias'])
print('done')
