"""The bad-input suite: one bad or risky input per case, fed to the library, a console script or the pipeline.

Each case asserts three things:
  1. the error has the expected type (a console script's usage error is `SystemExit` 2, its message on stderr);
  2. the message names the problem (every listed fragment appears in it: the argument, file or key, and why);
  3. nothing written before changed: the SHA-256 of every file under the case's work folder (which holds a
     finished tiny run, its evaluation, a params file and a references table) is the same after the call.

The tiny run trains once per session on `digits` (in memory, no download, a few seconds).
"""
import contextlib, hashlib, io, json, math, os, shutil
from pathlib import Path

import pytest
import torch

import rlpjepa.augment as AU
import rlpjepa.checkpoint as CK
import rlpjepa.config as CF
import rlpjepa.core as CO
import rlpjepa.dag as DG
import rlpjepa.data as DA
import rlpjepa.distributed as DI
import rlpjepa.distributions as D
import rlpjepa.evaluate as E
import rlpjepa.explorer as X
import rlpjepa.fetch as FE
import rlpjepa.launch as LA
import rlpjepa.metrics as M
import rlpjepa.models as MO
import rlpjepa.offline as OF
import rlpjepa.orchestrate as OR
import rlpjepa.regularizers as R
import rlpjepa.runs as RU
import rlpjepa.train as T

ROOT = Path(__file__).resolve().parents[1]
CASES = []

def case(cid, exc, *fragments, setup=None):
    "Register `fn(w)` (w = the work folder) as a case that must raise `exc` with every one of `fragments` in its message."
    def deco(fn):
        CASES.append(pytest.param(fn, exc, fragments, setup, id=cid))
        return fn
    return deco

def hashes(d: Path) -> dict:
    return {str(f.relative_to(d)): hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(d.rglob('*')) if f.is_file()}

TINY = dict(method='rectified_lpjepa', dataset='digits', backbone='lenet', width=4, proj_hidden=16, proj_dim=16,
            epochs=1, batch_size=64, num_projections=32, train_subset=512, progress=False, dvclive=False, warmup_epochs=0.)

@pytest.fixture(scope='module')
def work(tmp_path_factory):
    "A folder with a finished run (runs/g/a), its offline evaluation, params files and a references table."
    w = tmp_path_factory.mktemp('bad_inputs')
    torch.manual_seed(0)
    T.pretrain(dict(TINY, out=str(w/'runs'/'g'/'a')))
    (w/'probe.yaml').write_text("probe: {l2: 0.001, max_iter: 200, tol: 3.0e-4, knn_k: 5, knn_t: 0.07}\n")
    OF.eval_cli([str(w/'runs'/'g'/'a'), '--params', str(w/'probe.yaml')])
    (w/'params.yaml').write_text((ROOT/'params.yaml').read_text())
    (w/'dag.yaml').write_text((ROOT/'dag.yaml').read_text())
    (w/'refs').mkdir(); (w/'refs'/'references.csv').write_text('encoder,reference\nencoder_a,raw pixels\n')
    (w/'notidx.bin').write_bytes(b'hello world, not an idx file')
    return w

RUN = lambda w: w/'runs'/'g'/'a'

def cli_error(fn, argv) -> str:
    "Run a console script in-process; return its usage-error message (argparse exits 2), or fail if it succeeded."
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try: fn([str(a) for a in argv])
        except SystemExit as e:
            if e.code != 2: raise AssertionError(f"exit status {e.code}, expected 2 (usage error): {err.getvalue()}")
            raise UsageError(err.getvalue()) from None
    raise AssertionError(f"{argv}: no error")

class UsageError(Exception): pass

z = lambda: torch.rand(16, 8, generator=torch.Generator().manual_seed(0))
rgn = lambda: D.RectifiedGeneralizedGaussian(1., 0., 1.)
feats = lambda n, d, s=0: torch.rand(n, d, generator=torch.Generator().manual_seed(s))

# ---- library: distributions -------------------------------------------------------------------------------------
case('gn_p_zero', ValueError, '`p`', '> 0')(lambda w: D.GeneralizedGaussian(0., 0., 1.))
case('gn_p_negative', ValueError, '`p`', '> 0')(lambda w: D.GeneralizedGaussian(-1., 0., 1.))
case('gn_scale_zero', ValueError, '`scale`', '> 0')(lambda w: D.GeneralizedGaussian(2., 0., 0.))
case('gn_loc_nan', ValueError, '`loc`', 'NaN')(lambda w: D.GeneralizedGaussian(2., float('nan'), 1.))
case('rgn_scale_negative', ValueError, '`scale`', '> 0')(lambda w: D.RectifiedGeneralizedGaussian(1., 0., -1.))
case('tgn_scale_zero', ValueError, '`scale`', '> 0')(lambda w: D.TruncatedGeneralizedGaussian(2., 0., 0.))
case('sigma_gn_zero', ValueError, '`p`', '> 0')(lambda w: D.sigma_gn(0))
case('sigma_gn_string', ValueError, '`p`', 'must be a number', "'a'")(lambda w: D.sigma_gn('a'))
case('sigma_gn_inf', ValueError, '`p`', 'finite')(lambda w: D.sigma_gn(float('inf')))
# ---- library: regularizers --------------------------------------------------------------------------------------
case('projections_n_zero', ValueError, '`n`', 'positive int')(lambda w: R.random_projections(0, 4))
case('projections_d_zero', ValueError, '`d`', 'positive int')(lambda w: R.random_projections(4, 0))
case('svd_mode_unknown', ValueError, '`mode`', "'top'")(lambda w: R.svd_projections(z(), 4, mode='top'))
case('sw_shapes_differ', ValueError, '`y`', 'shape of `x`')(lambda w: R.sliced_wasserstein(z(), feats(16, 7), torch.randn(4, 8)))
case('sw_projection_dims', ValueError, '`projections`', '(N, 8)')(lambda w: R.sliced_wasserstein(z(), z(), torch.randn(4, 3)))
case('sw_nan', ValueError, '`x`')(lambda w: R.sliced_wasserstein(z() * float('nan'), z(), torch.randn(4, 8)))
case('rdmreg_target_no_sample', ValueError, '`target`', 'sample')(lambda w: R.RDMReg(object(), 8))
case('rdmreg_projections_unknown', ValueError, '`projections`', "'foo'")(lambda w: R.RDMReg(rgn(), 8, projections='foo'))
case('rdmreg_zero_projections', ValueError, '`num_projections`', 'positive int')(lambda w: R.RDMReg(rgn(), 0))
case('rdmreg_one_row', ValueError, '`z1`', 'at least 2 rows')(lambda w: R.RDMReg(rgn(), 8)(z()[:1]))
case('rdmreg_integer_features', ValueError, '`z1` must be a floating-point tensor, got dtype torch.int64')(lambda w: R.RDMReg(rgn(), 8)(torch.ones(4, 3, dtype=torch.long)))
case('rdmreg_integer_second_view', ValueError, '`z2` must be a floating-point tensor, got dtype torch.int32')(lambda w: R.RDMReg(rgn(), 8)(z(), z().int()))
case('rdmreg_list_features', ValueError, '`z1` must be a floating-point tensor, got list')(lambda w: R.RDMReg(rgn(), 8)(z().tolist()))
case('rdmreg_one_dim', ValueError, '`z1` must be 2-D (batch, dim), got shape (128,)')(lambda w: R.RDMReg(rgn(), 8)(z().flatten()))
case('sw_integer_target', ValueError, '`y` must be a floating-point tensor, got dtype torch.int64')(lambda w: R.sliced_wasserstein(z(), z().long(), torch.randn(4, 8)))
case('sw_projections_list', ValueError, '`projections` must be a tensor of shape (N, 8), got list')(lambda w: R.sliced_wasserstein(z(), z(), [[1.] * 8]))
case('svd_integer_features', ValueError, '`z` must be a floating-point tensor, got dtype torch.int64')(lambda w: R.svd_projections(z().long(), 4))
case('sigreg_integer_features', ValueError, '`z` must be a floating-point tensor, got dtype torch.int64')(lambda w: R.sigreg(z().long(), torch.randn(4, 8)))
case('vicreg_integer_features', ValueError, '`z1` must be a floating-point tensor, got dtype torch.int32')(lambda w: R.vicreg_loss(z().int(), z()))
case('info_nce_bool_features', ValueError, '`z2` must be a floating-point tensor, got dtype torch.bool')(lambda w: R.info_nce(z(), z() > 0.5))
case('ncl_integer_features', ValueError, '`z1` must be a floating-point tensor, got dtype torch.int64')(lambda w: R.ncl_loss(z().long(), z()))
case('rep_relu_integer', ValueError, '`x` must be a floating-point tensor, got dtype torch.int64')(lambda w: R.rep_relu(torch.arange(4)))
case('rdmreg_nan', ValueError, '`z1`')(lambda w: R.RDMReg(rgn(), 8)(z().masked_fill(z() > 0.9, float('nan'))))
case('sigreg_points', ValueError, '`n_points`', '≥ 2')(lambda w: R.sigreg(z(), torch.randn(4, 8), n_points=1))
case('sigreg_t_max', ValueError, '`t_max`', '> 0')(lambda w: R.sigreg(z(), torch.randn(4, 8), t_max=-1))
case('sigreg_nan', ValueError, '`z`', 'finite')(lambda w: R.sigreg(z() * float('nan'), torch.randn(4, 8)))
case('lejepa_lambda', ValueError, '`lam`', '[0, 1]')(lambda w: R.lejepa_loss(z(), z(), torch.randn(4, 8), lam=2))
case('vicreg_shapes', ValueError, '`z2`', 'shape of `z1`')(lambda w: R.vicreg_loss(z(), z()[:, :4]))
case('vicreg_nan', ValueError, '`z1` and `z2`', 'finite')(lambda w: R.vicreg_loss(z() * float('nan'), z()))
case('vicreg_inf', ValueError, '`z1` and `z2`', 'finite')(lambda w: R.vicreg_loss(z(), z().masked_fill(z() > 0.5, float('inf'))))
case('info_nce_temperature', ValueError, '`temperature`', '> 0')(lambda w: R.info_nce(z(), z(), temperature=0))
case('info_nce_inf', ValueError, '`z1` and `z2`', 'finite')(lambda w: R.info_nce(z().masked_fill(z() > 0.5, float('inf')), z()))
case('info_nce_nan', ValueError, '`z1` and `z2`', 'finite')(lambda w: R.info_nce(z(), z() * float('nan')))
case('ncl_non_neg', ValueError, '`non_neg`', "'gelu'")(lambda w: R.ncl_loss(z(), z(), non_neg='gelu'))
case('ncl_nan', ValueError, '`z1` and `z2`', 'finite')(lambda w: R.ncl_loss(z() * float('nan'), z()))
case('invariance_nan', ValueError, '`z1` and `z2`', 'finite')(lambda w: R.invariance_loss(z() * float('nan'), z()))
# ---- library: metrics -------------------------------------------------------------------------------------------
case('l0_one_dim', ValueError, '`z`', '2-D')(lambda w: M.l0_sparsity(torch.rand(5)))
case('l0_nan', ValueError, '`z`', 'finite')(lambda w: M.l0_sparsity(z() * float('nan')))
case('nhsic_samples', ValueError, '`n_samples`', '≥ 2')(lambda w: M.nhsic(z(), n_samples=1))
case('meter_dims_change', ValueError, '`z`', '3 dims', 'earlier batches had 8')(lambda w: M.SparsityMeter().update(z()).update(torch.rand(4, 3)))
# ---- library: data ----------------------------------------------------------------------------------------------
case('idx_not_idx', ValueError, 'notidx.bin', 'not an idx file')(lambda w: DA.read_idx(w/'notidx.bin'))
case('dataset_unknown', ValueError, "'fmnist'", 'fashion_mnist')(lambda w: DA.load_dataset('fmnist'))
case('dataset_split', ValueError, '`split`', "'valid'")(lambda w: DA.load_dataset('fashion_mnist', 'valid'))
case('dataset_missing_root', FileNotFoundError, 'nodata', 'rlpjepa-fetch')(lambda w: DA.load_dataset('fashion_mnist', 'train', w/'nodata'))
case('augment_preset', ValueError, "'imagenet1k'", 'cifar')(lambda w: AU.Augment('imagenet1k', 32))
case('augment_size_zero', ValueError, '`size`', 'positive int')(lambda w: AU.Augment('cifar', 0))
case('eval_transform_size', ValueError, '`size`', 'positive int')(lambda w: AU.EvalTransform('cifar', -3))
case('num_batches_zero', ValueError, '`batch_size`', 'positive int')(lambda w: DA.num_batches(10, 0))
# ---- library: models --------------------------------------------------------------------------------------------
case('backbone_unknown', ValueError, "'resnet1000'", "did you mean 'resnet50'")(lambda w: MO.backbone('resnet1000'))
case('projector_unknown', ValueError, '`kind`', "'mlp9'")(lambda w: MO.projector('mlp9', 8, 8, 8))
case('nonneg_unknown', ValueError, '`kind`', "'gelu'")(lambda w: MO.nonneg('gelu'))
# ---- library: evaluation ----------------------------------------------------------------------------------------
y20, y10 = torch.arange(20) % 2, torch.arange(10) % 2
case('probe_dims', ValueError, '`test_feats` has 5 dims', '`train_feats` has 4')(lambda w: E.lbfgs_probe(feats(20, 4), y20, feats(10, 5), y10))
case('probe_labels', ValueError, '`train_y`', 'one label per row')(lambda w: E.lbfgs_probe(feats(20, 4), y20[:19], feats(10, 4), y10))
case('probe_l2', ValueError, '`l2`', 'non-negative')(lambda w: E.lbfgs_probe(feats(20, 4), y20, feats(10, 4), y10, l2=-1))
case('probe_nan', ValueError, '`train_feats`')(lambda w: E.lbfgs_probe(feats(20, 4) * float('nan'), y20, feats(10, 4), y10))
case('knn_k', ValueError, '`k`', 'positive integer')(lambda w: E.knn_accuracy(feats(20, 4), y20, feats(10, 4), y10, k=0))
case('knn_temperature', ValueError, '`T`', 'positive')(lambda w: E.knn_accuracy(feats(20, 4), y20, feats(10, 4), y10, T=0))
case('linear_probe_optimizer', ValueError, '`optimizer`', "'lbfgs'")(lambda w: E.linear_probe(feats(20, 4), y20, feats(10, 4), y10, optimizer='lbfgs'))
case('few_shot_zero', ValueError, '`shots`', 'positive integer')(lambda w: E.few_shot_indices(y20, shots=0))
case('evaluate_parts', ValueError, '`parts`', "'encoder', 'projector'")(lambda w: E.evaluate_features((z(), z(), torch.arange(16) % 2), (z(), z(), torch.arange(16) % 2), parts='h'))
# ---- library: the RGN explorer ----------------------------------------------------------------------------------
case('explorer_frame_p_zero', ValueError, '`p`', '> 0')(lambda w: X.rgn_frame(0, 0., 1.))
case('explorer_limits_q', ValueError, '`q`', '(0, 1)')(lambda w: X.explorer_limits([1, 2], 0., 1., q=1.5))
case('explorer_page_no_frames', ValueError, '`frames`', 'empty')(lambda w: X.explorer_html([], w/'explorer.html'))
# ---- library: training config and checkpoints -------------------------------------------------------------------
case('config_method', ValueError, "'method'", "did you mean 'vicreg'")(lambda w: CF.Config(method='vicrg'))
case('config_epochs_zero', ValueError, "'epochs'", '> 0')(lambda w: CF.Config(epochs=0))
case('config_lr_word', ValueError, "'lr'", 'float', "'fast'")(lambda w: CF.Config(lr='fast'))
case('config_lr_nan', ValueError, "'lr'", '> 0')(lambda w: CF.Config(lr='nan'))
case('config_unknown_key', ValueError, "'learning_rate'", 'valid keys')(lambda w: CF.Config.from_dict({'learning_rate': 0.1}))
case('config_non_neg_method', ValueError, "'non_neg'", "'nvicreg' and 'ncl'")(lambda w: CF.Config(non_neg='relu'))
case('config_pool_backbone', ValueError, "'pool'", "'lenet'")(lambda w: CF.Config(pool=1, backbone='small_resnet'))
case('config_sigma', ValueError, "'sigma'", "did you mean 'gn'")(lambda w: CF.Config(sigma='gm'))
case('config_precision', ValueError, "'precision'", "'fp16'")(lambda w: CF.Config(precision='fp16'))
case('config_mu_inf', ValueError, "'mu'", 'finite')(lambda w: CF.Config(mu=float('inf')))
case('config_nproc_zero', ValueError, "'nproc_per_node'", '> 0')(lambda w: CF.Config(nproc_per_node=0))
case('config_svd_batch', ValueError, "'svd_batch'", "did you mean 'local'")(lambda w: CF.Config(svd_batch='locl'))
case('devices_more_than_pool', ValueError, '3 device(s) wanted', 'the pool has 2')(lambda w: DI.claim_devices(3, pool=[0, 1], lock_dir=w/'locks'))
case('queue_jobs_zero', UsageError, '`jobs` must be a positive int')(lambda w: cli_error(OR.queue_cli, ['-j', '0']))
case('queue_jobs_word', UsageError, '-j/--jobs', "positive int or 'auto'", "'many'")(lambda w: cli_error(OR.queue_cli, ['-j', 'many', '--local']))
case('queue_local_no_stage', ValueError, 'no such stage', 'pretrain@fig3a/rgn-rekt', "did you mean 'pretrain@fig3a/rgn-rect'")(lambda w: OR.local_queue(['pretrain@fig3a/rgn-rekt'], 2, ROOT))
case('config_threads_negative', ValueError, "'threads'", '≥ 0, got -1')(lambda w: CF.Config(threads=-1))
case('override_no_equals', ValueError, "'lr'", 'key=value')(lambda w: CF.parse_overrides(['lr']))
case('override_bad_yaml', ValueError, "'lr=[1'", 'not valid YAML')(lambda w: CF.parse_overrides(['lr=[1']))
case('params_missing', FileNotFoundError, 'missing.yaml', 'does not exist')(lambda w: CF.load_config(w/'missing.yaml'))
case('params_section_missing', ValueError, "section 'pretrian'", 'not found')(lambda w: CF.load_config(w/'params.yaml', 'pretrian'))

def _corrupt_copy(w):
    dst = w/'runs'/'c'/'a'
    shutil.rmtree(dst.parent, ignore_errors=True); shutil.copytree(RUN(w), dst)
    f = dst/'ckpt'/'last.pt'; b = bytearray(f.read_bytes()); b[len(b) // 2:len(b) // 2 + 64] = bytes(64); f.write_bytes(bytes(b))
case('checkpoint_corrupt', ValueError, 'last.pt', 'corrupt', setup=_corrupt_copy)(lambda w: CK.load_checkpoint(w/'runs'/'c'/'a'/'ckpt'/'last.pt'))
case('load_run_corrupt', ValueError, 'last.pt', 'corrupt', setup=_corrupt_copy)(lambda w: RU.load_run(w/'runs'/'c'/'a'))
case('evaluate_corrupt', ValueError, 'last.pt', 'corrupt', setup=_corrupt_copy)(lambda w: OF.evaluate_run(w/'runs'/'c'/'a', cache=False))
case('checkpoint_missing', FileNotFoundError, 'nope.pt', 'does not exist')(lambda w: CK.load_checkpoint(w/'nope.pt'))
case('finished_run_fresh_start', ValueError, 'holds a finished run', 'overwrite=true')(
    lambda w: T.pretrain(dict(TINY, out=str(RUN(w)), resume='never')))
case('finished_run_other_config', ValueError, 'different config', "'lr'")(lambda w: T.pretrain(dict(TINY, out=str(RUN(w)), lr=0.5)))
case('batch_size_one', ValueError, "'batch_size' (1)", 'at least 2')(lambda w: T.pretrain(dict(TINY, out=str(w/'new'), batch_size=1)))
case('device_unknown', ValueError, "'device'", "'tpu9'")(lambda w: T.pretrain(dict(TINY, out=str(w/'new'), device='tpu9')))
if not torch.cuda.is_available():
    case('device_cuda_without_gpu', ValueError, "'device' is 'cuda'", 'no usable CUDA GPU', 'device=auto')(
        lambda w: T.pretrain(dict(TINY, out=str(w/'new'), device='cuda')))
# ---- console scripts -------------------------------------------------------------------------------------------
def pretrain_cli(w, *args): return cli_error(T.train_cli, ['--params', w/'params.yaml', '--section', 'pretrain', *args])
case('cli_pretrain_unknown_key', UsageError, "unknown config key 'ephocs'", "did you mean 'epochs'")(lambda w: pretrain_cli(w, 'ephocs=3'))
case('cli_pretrain_bad_value', UsageError, "config key 'epochs' must be int", "'three'")(lambda w: pretrain_cli(w, 'epochs=three'))
case('cli_pretrain_params_missing', UsageError, 'missing.yaml', 'does not exist')(lambda w: cli_error(T.train_cli, ['--params', w/'missing.yaml']))
case('cli_pretrain_section_missing', UsageError, "section 'pretrian' not found")(lambda w: cli_error(T.train_cli, ['--params', w/'params.yaml', '--section', 'pretrian']))
case('cli_pretrain_finished_run', UsageError, 'holds a finished run', 'overwrite=true')(
    lambda w: cli_error(T.train_cli, [*[f'{k}={v}' for k, v in TINY.items()], f'out={RUN(w)}', 'resume=never']))
case('cli_eval_params_missing', UsageError, 'params file', 'missing.yaml')(lambda w: cli_error(OF.eval_cli, [RUN(w), '--params', w/'missing.yaml']))
def _write(name, text): return lambda w: (w/name).write_text(text)
case('cli_eval_unknown_probe_key', UsageError, "unknown keys ['knn']", setup=_write('badprobe.yaml', 'probe: {knn: 5}\n'))(
    lambda w: cli_error(OF.eval_cli, [RUN(w), '--params', w/'badprobe.yaml']))
case('cli_eval_group_unknown', UsageError, "no runs of group 'tab9'", 'its groups are')(lambda w: cli_error(OF.eval_cli, ['--group', 'tab9', '--params', w/'params.yaml']))
case('cli_eval_runs_and_group', UsageError, 'not both')(lambda w: cli_error(OF.eval_cli, [RUN(w), '--group', 'tab1', '--params', w/'probe.yaml']))
case('cli_eval_run_missing', UsageError, 'run folder', 'does not exist')(lambda w: cli_error(OF.eval_cli, [w/'runs'/'g'/'nosuch', '--params', w/'probe.yaml']))
case('cli_eval_probe_empty', UsageError, "section 'probe' must hold the probe recipe", 'empty', setup=_write('emptyprobe.yaml', 'probe:\n'))(
    lambda w: cli_error(OF.eval_cli, [RUN(w), '--params', w/'emptyprobe.yaml']))      # it ran the defaults and overwrote the evaluation
case('cli_eval_probe_not_mapping', UsageError, "section 'probe' must hold the probe recipe", '5', setup=_write('intprobe.yaml', 'probe: 5\n'))(
    lambda w: cli_error(OF.eval_cli, [RUN(w), '--params', w/'intprobe.yaml']))        # it was "TypeError: 'int' object is not iterable"
case('cli_eval_probe_partial', UsageError, "missing keys ['knn_k', 'knn_t', 'max_iter', 'tol']", setup=_write('partprobe.yaml', 'probe: {l2: 0.01}\n'))(
    lambda w: cli_error(OF.eval_cli, [RUN(w), '--params', w/'partprobe.yaml']))
case('cli_eval_probe_bad_value', UsageError, '`max_iter` must be a positive integer', "'many'",
     setup=_write('valprobe.yaml', 'probe: {l2: 0.001, max_iter: many, tol: 3.0e-4, knn_k: 5, knn_t: 0.07}\n'))(
    lambda w: cli_error(OF.eval_cli, [RUN(w), '--params', w/'valprobe.yaml']))
def _refs_params(refs): return _write('refparams.yaml', (ROOT/'params.yaml').read_text().replace('  seeds: [0, 1, 2]', f'  seeds: {refs}', 1))   # references.seeds (the first)
case('cli_references_seeds_empty', UsageError, "`seeds` must be a non-empty list", '[]', setup=_refs_params('[]'))(
    lambda w: cli_error(OF.references_cli, ['--params', w/'refparams.yaml', '--out', w/'refs']))   # it wrote the raw-pixel row only
case('cli_references_seeds_not_ints', UsageError, "`seeds` must be a non-empty list", "'abc'", setup=_refs_params('abc'))(
    lambda w: cli_error(OF.references_cli, ['--params', w/'refparams.yaml', '--out', w/'refs']))
case('cli_references_out_is_file', UsageError, '--out', 'is a file', 'references.csv')(               # it failed after 35 min of work
    lambda w: cli_error(OF.references_cli, ['--params', w/'params.yaml', '--out', w/'refs'/'references.csv']))
def _knobs(text): return lambda w: ((w/'params').mkdir(exist_ok=True), (w/'params'/'artifacts.yaml').write_text(text))   # the artifacts' knobs beside params.yaml
case('cli_paper_params_missing', UsageError, 'missing.yaml', 'does not exist')(lambda w: cli_error(OR.paper_cli, ['fig1', '--params', w/'missing.yaml']))
case('cli_paper_section_misspelt', UsageError, "section 'fig_1' is no artifact of dag.yaml", "did you mean 'fig1'", setup=_knobs('fig_1: {mu: 0.0}\n'))(
    lambda w: cli_error(OR.paper_cli, ['fig1', '--params', w/'params.yaml']))
case('cli_paper_unknown_key', UsageError, "'n_sample' is not a parameter", "did you mean 'n_samples'", setup=_knobs('fig1: {n_sample: 100}\n'))(
    lambda w: cli_error(OR.paper_cli, ['fig1', '--params', w/'params.yaml']))
case('cli_paper_wrong_type', UsageError, "'n_samples' must be", "'abc'", setup=_knobs('fig1: {n_samples: abc}\n'))(
    lambda w: cli_error(OR.paper_cli, ['fig1', '--params', w/'params.yaml']))
def _threads_params(v): return _write('thrparams.yaml', (ROOT/'params.yaml').read_text().replace('  threads: 1            # torch threads of the features', f'  threads: {v}            # torch threads of the features', 1))
case('cli_paper_threads_not_int', UsageError, '`probe.threads` must be an int ≥ 0', "'abc'", setup=_threads_params('abc'))(   # the kernel's OMP_NUM_THREADS
    lambda w: cli_error(OR.paper_cli, ['fig1', '--params', w/'thrparams.yaml']))
case('cli_references_params_missing', UsageError, 'missing.yaml')(lambda w: cli_error(OF.references_cli, ['--params', w/'missing.yaml', '--out', w/'refs2']))
case('cli_profile_unknown', UsageError, 'nosuchprofile')(lambda w: cli_error(OR.profile_cli, ['nosuchprofile', '--params', w/'params.yaml']))
def _profile(text): return lambda w: ((w/'params').mkdir(exist_ok=True), (w/'params'/'x.yaml').write_text(text))
for _cid, _text, _frags in (('replaces_section', 'pretrain: 5\n', ("would replace the section pretrain with 5",)),
                            ('empties_section', 'probe: null\n', ("would replace the section probe with None",)),
                            ('wrong_kind', 'encoder_a: {epochs: abc}\n', ("'encoder_a.epochs' must be int", "'abc'")),
                            ('section_for_scalar', 'seed: {a: 1}\n', ("'seed' must be int",)),
                            ('broken_yaml', 'encoder_a: {epochs: [1\n', ('x.yaml is not valid YAML', 'line 2'))):
    case(f'cli_profile_{_cid}', UsageError, *_frags, setup=_profile(_text))(lambda w: cli_error(OR.profile_cli, ['x', '--params', w/'params.yaml']))
case('cli_profile_params_broken', UsageError, 'params file', 'broken.yaml is not valid YAML',
     setup=lambda w: (_profile('seed: 1\n')(w), _write('broken.yaml', 'a: [\n')(w)))(
    lambda w: cli_error(OR.profile_cli, ['x', '--params', w/'broken.yaml']))
case('cli_fetch_unknown', UsageError, "'fmnist'")(lambda w: cli_error(FE.fetch_cli, ['fmnist', '--root', w/'data']))
# ---- runs, evaluations, references (rlpjepa.runs, rlpjepa.offline) ---------------------------------------------
case('run_missing', FileNotFoundError, 'norun', 'does not exist')(lambda w: RU.run_config(w/'runs'/'g'/'norun'))
case('run_group_missing', FileNotFoundError, 'run group')(lambda w: RU.run_table('nosuch', runs_dir=w/'runs'))
case('run_table_path_missing', FileNotFoundError, "no run or run group 'results/runs/tab9'", 'tried', '/runs/results/runs/tab9 and results/runs/tab9')(
    lambda w: RU.run_table('results/runs/tab9', runs_dir=w/'runs'))
case('run_checkpoint_missing', FileNotFoundError, 'epoch_0009.pt', "it has ['last.pt'")(lambda w: RU.load_run(RUN(w), checkpoint='epoch_0009.pt'))
case('eval_group_named_evals', ValueError, "cannot be named 'evals'")(lambda w: RU.eval_file(w/'runs'/'evals'/'x'))
case('eval_unknown_recipe_key', ValueError, "unknown probe recipe keys ['l3']")(lambda w: OF.evaluate_run(RUN(w), l3=1))
case('target_l0_sigma', ValueError, '`sigma`', "'foo'")(lambda w: RU.target_l0(1, 0, sigma='foo'))
case('references_missing', FileNotFoundError, 'references.csv', 'dvc repro references')(lambda w: OF.read_references(w/'norefs'))
case('group_runs_unknown', KeyError, "no runs of group 'tab9'")(lambda w: OF.group_runs(w/'params.yaml', 'tab9'))
# the device pool: RLPJEPA_DEVICES not integers (was a bare int() traceback), a slot named twice (waited for ever)
def _with_devices(v, f):
    old = os.environ.get('RLPJEPA_DEVICES'); os.environ['RLPJEPA_DEVICES'] = v
    try: return f()
    finally:
        if old is None: os.environ.pop('RLPJEPA_DEVICES')
        else: os.environ['RLPJEPA_DEVICES'] = old
case('devices_env_not_integers', ValueError, "RLPJEPA_DEVICES='abc'", 'integers ≥ 0')(lambda w: _with_devices('abc', lambda: DI.claim_devices(1, lock_dir=w/'locks')))
case('devices_pool_slot_twice', ValueError, 'names slot(s) [0] more than once', 'RLPJEPA_DEVICES')(
    lambda w: _with_devices('0,0', lambda: DI.claim_devices(2, lock_dir=w/'locks')))
# launcher: slurm (rlpjepa.launch): a misspelt launcher or SLURM option, a value of the wrong kind, no SLURM on the machine
case('launcher_unknown', ValueError, "config key 'launcher'", "did you mean 'slurm'")(lambda w: CF.Config(launcher='slrum'))
case('slurm_option_unknown', ValueError, "unknown key 'gpu_per_node' in config key 'slurm'", "did you mean 'gpus_per_node'")(
    lambda w: CF.load_config(None, None, ['launcher=slurm', 'slurm={gpu_per_node: 4}']))
case('slurm_option_kind', ValueError, "config key 'slurm' key 'nodes' must be int >= 1", "'two'")(lambda w: CF.Config(slurm={'nodes': 'two'}))
def _no_sbatch(w):
    old = os.environ['PATH']; os.environ['PATH'] = str(w/'nobin')
    try: return LA.submit(CF.Config(out=str(w/'runs'/'slurm'), launcher='slurm', partial_dir=str(w/'partial_slurm')), [])
    finally: os.environ['PATH'] = old
case('slurm_no_sbatch', LA.JobFailed, "launcher 'slurm' needs SLURM's sbatch on PATH", 'launcher: local')(_no_sbatch)
# two runs writing one `out` at once (they mixed one's config.yaml with the other's weights): the second fails at once
def _hold_lock(w):
    import rlpjepa.checkpoint as CKP
    global _HELD_LOCK; _HELD_LOCK = CKP.lock_out(w/'runs'/'busy', w/'runs'/'busy')
def _second_writer(w):
    try: T.pretrain(dict(TINY, out=str(w/'runs'/'busy'), partial_dir=None))
    finally: _HELD_LOCK.close()
case('out_written_by_another_run', RuntimeError, 'is writing', 'runs/busy', 'two runs cannot share an `out`', setup=_hold_lock)(_second_writer)
# dag.yaml: a run named twice, an artifact reading a group that does not exist, a run without an encoder
def _dag(text): return _write('baddag.yaml', text)
case('dag_duplicate_run', ValueError, 'baddag.yaml is not valid YAML', "duplicate key(s) ['tab2/x']", setup=_dag(
    'runs:\n  tab2/x: {encoder: encoder_a, args: "p=1"}\n  tab2/x: {encoder: encoder_a, args: "p=2"}\n'))(lambda w: DG.load_dag(w/'baddag.yaml'))
case('dag_reads_unknown_group', ValueError, "artifact 'fig3a' reads 'tab3'", "did you mean 'tab2'", setup=_dag(
    'runs:\n  tab2/x: {encoder: encoder_a}\nartifacts:\n  fig3a: {reads: [tab3]}\n'))(lambda w: DG.load_dag(w/'baddag.yaml'))
case('dag_run_without_encoder', ValueError, "run 'tab2/x' must be {encoder", setup=_dag('runs:\n  tab2/x: {args: "p=1"}\n'))(
    lambda w: DG.load_dag(w/'baddag.yaml'))

def _unfinished(w):
    d = w/'runs'/'u'/'a'; shutil.rmtree(d.parent, ignore_errors=True); shutil.copytree(RUN(w), d); (d/'metrics.json').unlink()
case('run_unfinished', FileNotFoundError, 'unfinished', 'no metrics.json', setup=_unfinished)(lambda w: RU.run_table('u', runs_dir=w/'runs'))

def _half_written(w):
    d = w/'runs'/'h'/'a'; shutil.rmtree(d.parent, ignore_errors=True); shutil.copytree(RUN(w), d); (d/'metrics.json').write_text('{"step": 8, "enc')
case('metrics_half_written', ValueError, 'metrics.json', 'not valid JSON', setup=_half_written)(lambda w: RU.run_table('h', runs_dir=w/'runs', offline=False))

def _mixed(w):
    d = w/'runs'/'m'/'a'; shutil.rmtree(d.parent, ignore_errors=True); shutil.copytree(RUN(w), d)
    (d/'config.yaml').write_text((d/'config.yaml').read_text().replace('seed: 0', 'seed: 5'))
case('run_mixes_two_runs', ValueError, 'mixes two runs', setup=_mixed)(lambda w: RU.run_config(w/'runs'/'m'/'a'))

def _stale(w):
    d = w/'runs'/'s'/'a'; shutil.rmtree(d.parent, ignore_errors=True); shutil.copytree(RUN(w), d)
    CO.write_json(dict(json.loads(RU.eval_file(RUN(w)).read_text()), checkpoint_sha='0' * 16), RU.eval_file(d))
case('evaluation_stale', ValueError, 'stale', 'rlpjepa-eval', setup=_stale)(lambda w: RU.read_eval(w/'runs'/'s'/'a'))
case('evaluation_missing', FileNotFoundError, 'no offline evaluation', setup=_unfinished)(lambda w: RU.read_eval(RUN(w).with_name('zz')))


@pytest.mark.parametrize('fn, exc, fragments, setup', CASES)
def test_bad_input(work, fn, exc, fragments, setup):
    if setup is not None: setup(work)
    before = hashes(work)
    with pytest.raises(exc) as info: fn(work)
    msg = str(info.value)
    for frag in fragments: assert frag in msg, f"message {msg!r} does not name {frag!r}"
    assert hashes(work) == before, "a rejected input changed files that were written before"

def test_suite_size():
    assert len(CASES) >= 60, len(CASES)
