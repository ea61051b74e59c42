"""Images/s of one Rectified LpJEPA pretraining step: a reference DataLoader + per-sample PIL loop vs rlpjepa's batched pipeline; prints markdown tables.

Both sides train the same encoder (small_resnet width 16 + rectified_mlp 512-512-512 on Fashion-MNIST) with the
same optimizer (rlpjepa.train.build_optimizer: LARS, lr 0.3) and the same loss λ_inv·MSE + λ_reg·RDMReg
(λ_inv 25, λ_reg 125, N random directions drawn fresh each step, fresh RGN_1 target samples each step):

* (a) reference: torch DataLoader over Fashion-MNIST, per-sample PIL torchvision transforms (RandomResizedCrop(28,
  scale=(0.2, 1)), RandomHorizontalFlip, RandomSolarize p .1, ToTensor, Normalize) giving two views; the plain
  RDMReg of Eq. 13 ((B, N) = z @ P.T for both sides, torch.sort along dim 0); fp32.
* (b) ours: in-memory uint8 batches (rlpjepa.data.batches) + rlpjepa.data.Augment('fashion_mnist') batched on the
  device + rlpjepa.train.DistributionMatchingLoss (rlpjepa.regularizers.RDMReg); fp32, and bf16 autocast +
  channels_last (the engine's `precision=bf16 channels_last=true`; its CPU default is fp32).

The online linear probes of rlpjepa.train are left out of both (a pretraining step only). images/s counts the
batch (256 images per step), not the 512 views. Phases per step: data + augmentation (both views, to the
device), model forward (two views), loss forward + backward (to z), model backward (from z), optimizer step —
the backward is split with `torch.autograd.backward(z, dz)`, the same arithmetic as one `loss.backward()`.

Run: `python benchmarks/bench_pretrain.py [--steps 10] [--rounds 3] [--threads 2] [--workers 0,1] [--device auto]`.
On CUDA it also prints seconds per 50k-image epoch of ResNet-18 at 32 px (ours, bf16). Not a test: numbers
depend on the machine and its load (the variants are interleaved so that load hits all alike).
"""
import argparse, copy, os, platform, statistics, time
from pathlib import Path
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from rlpjepa import models as M
from rlpjepa.data import load_dataset, fetch, batches, Augment, ImageData, PRESETS
from rlpjepa.regularizers import random_projections, sliced_wasserstein
from rlpjepa.train import Config, DistributionMatchingLoss, build_optimizer, make_target

PHASES = ('data', 'fwd', 'loss', 'bwd', 'opt')
HEAD = ('data + aug', 'model fwd', 'loss fwd+bwd', 'model bwd', 'LARS step')

# ---------------------------------------------------------------- (a) the reference
def plain_rdmreg(z, y, P):
    "Eq. 13 as written: (B, N) projections of both sides, sorted along dim 0 with torch.sort."
    pz, py = (z @ P.T).sort(dim=0).values, (y @ P.T).sort(dim=0).values
    return (pz - py).square().mean()

class PlainLoss(nn.Module):
    "λ_inv·MSE(z1, z2) + λ_reg·½[RDMReg(z1) + RDMReg(z2)], plain layout, fresh directions and target samples each step."
    def __init__(self, target, lambda_inv=25., lambda_reg=125., num_projections=1024):
        super().__init__()
        self.target, self.lambda_inv, self.lambda_reg, self.n = target, lambda_inv, lambda_reg, num_projections
    def forward(self, z1, z2):
        z1, z2 = z1.float(), z2.float()
        B, D = z1.shape
        P = random_projections(self.n, D, device=z1.device)
        reg = sum(plain_rdmreg(z, self.target.sample((B, D)).to(z.device), P) for z in (z1, z2)) / 2
        inv = F.mse_loss(z1, z2)
        return self.lambda_inv * inv + self.lambda_reg * reg, dict(invariance=inv, rdmreg=reg)

class PILTwoViews(torch.utils.data.Dataset):
    "Fashion-MNIST as torchvision's FashionMNIST serves it (a PIL 'L' image per index), two transformed views + label."
    def __init__(self, data:ImageData, transform):
        self.x, self.y, self.t = data.x[:, 0].numpy(), data.y.tolist(), transform
    def __len__(self): return len(self.x)
    def __getitem__(self, i):
        img = Image.fromarray(self.x[i])
        return self.t(img), self.t(img), self.y[i]

def reference_transform(size=28):
    import torchvision.transforms as T
    cfg = PRESETS['fashion_mnist']
    return T.Compose([T.RandomResizedCrop(size, scale=(0.2, 1.0)), T.RandomHorizontalFlip(),
                      T.RandomSolarize(threshold=128, p=0.1), T.ToTensor(), T.Normalize(cfg['mean'], cfg['std'])])

# ---------------------------------------------------------------- one step, timed by phase
class Runner:
    "One training setup; `step()` runs a pretraining step and returns the seconds of each phase."
    def __init__(self, name, model, loss_fn, next_views, device, bf16=False, channels_last=False):
        self.name, self.loss_fn, self.next_views, self.device = name, loss_fn.to(device), next_views, device
        self.bf16, self.cl = bf16, channels_last
        self.model = model.to(device)
        if channels_last: self.model = self.model.to(memory_format=torch.channels_last)
        self.opt = build_optimizer(Config(batch_size=256), self.model)
        self.times = []      # per timed step: dict phase -> s

    def sync(self):
        if self.device.type == 'cuda': torch.cuda.synchronize(self.device)

    def step(self, phases=True):
        sync = self.sync if phases else (lambda: None)
        t = [time.perf_counter()]
        v1, v2 = self.next_views()
        if self.cl: v1, v2 = (v.contiguous(memory_format=torch.channels_last) for v in (v1, v2))
        sync(); t.append(time.perf_counter())
        with torch.autocast(self.device.type, torch.bfloat16, enabled=self.bf16):
            (_, z1), (_, z2) = self.model(v1), self.model(v2)
        sync(); t.append(time.perf_counter())
        a, b = z1.detach().requires_grad_(), z2.detach().requires_grad_()
        with torch.autocast(self.device.type, torch.bfloat16, enabled=self.bf16):
            loss, _ = self.loss_fn(a, b)
        loss.backward()
        lv = loss.item()                  # the NaN check of rlpjepa.train
        t.append(time.perf_counter())
        torch.autograd.backward((z1, z2), (a.grad, b.grad))
        sync(); t.append(time.perf_counter())
        self.opt.step(); self.opt.zero_grad(set_to_none=True)
        self.sync(); t.append(time.perf_counter())
        assert lv == lv, f"{self.name}: NaN loss"
        return dict(zip(PHASES, (t[i + 1] - t[i] for i in range(5))))

def cycle(make_iter):
    "Endless iterator over fresh epochs of `make_iter()`."
    while True: yield from make_iter()

# ---------------------------------------------------------------- setups
def encoder(name, in_chans, width, seed=0):
    torch.manual_seed(seed)
    bb = M.backbone(name, in_chans=in_chans, width=width)
    return M.JointEmbedding(bb, M.projector('rectified_mlp', bb.num_features, 512, 512))

def reference_runner(data, model, target, N, device, workers, B):
    dl = torch.utils.data.DataLoader(PILTwoViews(data, reference_transform(data.x.shape[-1])), batch_size=B,
                                     shuffle=True, drop_last=True, num_workers=workers,
                                     persistent_workers=workers > 0, pin_memory=device.type == 'cuda')
    it = cycle(lambda: iter(dl))
    def views():
        x1, x2, _ = next(it)
        return x1.to(device, non_blocking=True), x2.to(device, non_blocking=True)
    return Runner(f"(a) reference, DataLoader num_workers={workers}, plain RDMReg, fp32", model,
                  PlainLoss(target, 25., 125., N), views, device)

def ours_runner(data, model, target, N, device, preset, B, bf16, cl, label=''):
    aug = Augment(preset, data.x.shape[-1]).to(device)
    gen = torch.Generator().manual_seed(0)
    it = cycle(lambda: iter(batches(data, B, True, gen, True, device)))
    def views():
        x, _ = next(it)
        return aug.two_views(x)
    prec = 'bf16 autocast + channels_last' if bf16 and cl else 'bf16' if bf16 else 'fp32'
    return Runner(f"(b) ours{label}, {prec}", model, DistributionMatchingLoss(target, 25., 125., N, 'random', seed=0),
                  views, device, bf16, cl)

def interleave(runners, steps, rounds, warmup, B, phases=True):
    "Warm up each runner, then `rounds` rounds of `steps` steps each, alternating the order; per-round images/s."
    for r in runners:
        for _ in range(warmup): r.step(phases)
    ips = {r.name: [] for r in runners}
    for k in range(rounds):
        for r in (runners if k % 2 == 0 else runners[::-1]):
            r.sync(); t0 = time.perf_counter()
            for _ in range(steps): r.times.append(r.step(phases))
            r.sync(); ips[r.name].append(steps * B / (time.perf_counter() - t0))
    return ips

def table(runners, ips):
    print("| setup | images/s (median) | min–max over rounds | ms/step | " + " | ".join(f"{h} (ms)" for h in HEAD) + " |")
    print("|---|---:|---:|---:|" + "---:|" * len(HEAD))
    for r in runners:
        med = {p: 1e3 * statistics.median(t[p] for t in r.times) for p in PHASES}
        total = 1e3 * statistics.median(sum(t.values()) for t in r.times)
        v = ips[r.name]
        print(f"| {r.name} | {statistics.median(v):.0f} | {min(v):.0f}–{max(v):.0f} | {total:.0f} | "
              + " | ".join(f"{med[p]:.1f}" for p in PHASES) + " |")

def sanity(target, N, device):
    "The two RDMReg layouts compute the same number (same z, y and directions)."
    g = torch.Generator().manual_seed(1)
    z, y = torch.randn(256, 512, generator=g).relu().to(device), target.sample((256, 512)).to(device)
    P = random_projections(N, 512, g).to(device)
    a, b = sliced_wasserstein(z, y, P).item(), plain_rdmreg(z, y, P).item()
    assert abs(a - b) <= 1e-5 * abs(b), (a, b)

# ---------------------------------------------------------------- main
def device_name(device):
    return torch.cuda.get_device_name(device) if device.type == 'cuda' else (platform.processor() or platform.machine())

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--steps', type=int, default=10, help='timed steps per round (default 10)')
    ap.add_argument('--rounds', type=int, default=3, help='interleaved rounds (default 3)')
    ap.add_argument('--warmup', type=int, default=3, help='untimed steps per setup first (default 3)')
    ap.add_argument('--threads', type=int, default=2, help='torch intra-op threads (default 2)')
    ap.add_argument('--workers', default='0,1', help='DataLoader num_workers of the reference, comma-separated (default 0,1)')
    ap.add_argument('--device', default='auto', help="'auto' (cuda if available), 'cpu', 'cuda', ...")
    ap.add_argument('--num-projections', type=int, default=1024, help='N (default 1024)')
    ap.add_argument('--batch-size', type=int, default=256)
    ap.add_argument('--root', default=str(Path(__file__).resolve().parents[1] / 'data'), help='data folder (default: the repo data/)')
    ap.add_argument('--no-fp32', action='store_true', help='skip ours in fp32')
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    device = torch.device(('cuda' if torch.cuda.is_available() else 'cpu') if a.device == 'auto' else a.device)
    B, N, workers = a.batch_size, a.num_projections, [int(w) for w in a.workers.split(',') if w.strip()]

    if not (Path(a.root) / 'fashion_mnist' / 'train-images-idx3-ubyte.gz').exists(): fetch('fashion_mnist', a.root)
    data = load_dataset('fashion_mnist', 'train', a.root)
    target = make_target(Config(), rectified=True)          # RGN_1(0, σ_GN(1)), the authors' default
    sanity(target, N, device)
    load = os.getloadavg()
    dev_name = device_name(device)
    print(f"torch {torch.__version__}, {dev_name}, {os.cpu_count()} cores, {a.threads} torch threads, "
          f"load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1/5/15 min) at start")
    print(f"Fashion-MNIST {tuple(data.x.shape)}, batch {B} (2 views), small_resnet w16 + rectified_mlp 512-512-512, "
          f"LARS lr 0.3, λ_inv 25, λ_reg 125, N {N}; {a.warmup} warm-up steps, then {a.rounds} interleaved rounds of "
          f"{a.steps} steps; images/s counts {B} images per step (not the {2*B} views)\n")

    base = encoder('small_resnet', 1, 16)
    runners = [reference_runner(data, copy.deepcopy(base), target, N, device, w, B) for w in workers]
    data_dev = data.to(device) if device.type == 'cuda' else data       # the whole set on the GPU
    if device.type == 'cpu' and not a.no_fp32:
        runners.append(ours_runner(data_dev, copy.deepcopy(base), target, N, device, 'fashion_mnist', B, False, False))
    runners.append(ours_runner(data_dev, copy.deepcopy(base), target, N, device, 'fashion_mnist', B, True, True))
    ips = interleave(runners, a.steps, a.rounds, a.warmup, B)
    table(runners, ips)

    refs, ours = [r for r in runners if r.name.startswith('(a)')], [r for r in runners if r.name.startswith('(b)')]
    med = {k: statistics.median(v) for k, v in ips.items()}
    print("\n| speed-up (b)/(a), median images/s | " + " | ".join(f"vs {r.name.split(',')[1].strip()}" for r in refs) + " |")
    print("|---|" + "---:|" * len(refs))
    for o in ours: print(f"| {o.name} | " + " | ".join(f"{med[o.name] / med[r.name]:.2f}×" for r in refs) + " |")
    end = os.getloadavg()
    print(f"\nload average at the end: {end[0]:.2f} / {end[1]:.2f} / {end[2]:.2f}")

    if device.type == 'cuda': gpu_epoch(device, a, target)

def gpu_epoch(device, a, target, n=50_000):
    "Seconds per 50k-image epoch of ResNet-18 at 32 px, ours with bf16 autocast + channels_last, random uint8 data."
    B, N = a.batch_size, a.num_projections
    g = torch.Generator(device).manual_seed(0)
    x = torch.randint(0, 256, (n, 3, 32, 32), generator=g, device=device, dtype=torch.uint8)
    data = ImageData(x, torch.zeros(n, dtype=torch.int64, device=device), [str(i) for i in range(10)], 'random')
    r = ours_runner(data, encoder('resnet18', 3, 64), target, N, device, 'cifar', B, True, True, label=' ResNet-18 32 px')
    ips = interleave([r], a.steps, a.rounds, max(a.warmup, 5), B, phases=False)   # throughput without per-phase syncs
    r.times.clear()
    for _ in range(a.steps): r.times.append(r.step(True))                      # breakdown with syncs
    print(f"\nResNet-18 (CIFAR stem) + rectified_mlp 512-512-512, 32 px, random uint8 data, 'cifar' Augment, batch {B}, "
          f"N {N}, {device_name(device)}; phase columns from {a.steps} extra steps with a sync after each phase\n")
    table([r], ips)
    print(f"\nseconds per {n:,}-image epoch: {n / statistics.median(ips[r.name]):.1f}")

if __name__ == '__main__':
    main()
