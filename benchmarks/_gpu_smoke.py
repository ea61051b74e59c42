"""Paper-profile smoke on CIFAR-100-format files (helper of benchmarks/gpu_check.sh; `_`: not run by `make bench`).

Writes random images in CIFAR-100's python-pickle format (what `rlpjepa-fetch cifar100` unpacks), then trains with the
paper profile's `encoder_a` settings (ResNet-18, CIFAR stem, projector 512, λ_reg 250, N 8192, bf16 on CUDA) for
`--steps` steps with partial checkpoints. `--kill-at K` makes the run kill itself with SIGKILL right after the first
partial checkpoint at step ≥ K (a preemption); run it again to resume. The files are random, so their md5 sums are
not CIFAR's: the data is loaded with `verify=False` and passed to `pretrain`, which is why this is not the CLI.

python benchmarks/_gpu_smoke.py --root DIR --out DIR [--steps 300] [--kill-at 150] [--images 12800] [--cpu-small]
"""
import argparse, os, pickle, signal, sys
from pathlib import Path
import numpy as np

def write_cifar100(root:Path, n_train:int, n_test:int, seed:int=0):
    d = root/'cifar100'/'cifar-100-python'
    if (d/'meta').exists(): return
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for split, n in (('train', n_train), ('test', n_test)):
        pickle.dump({'data': rng.integers(0, 256, (n, 3072), dtype=np.uint8), 'fine_labels': rng.integers(0, 100, n).tolist()}, open(d/split, 'wb'))
    pickle.dump({'fine_label_names': [f'c{i}' for i in range(100)]}, open(d/'meta', 'wb'))

def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument('--root', required=True); ap.add_argument('--out', required=True)
    ap.add_argument('--steps', type=int, default=300); ap.add_argument('--kill-at', type=int, default=0)
    ap.add_argument('--images', type=int, default=12_800); ap.add_argument('--cpu-small', action='store_true')
    a = ap.parse_args(argv)
    import torch, yaml
    from rlpjepa.data import load_dataset
    from rlpjepa.orchestrate import apply_profile
    from rlpjepa.config import load_config
    import rlpjepa.train as T
    root = Path(a.root)
    write_cifar100(root, a.images, 1000)
    params = root/'params.yaml'
    params.write_text(Path('params.yaml').read_text()); (root/'params').mkdir(exist_ok=True)
    for f in ('paper.yaml', 'artifacts.yaml'): (root/'params'/f).write_text((Path('params')/f).read_text())
    apply_profile('paper', params)
    over = [f'root={root}', f'out={a.out}', f'partial_dir={root/".partial"}', 'ckpt_every=25', f'max_steps={a.steps}', 'progress=false',
            'eval_every=1000', 'dvclive=true', 'log_every=25', 'warmup_epochs=1']
    if a.cpu_small: over += ['backbone=small_resnet', 'width=4', 'proj_hidden=64', 'proj_dim=64', 'num_projections=64', 'batch_size=32']
    cfg = load_config(params, ['pretrain', 'encoder_a', 'runtime'], over)
    train, val = load_dataset('cifar100', 'train', root, verify=False), load_dataset('cifar100', 'test', root, verify=False)
    if a.kill_at:                       # preempted right after the first checkpoint at or past step kill_at
        save = T.save_checkpoint
        def save_then_die(state, path):
            p = save(state, path)
            if state['step'] >= a.kill_at: os.kill(os.getpid(), signal.SIGKILL)
            return p
        T.save_checkpoint = save_then_die
    m = T.pretrain(cfg, train_data=train, val_data=val)
    print(yaml.safe_dump({k: m[k] for k in ('step', 'session_starts', 'device', 'precision', 'data_on_device', 'images_per_s', 'train_s')}, sort_keys=False))

if __name__ == '__main__':
    main()
