"""Seconds of one run's offline evaluation on this machine, part by part, the old recipe against the new default and other candidates,
on the same features, with the accuracy each gives (issue: evaluation and references 5x faster on 2 cores).

What it times, for one finished run (default: results/runs/tab2/p2_mu0, encoder_a): feature extraction of its training
and test images (`rlpjepa.offline.run_features`, uncached), then for h and z the converged linear probe
(`rlpjepa.evaluate.lbfgs_probe`) and the weighted kNN (`knn_accuracy`). Variants, interleaved over `--rounds` (medians):

- `f64 (old)`  the old recipe: plain L-BFGS in float64 to a gradient of params.yaml's `probe.tol`, weights (D, C) and
              logits X @ W, as the library ran it when the issue was filed (`old_probe` below);
- `f64`, `f32` the library's solve without preconditioning (weights (C, D) through F.linear), in float64 and float32;
- `f32 pre`   the new default: float32, preconditioned by (Σ + l2)^(-1/2) (the same minimizer, see lbfgs_probe);
- `kNN chunk` the kNN with another test-block size (memory against speed; the result is identical);
- features    extraction in blocks of 1024 images (old) against 256 (new: the same features, bit for bit, faster on 2 cores),
              and under bf16 autocast (what `precision: auto` picks on CPUs with AMX; its linear-probe accuracy on h is
              printed beside fp32's).

Each variant's accuracy is printed beside the old recipe's, with the difference (the goal: within 0.05 points), and the time
ratio to the old recipe's measured in the same run. A run's evaluation is features + 2 probes + 2 kNN; the references stage is
the same work on 2 encoders x 3 init seeds x 6 projector kinds plus raw pixels.

Run: `python benchmarks/bench_eval.py [--run results/runs/tab2/p2_mu0] [--rounds 3] [--threads 2]`. Not a test.
"""
import argparse, platform, statistics, time
import torch
import yaml
from rlpjepa.config import cpu_has_amx, use_bf16
from rlpjepa.evaluate import extract_features, knn_accuracy, lbfgs_probe
from rlpjepa.offline import run_data, run_features
from rlpjepa.runs import load_run

def old_probe(Xtr, ytr, Xte, yte, l2, max_iter, tol):
    """The probe as evaluation ran it when the issue was filed (`lbfgs_probe` of dec2b16): standardized features, plain
    L-BFGS in float64, weights (D, C) with logits X @ W; kept here as the baseline the library's solve is timed against."""
    Xtr, Xte = Xtr.double(), Xte.double()
    mu, sd = Xtr.mean(0), Xtr.std(0, correction=0)
    sd = torch.where(sd > 1e-6 * (1 + mu.abs()), sd, torch.ones_like(sd))
    Xtr, Xte = (Xtr - mu) / sd, (Xte - mu) / sd
    C = int(max(ytr.max(), yte.max())) + 1
    W = torch.zeros(Xtr.shape[1], C, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(C, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([W, b], lr=1, max_iter=max_iter, max_eval=2 * max_iter, history_size=20,
                            tolerance_grad=tol, tolerance_change=1e-14, line_search_fn='strong_wolfe')
    def objective():
        opt.zero_grad(set_to_none=False)
        loss = torch.nn.functional.cross_entropy(Xtr @ W + b, ytr) + 0.5 * l2 * W.square().sum()
        loss.backward()
        return loss
    with torch.enable_grad(): opt.step(objective)
    with torch.no_grad(): acc = (torch.argmax(Xte @ W + b, 1) == yte).double().mean().item() * 100
    return acc, dict(n_iter=int(opt.state[opt._params[0]].get('n_iter', 0)))

def timed(fn, rounds):
    ts, out = [], None
    for _ in range(rounds):
        t = time.perf_counter(); out = fn(); ts.append(time.perf_counter() - t)
    return statistics.median(ts), out

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--run', default='results/runs/tab2/p2_mu0')
    ap.add_argument('--root', default='data')
    ap.add_argument('--params', default='params.yaml')
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--threads', type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    probe = yaml.safe_load(open(a.params))['probe']
    print(f'# {platform.processor() or platform.machine()}, torch {torch.__version__}, {a.threads} threads, run {a.run}')
    data = {s: run_data(a.run, s, a.root) for s in ('train', 'test')}
    feat = lambda bs: tuple(run_features(a.run, data=data[s], cache=False, batch_size=bs) for s in ('train', 'test'))
    fts = {}
    for _ in range(a.rounds):                           # interleaved, as below
        for bs in (1024, 256): fts.setdefault(bs, []).append(timed(lambda: feat(bs), 1))
    (tr, te), (tr0, te0) = fts[256][0][1], fts[1024][0][1]
    same = all(torch.equal(x, y) for x, y in zip(tr + te, tr0 + te0))
    t_old, t_feat = (statistics.median(t for t, _ in fts[bs]) for bs in (1024, 256))
    print(f'features (train {tuple(tr[0].shape)}, test {tuple(te[0].shape)}, h and z): blocks of 1024 (old) {t_old:.2f} s, '
          f'256 (new) {t_feat:.2f} s ({t_old / t_feat:.2f}x), identical: {same}')
    model, cfg, tf = load_run(a.run)
    t_bf, (trb, teb) = timed(lambda: tuple(extract_features(model, data[s], tf, 256, 'cpu', amp=True, channels_last=bool(cfg.channels_last))
                                           for s in ('train', 'test')), 1)
    kw = dict(l2=probe['l2'], max_iter=probe['max_iter'], tol=probe['tol'])
    acc32, acc16 = (lbfgs_probe(x[0], x[2], y[0], y[2], **kw) for x, y in ((tr, te), (trb, teb)))
    print(f"features under bf16 autocast: {t_bf:.2f} s ({t_feat / t_bf:.2f}x of fp32's speed); linear probe on h {acc16:.2f} vs fp32 {acc32:.2f} "
          f"({acc16 - acc32:+.2f}); this CPU has AMX: {cpu_has_amx()}, so `precision: auto` evaluates in "
          f"{'bf16' if use_bf16('auto', 'cpu') else 'fp32'}")
    rows, conv = [], {}
    for part, i in (('h', 0), ('z', 1)):
        args = (tr[i], tr[2], te[i], te[2])
        variants = {'linear f64 (old)': lambda: old_probe(*args, **kw),
                    'linear f64': lambda: lbfgs_probe(*args, **kw, return_info=True, dtype=torch.float64, precondition=False),
                    'linear f32': lambda: lbfgs_probe(*args, **kw, return_info=True, dtype=torch.float32, precondition=False),
                    'linear f32 pre (new)': lambda: lbfgs_probe(*args, **kw, return_info=True),
                    'kNN chunk 1024 (old)': lambda: (knn_accuracy(*args, k=probe['knn_k'], T=probe['knn_t']), {}),
                    'kNN chunk 4096': lambda: (knn_accuracy(*args, k=probe['knn_k'], T=probe['knn_t'], chunk_size=4096), {})}
        conv[part] = lbfgs_probe(*args, **dict(kw, tol=1e-7, max_iter=5000), dtype=torch.float64)   # the minimizer itself
        res = {}
        for _ in range(a.rounds):                       # interleaved rounds: the machine's load hits every variant alike
            for name, fn in variants.items():
                t, (acc, info) = timed(fn, 1)
                res.setdefault(name, dict(ts=[], acc=acc, iters=info.get('n_iter')))['ts'].append(t)
        for name, r in res.items():
            base = res['linear f64 (old)' if name.startswith('linear') else 'kNN chunk 1024 (old)']
            med, bmed = statistics.median(r['ts']), statistics.median(base['ts'])
            rows.append((part, name, med, bmed / med, r['acc'], r['acc'] - base['acc'], r['iters']))
    print(f"\n{'part':4} {'variant':24} {'s (median)':>10} {'speed-up':>9} {'top-1 %':>8} {'diff':>7} {'vs conv.':>8} {'iters':>6}")
    for part, name, med, sp, acc, d, it in rows:
        vc = f'{acc - conv[part]:+8.2f}' if name.startswith('linear') else ' ' * 8
        print(f"{part:4} {name:24} {med:10.2f} {sp:8.2f}x {acc:8.2f} {d:+7.2f} {vc} {'' if it is None else it:>6}")
    print(f"(diff: to the old recipe; vs conv.: to the converged probe, float64 to a gradient of 1e-7: h {conv['h']:.2f}, z {conv['z']:.2f})")
    old = t_old + sum(r[2] for r in rows if r[1].endswith('(old)'))
    new = t_feat + sum(r[2] for r in rows if r[1].endswith('(new)') or r[1] == 'kNN chunk 1024 (old)')
    best = t_feat + sum(min(r[2] for r in rows if r[0] == p and r[1].startswith(k)) for p in 'hz' for k in ('linear', 'kNN'))
    print(f"\none run's evaluation (features {t_old:.1f} / {t_feat:.1f} s + probes): old recipe {old:.1f} s, new {new:.1f} s ({old / new:.2f}x), "
          f"fastest variants {best:.1f} s ({old / best:.2f}x); the goal is 5x")

if __name__ == '__main__':
    main()
