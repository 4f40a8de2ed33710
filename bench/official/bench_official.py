#!/usr/bin/python3
# Times the OFFICIAL ConvMAE PyTorch code on CPU, for side-by-side comparison with the kit's `bench` command.
# A dev tool only (the kit does not depend on Python). Set-up and output fields: see README.md next to this file.
#
#   bench/official/setup.sh /work/.mirror/Alpha-VL+ConvMAE/repo        # once: extracts the official code
#   /usr/bin/python3 bench/official/bench_official.py pretrain|finetune|infer [--batch_size 8] [--threads 2] ...
#
# Prints ONE JSON line on stdout; progress goes to stderr.
import argparse
import json
import os
import resource
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def parse_args():
    p = argparse.ArgumentParser(description='Time the official ConvMAE PyTorch code on CPU.')
    p.add_argument('mode', choices=['pretrain', 'finetune', 'infer'])
    p.add_argument('--batch_size', type=int, default=8)
    p.add_argument('--input_size', type=int, default=224)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--steps', type=int, default=5, help='timed steps')
    p.add_argument('--warmup', type=int, default=2, help='untimed steps before the timed ones')
    p.add_argument('--model', default=None,
                   help='pretrain: a models_convmae factory (default convmae_convvit_base_patch16_dec512d8b); '
                        'finetune/infer: a models_convvit factory (default convvit_base_patch16)')
    p.add_argument('--mask_ratio', type=float, default=0.75, help='pretrain (main_pretrain default)')
    p.add_argument('--norm_pix_loss', action='store_true',
                   help='pretrain; main_pretrain default is off (the PRETRAIN.md recipe turns it on)')
    p.add_argument('--nb_classes', type=int, default=1000)
    p.add_argument('--drop_path', type=float, default=0.1, help='finetune (main_finetune default)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--official_dir', default=os.path.join(HERE, '.work'), help='where setup.sh put the official code')
    p.add_argument('--blas', choices=['auto', 'openblas', 'system'], default='auto',
                   help='auto: the OpenBLAS that setup.sh unpacked into OFFICIAL_DIR/openblas if there, else the system '
                        'libblas.so.3 (on Debian by default the slow netlib reference BLAS)')
    p.add_argument('--coretype', default='probe',
                   help='OpenBLAS kernel: probe (default: time a 2048^3 product under each candidate below and keep the '
                        'fastest that computes correctly), env (leave OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE as they are), '
                        'auto (unset both: OpenBLAS detects the core), or a core name such as SKYLAKEX')
    return p.parse_args()


# Kernels worth trying on the x86-64 machines of this kind. Debian 12's OpenBLAS 0.3.21 does not recognise the Intel
# Xeon with AMX ("Prescott", a generic kernel about 4x slower) and this environment sets OPENBLAS_CORETYPE=Haswell on
# the AMD EPYC; the fastest correct kernel differs between the two, so it is measured rather than assumed.
CORETYPE_CANDIDATES = ['env', 'auto', 'HASWELL', 'ZEN', 'SKYLAKEX', 'COOPERLAKE', 'SAPPHIRERAPIDS']

GEMM_PROBE = r"""
import ctypes, sys, time, torch
torch.set_num_threads(int(sys.argv[1]))
torch.manual_seed(0)
a, b = torch.randn(256, 256), torch.randn(256, 256)
err = ((a @ b).double() - a.double() @ b.double()).abs().max().item()
x, y = torch.randn(2048, 2048), torch.randn(2048, 2048)
x @ y
best = min((lambda t0: (x @ y, time.perf_counter() - t0)[1])(time.perf_counter()) for _ in range(3))
try:
    f = ctypes.CDLL('libblas.so.3').openblas_get_corename
    f.restype = ctypes.c_char_p
    core = f().decode()
except Exception:
    core = '?'
print(f'{2 * 2048 ** 3 / best / 1e9:.1f} {err:.3g} {core}')
"""


def coretype_env(env, choice):
    """The environment for one OPENBLAS_CORETYPE choice: 'env' as given, 'auto' without it, else that core."""
    env = dict(env)
    if choice == 'env':
        return env
    env.pop('OPENBLAS_CORETYPE', None)
    env.pop('OPENBLAS_L2_SIZE', None)   # set together with the core type here; a stale size misleads another kernel
    if choice != 'auto':
        env['OPENBLAS_CORETYPE'] = choice
    return env


def probe_coretype(env, threads):
    """Times the GEMM under each candidate kernel in a child process; returns (choice, gflops, core name)."""
    import subprocess
    best = None
    for choice in CORETYPE_CANDIDATES:
        try:
            r = subprocess.run([sys.executable, '-c', GEMM_PROBE, str(threads)], env=coretype_env(env, choice),
                               capture_output=True, text=True, timeout=120)
            gflops, err, core = r.stdout.split()
            gflops, err = float(gflops), float(err)
        except Exception as e:   # a kernel that crashes or hangs on this CPU is simply not a candidate
            log(f'  OpenBLAS {choice}: unusable ({type(e).__name__})')
            continue
        ok = err < 1e-3
        log(f'  OpenBLAS {choice}: {gflops:.0f} GFLOP/s (2048^3, {threads} threads), kernel {core}'
            + ('' if ok else f', WRONG results (max error {err:.3g}): not used'))
        if ok and (best is None or gflops > best[1]):
            best = (choice, gflops, core)
    if best is None:
        sys.exit('no OpenBLAS kernel computed a correct product')
    return best


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def use_blas(a):
    """Re-executes this script with the local OpenBLAS first on LD_LIBRARY_PATH (it must be set before torch loads)."""
    lib = os.path.join(os.path.abspath(a.official_dir), 'openblas')
    have = os.path.isfile(os.path.join(lib, 'libblas.so.3'))
    if a.blas == 'openblas' and not have:
        sys.exit(f'no OpenBLAS in {lib}: rerun setup.sh (without OPENBLAS=0)')
    if a.blas == 'system' or not have or os.environ.get('CONVMAE_BENCH_REEXEC'):
        return
    env = dict(os.environ, CONVMAE_BENCH_REEXEC='1', OMP_NUM_THREADS=str(a.threads),
               LD_LIBRARY_PATH=lib + (':' + os.environ['LD_LIBRARY_PATH'] if os.environ.get('LD_LIBRARY_PATH') else ''))
    if a.coretype == 'probe':
        choice, gflops, core = probe_coretype(env, a.threads)
        log(f'OpenBLAS kernel used: {choice} ({core}, {gflops:.0f} GFLOP/s)')
    else:
        choice, gflops, core = a.coretype, None, None
    env = coretype_env(env, choice)
    env['CONVMAE_BENCH_CORETYPE'] = json.dumps({'choice': choice, 'gemm_gflops': gflops, 'core': core})
    os.execve(sys.executable, [sys.executable, os.path.abspath(__file__)] + sys.argv[1:], env)


def blas_in_use():
    libs = sorted({l.split()[-1] for l in open('/proc/self/maps') if 'blas' in l.rsplit('/', 1)[-1]})
    if any('openblas' in l for l in libs):
        return 'openblas'
    if any('/blas/libblas.so' in l for l in libs):
        return 'netlib-reference'
    return ','.join(libs) or 'none'


def main():
    a = parse_args()
    if a.steps < 1 or a.warmup < 0:
        sys.exit('--steps must be >= 1 and --warmup >= 0')
    if not os.path.isfile(os.path.join(a.official_dir, 'models_convmae.py')):
        sys.exit(f'official code not found in {a.official_dir}: run bench/official/setup.sh OFFICIAL_GIT_DIR first')
    use_blas(a)
    sys.path.insert(0, a.official_dir)

    import torch
    import torch.nn as nn
    from functools import partial
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    S, B = a.input_size, a.batch_size

    if a.mode == 'pretrain':
        import models_convmae
        name = a.model or 'convmae_convvit_base_patch16_dec512d8b'
        if S != 224:   # forward_encoder hard-codes the 14x14 / 56x56 / 28x28 mask grids
            sys.exit('pretrain: the official MaskedAutoencoderConvViT only supports --input_size 224')
        model = models_convmae.__dict__[name](norm_pix_loss=a.norm_pix_loss)
        # main_pretrain: timm optim_factory.add_weight_decay -> no decay for 1-D params and biases
        decay, no_decay = [], []
        for n, p in model.named_parameters():
            if p.requires_grad:
                (no_decay if p.ndim <= 1 or n.endswith('.bias') else decay).append(p)
        groups = [{'params': no_decay, 'weight_decay': 0.}, {'params': decay, 'weight_decay': 0.05}]
        opt = torch.optim.AdamW(groups, lr=1.5e-4, betas=(0.9, 0.95))
        imgs = torch.randn(B, 3, S, S)

        def loss_fn():
            loss, _, _ = model(imgs, mask_ratio=a.mask_ratio)
            return loss

        def fwd():
            return model(imgs, mask_ratio=a.mask_ratio)
    else:
        import models_convvit
        name = a.model or 'convvit_base_patch16'
        kw = dict(num_classes=a.nb_classes, global_pool=True)   # main_finetune: global_pool on by default
        if a.mode == 'finetune':
            kw['drop_path_rate'] = a.drop_path
        if S == 224:
            model = models_convvit.__dict__[name](**kw)
        elif name == 'convvit_base_patch16':   # the factory hard-codes img_size=[224, 56, 28]; same model, other size
            model = models_convvit.ConvViT(
                img_size=[S, S // 4, S // 8], patch_size=[4, 2, 2], embed_dim=[256, 384, 768], depth=[2, 2, 11],
                num_heads=12, mlp_ratio=[4, 4, 4], qkv_bias=True, norm_layer=partial(nn.LayerNorm, eps=1e-6), **kw)
        else:
            sys.exit(f'--input_size {S} is only supported for convvit_base_patch16')
        imgs = torch.randn(B, 3, S, S)
        if a.mode == 'finetune':
            # main_finetune: layer-wise lr decay param groups (official util/lr_decay), FINETUNE.md recipe 0.65
            import util.lr_decay as lrd
            groups = lrd.param_groups_lrd(model, 0.05, no_weight_decay_list=model.no_weight_decay(), layer_decay=0.65)
            for g in groups:
                g['lr'] = 1.5e-4 * g['lr_scale']
            opt = torch.optim.AdamW(groups, lr=1.5e-4)
            # official recipe: mixup/cutmix + SoftTargetCrossEntropy; here plain CE with label smoothing 0.1
            labels = torch.randint(0, a.nb_classes, (B,))
            crit = nn.CrossEntropyLoss(label_smoothing=0.1)

            def loss_fn():
                return crit(model(imgs), labels)

        def fwd():
            return model(imgs)

    n_params = sum(p.numel() for p in model.parameters())
    blas = blas_in_use()
    log(f'{a.mode}: {name} ({n_params / 1e6:.1f}M params), batch {B}, {S}px, {a.threads} threads, '
        f'torch {torch.__version__}, BLAS {blas}')

    def time_steps(step, label):
        times = []
        for i in range(a.warmup + a.steps):
            t0 = time.perf_counter()
            step()
            dt = time.perf_counter() - t0
            if i >= a.warmup:
                times.append(dt)
            log(f'  {label} {"warm-up" if i < a.warmup else "step"} {i + 1}/{a.warmup + a.steps}: {dt * 1e3:.0f} ms')
        return times

    def train_step():
        loss = loss_fn()
        loss.backward()
        opt.step()
        opt.zero_grad()

    def fwd_step():
        with torch.no_grad():
            fwd()

    out = {'impl': 'official-pytorch', 'torch': torch.__version__, 'mode': a.mode, 'model': name,
           'batch_size': B, 'input_size': S, 'threads': a.threads, 'steps': a.steps, 'blas': blas}
    if os.environ.get('CONVMAE_BENCH_CORETYPE'):
        kernel = json.loads(os.environ['CONVMAE_BENCH_CORETYPE'])
        out['openblas_coretype'] = kernel['choice'] if kernel['choice'] != 'env' else os.environ.get('OPENBLAS_CORETYPE', 'auto')
        out['openblas_kernel'] = kernel['core']
        out['gemm_gflops'] = kernel['gemm_gflops']
    if a.mode == 'infer':
        model.eval()
        times = time_steps(fwd_step, 'forward')
    else:
        model.train()
        times = time_steps(train_step, 'train')
    med = statistics.median(times)
    out['img_per_s'] = round(B / med, 3)
    out['step_ms'] = {'min': round(min(times) * 1e3, 1), 'median': round(med * 1e3, 1),
                      'max': round(max(times) * 1e3, 1)}
    if a.mode == 'pretrain':   # same model (train mode) and masking, no autograd
        ftimes = time_steps(fwd_step, 'forward')
        out['fwd_img_per_s'] = round(B / statistics.median(ftimes), 3)
    out['peak_rss_mb'] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)   # KiB on Linux
    try:
        out['official_commit'] = open(os.path.join(a.official_dir, 'OFFICIAL_COMMIT')).read().strip()[:7]
    except OSError:
        pass
    print(json.dumps(out), flush=True)


if __name__ == '__main__':
    main()
