"""`make lab` serves the tour: start it on 127.0.0.1, run nbs/index.ipynb through the server's own kernel, check what
it prints and draws, and check that a notebook saved through the server is cleaned.

A plain `jupyter lab` from .venv (no flags, started from the repository's root and from nbs/) leaves every notebook
under nbs/ byte for byte as it was when JupyterLab opens, autosaves, runs and saves it: the pre-save hook of
jupyter_server_config.py, which `make setup` links into .venv/etc/jupyter. Checked through the server's REST API for
every notebook, and once with the real Lab front end in headless Chromium (/usr/bin/chromium, skipped without it), on
throwaway copies of nbs/ (each its own git repository), never on the working tree."""
import asyncio, copy, difflib, json, os, platform, re, secrets, shutil, signal, socket, subprocess, sys, tempfile, time
import urllib.parse, urllib.request, uuid
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
pytestmark = pytest.mark.skipif(not (BIN/'jupyter-lab').exists() or shutil.which('make') is None,
                                reason='needs JupyterLab in this environment (`make setup`) and GNU make')

def _free_port() -> int:
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def _server_args(port, token):
    return ['--no-browser', '--ServerApp.ip=127.0.0.1', f'--ServerApp.port={port}', f'--IdentityProvider.token={token}']

@contextmanager
def _serving(cmd, cwd, port, token, what, **env):
    "Run the server command `cmd` in `cwd` until it answers on `port`; yield its base URL; stop its process group."
    env = dict(os.environ, IN_TEST='1', PATH=f"{BIN}:{os.environ.get('PATH', '')}", **env)
    log = tempfile.TemporaryFile()                    # not a pipe: nobody reads it while the server runs
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f'http://127.0.0.1:{port}'
    try:
        for _ in range(240):
            try:
                with urllib.request.urlopen(f'{base}/api/status?token={token}', timeout=2): break
            except OSError:
                if proc.poll() is not None: log.seek(0); raise AssertionError(f"{what} exited: {log.read().decode()[-2000:]}")
                time.sleep(0.5)
        else: raise AssertionError('JupyterLab did not answer within 120 s')
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try: proc.wait(20)
        except subprocess.TimeoutExpired: os.killpg(proc.pid, signal.SIGKILL)
        log.close()

@pytest.fixture(scope='module')
def lab():
    port, token = _free_port(), secrets.token_hex(16)
    # `-o .venv/.installed`: use the environment as it is (no reinstall from inside a test)
    cmd = ['make', '-s', '-o', '.venv/.installed', 'lab', f"LAB_ARGS={' '.join(_server_args(port, token))}"]
    with _serving(cmd, ROOT, port, token, 'make lab') as base: yield base, token

def _api(base, token, path, method='GET', body=None):
    req = urllib.request.Request(f'{base}{path}', method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={'Authorization': f'token {token}', 'Content-Type': 'application/json'})
    with urllib.request.urlopen(req, timeout=60) as r: return json.loads(r.read() or b'null')

async def _run_cells(base, token, kernel_id, cells, timeout=600):
    "Execute `cells` in order on the server's kernel over its websocket; return the outputs of each (an error fails)."
    from tornado.websocket import websocket_connect
    ws = await websocket_connect(f"{base.replace('http', 'ws')}/api/kernels/{kernel_id}/channels?token={token}")
    session, outputs = uuid.uuid4().hex, []
    try:
        for i, src in enumerate(cells):
            mid = uuid.uuid4().hex
            await ws.write_message(json.dumps(dict(
                header=dict(msg_id=mid, msg_type='execute_request', session=session, username='test', version='5.3', date=''),
                parent_header={}, metadata={}, channel='shell',
                content=dict(code=src, silent=False, store_history=True, user_expressions={}, allow_stdin=False, stop_on_error=True))))
            outs, t0 = [], time.time()
            while True:
                raw = await asyncio.wait_for(ws.read_message(), timeout=max(1, timeout - (time.time() - t0)))
                if raw is None: raise AssertionError('the kernel websocket closed')
                m = json.loads(raw)
                if m.get('parent_header', {}).get('msg_id') != mid: continue
                t, c = m['msg_type'], m['content']
                if t == 'error': raise AssertionError(f"cell {i} failed through the server: {c['ename']}: {c['evalue']}")
                if t in ('stream', 'execute_result', 'display_data'): outs.append(c)
                if t == 'status' and c['execution_state'] == 'idle': break
            outputs.append(outs)
    finally: ws.close()
    return outputs

def _tour_path(base, token) -> str:
    "The tour's path for the server: `make lab` opens nbs/index.ipynb, and jupyter serves the folder of the file it opens."
    names = {c['name'] for c in _api(base, token, '/api/contents/')['content']}
    assert 'index.ipynb' in names or 'nbs' in names, names
    return 'index.ipynb' if 'index.ipynb' in names else 'nbs/index.ipynb'

@pytest.mark.skipif(not (ROOT/'data'/'fashion_mnist').is_dir(), reason='the tour trains on Fashion-MNIST in data/ (`make data`)')
def test_lab_serves_and_runs_the_tour(lab):
    base, token = lab
    with urllib.request.urlopen(f'{base}/lab?token={token}', timeout=30) as r:
        assert r.status == 200 and b'JupyterLab' in r.read()
    tour = _tour_path(base, token)
    model = _api(base, token, f'/api/contents/{tour}')
    assert model['type'] == 'notebook'
    cells = [c['source'] for c in model['content']['cells'] if c['cell_type'] == 'code']
    sess = _api(base, token, '/api/sessions', 'POST', dict(path=tour, type='notebook', name='index.ipynb',
                                                          kernel=dict(name='python3')))
    try: outputs = asyncio.run(_run_cells(base, token, sess['kernel']['id'], cells))
    finally: _api(base, token, f"/api/sessions/{sess['id']}", 'DELETE')
    flat = [o for outs in outputs for o in outs]
    text = ''.join(o.get('text', '') + o.get('data', {}).get('text/plain', '') for o in flat)
    figures = [o for o in flat if 'image/png' in o.get('data', {})]
    assert len(figures) >= 2, f"the tour drew {len(figures)} figures through the server"
    assert 'expected ℓ0 = ' in text and 'measured ℓ0 = ' in text and 'training added' in text and 'ℓ0 = Φ_GN_p(μ/σ) = ' in text, text[-2000:]

def test_saving_through_lab_cleans(lab):
    "A notebook under nbs/ saved through `make lab` loses outputs, execution counts and metadata, as committed."
    base, token = lab
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell('1 + 1', execution_count=7, metadata={'scrolled': True, 'foo': 1})
    cell.outputs = [nbformat.v4.new_output('execute_result', {'text/plain': '2'}, execution_count=7)]
    nb.cells = [cell]; nb.metadata['widgets'] = {'x': 1}
    tour = _tour_path(base, token)
    path = str(Path(tour).parent/'_lab_save_check.ipynb')          # beside the tour; `_`: never collected as a library notebook
    try:
        _api(base, token, f'/api/contents/{path}', 'PUT', dict(type='notebook', format='json', content=json.loads(nbformat.writes(nb))))
        saved = json.loads((ROOT/'nbs'/Path(path).name).read_text())
        c = saved['cells'][0]
        assert c['execution_count'] is None and c['outputs'] == [], c
        assert c['metadata'] == {} and saved['metadata'] == {}, (c['metadata'], saved['metadata'])
        raw = (ROOT/'nbs'/Path(path).name).read_bytes()          # the oracle: nbdev_clean itself would change nothing
        subprocess.run([str(BIN/'nbdev_clean'), '--fname', str(ROOT/'nbs'/Path(path).name)], cwd=ROOT, check=True, capture_output=True)
        assert (ROOT/'nbs'/Path(path).name).read_bytes() == raw, 'the notebook saved through JupyterLab was not clean'
    finally:                          # and the checkpoint the server made of the new file (gitignored)
        (ROOT/'nbs'/Path(path).name).unlink(missing_ok=True)
        (ROOT/'nbs'/'.ipynb_checkpoints'/f'{Path(path).stem}-checkpoint.ipynb').unlink(missing_ok=True)
        try: (ROOT/'nbs'/'.ipynb_checkpoints').rmdir()                  # only when nothing else is in it
        except OSError: pass

# --- a plain `jupyter lab` (what a user types) on a copy of nbs/ ------------------------------------------------------

def _git(cwd, *args) -> str:
    return subprocess.run(['git', *args], cwd=cwd, check=True, capture_output=True, text=True).stdout

def _nbs_copy(dst):
    "nbs/ as it is now (tracked and new files, not ignored ones), settings.ini and .gitignore, staged in a new git repo."
    dst.mkdir(parents=True, exist_ok=True)
    for rel in _git(ROOT, 'ls-files', '-z', '--cached', '--others', '--exclude-standard', '--', 'nbs').split('\0'):
        if rel and (ROOT/rel).is_file():
            (dst/rel).parent.mkdir(parents=True, exist_ok=True); shutil.copy2(ROOT/rel, dst/rel)
    for rel in ('settings.ini', '.gitignore'): shutil.copy2(ROOT/rel, dst/rel)
    _git(dst, 'init', '-q'); _git(dst, 'add', '-A')
    return dst

@pytest.fixture(scope='module', params=['.', 'nbs'], ids=['from-root', 'from-nbs'])
def plain_lab(request, tmp_path_factory):
    "`jupyter lab` from .venv, no flags, started in a fresh copy's root or its nbs/: the server reads .venv/etc/jupyter."
    assert (BIN.parent/'etc'/'jupyter'/'jupyter_server_config.py').exists(), 'run `make setup` (it links the config)'
    repo, port, token = _nbs_copy(tmp_path_factory.mktemp('plain_lab')), _free_port(), secrets.token_hex(16)
    cmd = [str(BIN/'jupyter'), 'lab', *_server_args(port, token)] + (['--allow-root'] if os.getuid() == 0 else [])
    with _serving(cmd, repo/request.param, port, token, 'jupyter lab') as base:
        yield base, token, repo, '' if request.param == 'nbs' else 'nbs/'

def _put(base, token, path, nb):
    return _api(base, token, f'/api/contents/{urllib.parse.quote(path)}', 'PUT', dict(type='notebook', format='json', content=nb))

def _as_lab_opens(nb, kernelspec):
    """The model JupyterLab 4 autosaves after opening a notebook: the kernel's kernelspec and language_info in metadata,
    `trusted` in each code cell's (as measured with Lab 4.6 in Chromium)."""
    nb = copy.deepcopy(nb)
    for c in nb['cells']:
        if c['cell_type'] == 'code': c['metadata']['trusted'] = True
    nb['metadata']['kernelspec'] = kernelspec
    nb['metadata']['language_info'] = {'codemirror_mode': {'name': 'ipython', 'version': 3}, 'file_extension': '.py',
                                       'mimetype': 'text/x-python', 'name': 'python', 'nbconvert_exporter': 'python',
                                       'pygments_lexer': 'ipython3', 'version': platform.python_version()}
    return nb

def _as_after_run_all(nb):
    "... and after Run All: execution counts, outputs (text, a figure, a result, a traceback), cell and widget metadata."
    nb = copy.deepcopy(nb)
    for n, c in enumerate((c for c in nb['cells'] if c['cell_type'] == 'code'), 1):
        c['execution_count'] = n
        c['metadata'].update(scrolled=True, execution={'iopub.status.busy': '2026-01-01T00:00:00.000000Z'})
        c['outputs'] = [
            dict(output_type='stream', name='stdout', text='ℓ0 = 0.25\nstep 1\n'),
            dict(output_type='display_data', metadata={},
                 data={'image/png': 'iVBORw0KGgo=\n', 'text/plain': '<Figure size 640x480 with 1 Axes>'}),
            dict(output_type='execute_result', execution_count=n, metadata={}, data={'text/plain': '<object at 0x7f3a2b1c>'}),
            dict(output_type='error', ename='ValueError', evalue='x', traceback=['\x1b[0;31mValueError\x1b[0m: x'])]
    nb['metadata']['widgets'] = {'application/vnd.jupyter.widget-state+json':
                                     {'state': {}, 'version_major': 2, 'version_minor': 0}}
    return nb

def test_plain_lab_leaves_notebooks_as_committed(plain_lab):
    "Every notebook under nbs/ (from nbs/: a few; the hook finds settings.ini from the notebook, not the server's cwd)."
    base, token, repo, prefix = plain_lab
    status = _git(repo, 'status', '--porcelain')
    specs = _api(base, token, '/api/kernelspecs')
    spec = specs['kernelspecs'][specs['default']]['spec']
    kernelspec = dict(display_name=spec['display_name'], language=spec['language'], name=specs['default'])
    files = sorted(f for f in (repo/'nbs').rglob('*.ipynb') if '.ipynb_checkpoints' not in f.parts)
    assert {'index.ipynb', 'paper/fig1.ipynb'} <= {f.relative_to(repo/'nbs').as_posix() for f in files}
    if not prefix: files = [f for f in files if f.name in ('index.ipynb', '00_core.ipynb', 'fig1.ipynb')]
    changed = []
    for f in files:
        path, before = prefix + f.relative_to(repo/'nbs').as_posix(), f.read_bytes()
        opened = _as_lab_opens(_api(base, token, f'/api/contents/{urllib.parse.quote(path)}')['content'], kernelspec)
        for step, nb in (('open + autosave', opened), ('Run All + save', _as_after_run_all(opened))):
            _put(base, token, path, nb)
            if f.read_bytes() != before:
                diff = difflib.unified_diff(before.decode().splitlines(), f.read_text().splitlines(), 'before', 'saved',
                                            lineterm='')
                changed.append(f"{path} after {step}:\n" + '\n'.join(list(diff)[:30])); break
    assert not changed, (f"{len(changed)} of {len(files)} notebooks changed on disk when JupyterLab saved them. Commit "
                         "them as it saves them: no outputs, metadata.kernelspec {display_name, language, name} with "
                         "display_name = name, every source a list of lines (nbdev_clean keeps a one-string source; "
                         "Jupyter splits it); opening and saving one in `make lab` once does all that. The first:\n"
                         + changed[0])
    assert _git(repo, 'status', '--porcelain') == status

def test_plain_lab_keeps_outputs_outside_nbs(plain_lab):
    "Notebooks outside nbs_path (e.g. the executed paper notebooks in results/) are saved as they are, outputs and all."
    base, token, repo, prefix = plain_lab
    if not prefix: pytest.skip('served from nbs/: nothing outside it to save')
    nb = _as_after_run_all(json.loads(nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('1')]))))
    try:
        _put(base, token, '_outside_nbs.ipynb', nb)
        saved = json.loads((repo/'_outside_nbs.ipynb').read_text())
        assert saved['cells'][0]['outputs'] and saved['cells'][0]['execution_count'] == 1, saved['cells'][0]
    finally: (repo/'_outside_nbs.ipynb').unlink(missing_ok=True)

CHROMIUM = Path('/usr/bin/chromium')
CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                 '--disable-background-networking', '--disable-component-update', '--disable-sync']

def test_lab_in_chromium_leaves_index_ipynb_as_committed(tmp_path):
    """The JupyterLab front end in headless Chromium, on a copy served by a plain `jupyter lab`: open nbs/index.ipynb
    (Lab marks it dirty and autosaves, here after 1 s); Run All (IN_TEST: the tour's tiny settings), interrupted once the
    first output shows (a KeyboardInterrupt traceback too; the whole tour runs in test_lab_serves_and_runs_the_tour),
    save; the file's bytes and `git status nbs` in the copy stay as they were."""
    sync_playwright = pytest.importorskip('playwright.sync_api').sync_playwright
    if not CHROMIUM.exists(): pytest.skip(f'needs {CHROMIUM} (Debian package chromium)')
    repo, port, token = _nbs_copy(tmp_path/'repo'), _free_port(), secrets.token_hex(16)
    settings = tmp_path/'lab-settings'/'@jupyterlab'/'docmanager-extension'
    settings.mkdir(parents=True)
    (settings/'plugin.jupyterlab-settings').write_text(json.dumps({'autosaveInterval': 1}))
    tour, status = repo/'nbs'/'index.ipynb', _git(repo, 'status', '--porcelain', '--', 'nbs')
    before = tour.read_bytes()
    def saved_since(mtime, timeout):
        "Wait for the server to write the tour again and finish (the hook keeps the bytes; the mtime still moves)."
        t0 = time.time()
        while True:                 # the server writes in place, beside a backup `.~index.ipynb` it removes when done
            m = tour.stat().st_mtime_ns
            if m != mtime and not (tour.parent/f'.~{tour.name}').exists():
                time.sleep(0.5)
                if tour.stat().st_mtime_ns == m: return
            if time.time() - t0 > timeout: raise AssertionError(f'JupyterLab did not save the tour within {timeout} s')
            time.sleep(0.2)
    cmd = [str(BIN/'jupyter'), 'lab', *_server_args(port, token)] + (['--allow-root'] if os.getuid() == 0 else [])
    with _serving(cmd, repo, port, token, 'jupyter lab', JUPYTERLAB_SETTINGS_DIR=str(tmp_path/'lab-settings'),
                  JUPYTERLAB_WORKSPACES_DIR=str(tmp_path/'lab-workspaces')) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page, mtime = browser.new_page(), tour.stat().st_mtime_ns
            page.goto(f'{base}/lab/tree/nbs/index.ipynb?token={token}', timeout=120_000)
            page.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]:visible').wait_for(timeout=120_000)
            saved_since(mtime, 60)
            assert tour.read_bytes() == before, ('opening the tour in JupyterLab rewrote it (autosave); '
                                                 'test_plain_lab_leaves_notebooks_as_committed says how')
            mtime = tour.stat().st_mtime_ns
            page.click('.lm-MenuBar-itemLabel:text-is("Run")'); page.click('.lm-Menu-itemLabel:text-is("Run All Cells")')
            page.locator('.jp-OutputArea-output').first.wait_for(state='attached', timeout=300_000)
            page.click('.lm-MenuBar-itemLabel:text-is("Kernel")'); page.click('.lm-Menu-itemLabel:text-is("Interrupt Kernel")')
            prompts, t0 = "els => els.map(e => e.textContent.trim())", time.time()
            while True:     # Run All queues every cell (`[*]:`); done: none queued and some ran (an error unqueues the rest)
                shown = page.eval_on_selector_all('.jp-CodeCell .jp-InputPrompt', prompts)
                if '[*]:' not in shown and any(re.fullmatch(r'\[\d+\]:', p) for p in shown): break
                assert time.time() - t0 < 120, f'the interrupted Run All did not stop within 120 s: {shown}'
                time.sleep(0.5)
            outputs = page.locator('.jp-OutputArea-output').count()
            page.keyboard.press('Control+s'); saved_since(mtime, 60)
        finally: browser.close()
    assert outputs > 0
    assert tour.read_bytes() == before, 'Run All + save in JupyterLab rewrote the tour'
    assert _git(repo, 'status', '--porcelain', '--', 'nbs') == status
