"""Seconds per epoch of Rectified LpJEPA pretraining: rlpjepa's training loop vs a solo-learn style reference loop.

Both loops train the same model (rlpjepa.methods.build_method: ResNet-18 with the CIFAR stem + rectified MLP
projector, seeded alike so they start from the same weights) with the same optimizer (rlpjepa.optim.build_optimizer:
LARS), the same batch size and epoch length, bf16 autocast, on synthetic CIFAR-size data (uint8 3×32×32, 2 views):

* ours: `rlpjepa.train.pretrain` itself (in-memory uint8 batches, batched 'cifar' augmentation on the device,
  channels_last, the library's RDMReg, plus its two online linear probes). A warm-up call of a few steps first, then
  a timed call of `--epochs` epochs; s/epoch = metrics['train_s'] / steps × steps per epoch (train_s excludes the
  end-of-epoch online evaluation and the checkpoint writes).
* reference, built like the authors' code (solo-learn): a torch DataLoader with `--workers` workers (pin_memory on
  CUDA) and per-sample PIL torchvision transforms of the authors' CIFAR config giving two views; the loss
  λ_inv·MSE(z1, z2) + λ_reg·½[RDMReg(z1) + RDMReg(z2)] written plainly per Eq. 13 in fp32 (fresh random unit
  directions and fresh target samples every step, both sides projected and sorted along the batch); a `loss.item()`
  per step as the NaN check. A few warm-up steps first, then `--epochs` timed epochs. No torch.compile.

Run: `python benchmarks/bench_epoch.py [--device auto|cpu|cuda] [--images N] [--epochs 1] [--workers K] [--compile]`.
Defaults on CUDA: 50,000 images, width 64, batch 256, projector 2048-2048-2048, N 8192, min(8, cores) workers; on
the CPU, a small setting that runs in about a minute and prints the same table. Not a test: the numbers depend on the
machine and its load.
"""
import argparse, math, os, platform, shutil, tempfile, time
import torch
import torch.nn.functional as F
import torchvision.transforms as T
from PIL import Image
from rlpjepa.data import ImageData
from rlpjepa.augment import PRESETS
from rlpjepa.config import Config
from rlpjepa.methods import build_method, make_target
from rlpjepa.optim import build_optimizer
from rlpjepa.train import pretrain

CIFAR_MEAN, CIFAR_STD = PRESETS['cifar']['mean'], PRESETS['cifar']['std']     # the 'cifar' preset's normalisation
DEFAULTS = dict(cuda=dict(images=50_000, width=64, batch_size=256, proj_dim=2048, num_projections=8192,
                          workers=min(8, os.cpu_count() or 1), warmup_steps=20),
                cpu=dict(images=1024, width=8, batch_size=128, proj_dim=256, num_projections=256, workers=1, warmup_steps=2))

def synthetic(n, seed=0, classes=100):
    "Random uint8 images and random labels: only the speed matters here, the accuracy is meaningless."
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8)
    return ImageData(x, torch.randint(0, classes, (n,), generator=g), [str(c) for c in range(classes)], 'synthetic')

def backbone_name(width):
    "torchvision's 'resnet18' only comes at width 64; rlpjepa's 'small_resnet' is the same ResNet-18 layout at any width."
    return 'resnet18' if width == 64 else 'small_resnet'

def config(a, device, out, **kw):
    return Config(method='rectified_lpjepa', backbone=backbone_name(a.width), width=a.width, small_input=True, proj_hidden=a.proj_hidden,
                  proj_dim=a.proj_dim, num_projections=a.num_projections, batch_size=a.batch_size, epochs=a.epochs,
                  precision='bf16', channels_last=True, device=str(device), out=out, dvclive=False, progress=False,
                  eval_every=a.epochs, resume='never', overwrite=True, augment='cifar', compile=a.compile, **kw)

# ---------------------------------------------------------------- ours
def run_ours(a, device, train, val, **kw):
    "One `pretrain` call in a fresh temporary folder; its metrics dict."
    out = tempfile.mkdtemp(prefix='bench_epoch_')
    try: return pretrain(config(a, device, out, **kw), train_data=train, val_data=val)
    finally: shutil.rmtree(out, ignore_errors=True)

# ---------------------------------------------------------------- the reference
class TwoViews(torch.utils.data.Dataset):
    "uint8 images served as torchvision's CIFAR10 serves them (HWC array -> PIL image), two augmented views + label."
    def __init__(self, data, transform):
        self.x, self.y, self.t = data.x.permute(0, 2, 3, 1).contiguous().numpy(), data.y.tolist(), transform
    def __len__(self): return len(self.x)
    def __getitem__(self, i):
        img = Image.fromarray(self.x[i])
        return self.t(img), self.t(img), self.y[i]

def cifar_transform():
    "The authors' (solo-learn) CIFAR pretraining augmentation, per sample on PIL images."
    return T.Compose([T.RandomResizedCrop(32, scale=(0.08, 1.0)),
                      T.RandomApply([T.ColorJitter(0.4, 0.4, 0.2, 0.1)], p=0.8), T.RandomGrayscale(p=0.2),
                      T.RandomSolarize(threshold=128, p=0.1), T.RandomHorizontalFlip(),
                      T.ToTensor(), T.Normalize(CIFAR_MEAN, CIFAR_STD)])

def rdmreg(z, y, P):
    "Eq. 13 as written: project both sides on the N directions, sort along the batch, mean squared difference."
    return ((z @ P.T).sort(dim=0).values - (y @ P.T).sort(dim=0).values).square().mean()

def run_reference(a, device, train, cfg):
    "Warm-up steps, then `a.epochs` timed epochs; (seconds, steps)."
    torch.manual_seed(cfg.seed)                  # pretrain seeds the same way before building: same initial weights
    model = build_method(cfg, 3)[0].to(device)
    opt = build_optimizer(cfg, model)
    target = make_target(cfg, rectified=True)
    if hasattr(target, 'to'): target = target.to(device)      # sample where z lives
    dl = torch.utils.data.DataLoader(TwoViews(train, cifar_transform()), batch_size=cfg.batch_size, shuffle=True,
                                     drop_last=True, num_workers=a.workers, pin_memory=device.type == 'cuda',
                                     persistent_workers=a.workers > 0)

    def step(v1, v2):
        v1, v2 = v1.to(device, non_blocking=True), v2.to(device, non_blocking=True)
        with torch.autocast(device.type, torch.bfloat16):
            (_, z1), (_, z2) = model(v1), model(v2)
        z1, z2 = z1.float(), z2.float()                                          # the loss in fp32
        (B, D), N = z1.shape, cfg.num_projections
        P = F.normalize(torch.randn(N, D, device=device), dim=1)                 # fresh unit directions
        reg = (rdmreg(z1, target.sample((B, D)).to(device), P) + rdmreg(z2, target.sample((B, D)).to(device), P)) / 2
        loss = cfg.lambda_inv * F.mse_loss(z1, z2) + cfg.lambda_reg * reg
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if not math.isfinite(loss.item()): raise FloatingPointError('reference: non-finite loss')

    for _, (v1, v2, _y) in zip(range(a.warmup_steps), dl): step(v1, v2)
    sync(device); t0, steps = time.perf_counter(), 0
    for _ in range(a.epochs):
        for v1, v2, _y in dl: step(v1, v2); steps += 1
    sync(device)
    return time.perf_counter() - t0, steps

# ---------------------------------------------------------------- main
def sync(device):
    if device.type == 'cuda': torch.cuda.synchronize(device)

def device_name(device):
    if device.type == 'cuda': return torch.cuda.get_device_name(device)
    try: return next(l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name'))
    except (OSError, StopIteration): return platform.processor() or platform.machine()

def parse(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--device', default='auto', choices=('auto', 'cpu', 'cuda'))
    ap.add_argument('--images', type=int, help='training images (CUDA 50000, CPU 1024)')
    ap.add_argument('--width', type=int, help='ResNet-18 base width (CUDA 64, CPU 8)')
    ap.add_argument('--batch-size', type=int, help='images per step (CUDA 256, CPU 128)')
    ap.add_argument('--proj-dim', type=int, help='projector output width (CUDA 2048, CPU 256)')
    ap.add_argument('--proj-hidden', type=int, help='projector hidden width (default: --proj-dim)')
    ap.add_argument('--num-projections', type=int, help='N random directions of RDMReg (CUDA 8192, CPU 256)')
    ap.add_argument('--workers', type=int, help='DataLoader workers of the reference (CUDA min(8, cores), CPU 1)')
    ap.add_argument('--warmup-steps', type=int, help='untimed steps of each loop first (CUDA 20, CPU 2)')
    ap.add_argument('--epochs', type=int, default=1, help='timed epochs of each loop (default 1)')
    ap.add_argument('--threads', type=int, default=2, help='torch intra-op threads (default 2)')
    ap.add_argument('--compile', action='store_true', help='torch.compile the model in ours (the reference never compiles)')
    a = ap.parse_args(argv)
    a.device = torch.device(('cuda' if torch.cuda.is_available() else 'cpu') if a.device == 'auto' else a.device)
    for k, v in DEFAULTS[a.device.type].items():
        if getattr(a, k) is None: setattr(a, k, v)
    if a.proj_hidden is None: a.proj_hidden = a.proj_dim
    return a

def main(argv=None):
    a = parse(argv)
    device, B = a.device, a.batch_size
    torch.set_num_threads(a.threads)
    load = os.getloadavg()
    print(f"torch {torch.__version__}, {device_name(device)}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads, "
          f"load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1/5/15 min) at start\n")
    train, val = synthetic(a.images), synthetic(min(a.images, 256), seed=1)
    spe = a.images // B

    run_ours(a, device, train, val, max_steps=a.warmup_steps)                       # warm-up (kernels, compile caches)
    m = run_ours(a, device, train, val)
    ours_s, ours_steps = m['train_s'], m['step']
    cfg = config(a, device, 'unused')
    ref_s, ref_steps = run_reference(a, device, train, cfg)

    rows = [(f"ours: rlpjepa.train.pretrain{' + compile' if a.compile else ''}", ours_s, ours_steps),
            (f"reference: DataLoader (num_workers={a.workers}) + PIL transforms + plain Eq. 13", ref_s, ref_steps)]
    ips = {name: steps * B / s for name, s, steps in rows}
    ref_ips = ips[rows[1][0]]
    print("| loop | images | batch | s/epoch (measured) | s per 50k-image epoch (extrapolated) | images/s | speed-up vs reference |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, s, steps in rows:
        print(f"| {name} | {a.images:,} | {B} | {s / steps * spe:.2f} | {50_000 / ips[name]:.1f} | {ips[name]:.0f} | "
              f"{ips[name] / ref_ips:.2f}× |")
    print(f"\nResNet-18 (CIFAR stem, backbone '{backbone_name(a.width)}') width {a.width}, projector {a.proj_hidden}-{a.proj_hidden}-{a.proj_dim}, N {a.num_projections}, "
          f"bf16 autocast, LARS, {spe} steps per epoch. ours: a warm-up call of {a.warmup_steps} steps, then a timed call of "
          f"{a.epochs} epoch(s); s/epoch = train_s / steps × {spe} (train_s excludes online evaluation and checkpoints). "
          f"reference: {a.warmup_steps} warm-up steps, then {a.epochs} timed epoch(s). "
          f"The 50k column is 50,000 / images/s. Data: random uint8 images, random labels.")

    speedup, per50k = ips[rows[0][0]] / ref_ips, 50_000 / ips[rows[0][0]]
    if device.type == 'cpu': fast = ratio = 'not measured (CPU)'
    elif 'H200' not in device_name(device): fast = ratio = f'not measured (not an H200: {device_name(device)})'
    else:
        fast = f"{'MET' if per50k <= 5 else 'NOT MET'} ({per50k:.1f} s)"
        ratio = f"{'MET' if speedup >= 3 else 'NOT MET'} ({speedup:.2f}×)"
    print(f"\nGoal on an H200: ≤ 5 s per 50k epoch and ≥ 3× the reference. ≤ 5 s per 50k epoch: {fast}; ≥ 3× the reference: {ratio}.")

if __name__ == '__main__':
    main()
