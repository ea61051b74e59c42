"""`make lab` serves the tour: start it on 127.0.0.1, run nbs/index.ipynb through the server's own kernel, check what
it prints and draws, and check that a notebook saved through the server is cleaned (nbdev's pre-save hook)."""
import asyncio, json, os, secrets, shutil, signal, socket, subprocess, sys, time, urllib.request, uuid
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
pytestmark = pytest.mark.skipif(not (BIN/'jupyter-lab').exists() or shutil.which('make') is None,
                                reason='needs JupyterLab in this environment (`make setup`) and GNU make')

def _free_port() -> int:
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

@pytest.fixture(scope='module')
def lab():
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ, IN_TEST='1', PATH=f"{BIN}:{os.environ.get('PATH', '')}")
    args = f'--no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port={port} --IdentityProvider.token={token}'
    # `-o .venv/.installed`: use the environment as it is (no reinstall from inside a test)
    proc = subprocess.Popen(['make', '-s', '-o', '.venv/.installed', 'lab', f'LAB_ARGS={args}'], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    base = f'http://127.0.0.1:{port}'
    try:
        for _ in range(240):
            try:
                with urllib.request.urlopen(f'{base}/api/status?token={token}', timeout=2): break
            except OSError:
                if proc.poll() is not None: raise AssertionError(f"make lab exited: {proc.stdout.read().decode()[-2000:]}")
                time.sleep(0.5)
        else: raise AssertionError('JupyterLab did not answer within 120 s')
        yield base, token
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try: proc.wait(20)
        except subprocess.TimeoutExpired: os.killpg(proc.pid, signal.SIGKILL)

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
    assert 'expected ℓ0 = ' in text and 'measured ℓ0 = ' in text and 'encoder_acc1' in text and 'ℓ0 = Φ(μ/σ) = ' in text, text[-2000:]

def test_saving_through_lab_cleans(lab):
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
        assert c['execution_count'] is None and c['outputs'][0].get('execution_count') is None, c
        assert c['metadata'] == {}, c['metadata']
        raw = (ROOT/'nbs'/Path(path).name).read_bytes()          # the oracle: nbdev_clean itself would change nothing
        subprocess.run([str(BIN/'nbdev_clean'), '--fname', str(ROOT/'nbs'/Path(path).name)], cwd=ROOT, check=True, capture_output=True)
        assert (ROOT/'nbs'/Path(path).name).read_bytes() == raw, 'the notebook saved through JupyterLab was not clean'
    finally: (ROOT/'nbs'/Path(path).name).unlink(missing_ok=True)
