"""The explorer page (`rlpjepa.explorer.explorer_html`) in a real browser: Debian's headless Chromium, driven by Playwright.

A small page (2 × 3 × 1 frames, few samples) is built into the test's tmp folder with the library and opened from
file:// in a 1400 × 900 window. Checked: it renders (the screenshot is not blank; the frame is decoded, visible whole,
at least 80 % of the window's width, its smallest text ≥ 11 px on screen); moving a slider by keyboard, or by setting
its value and dispatching 'input', swaps the frame (another `src`, other pixels) and the number line (the p, μ, σ and ℓ0
of the new frame); no request leaves the page (every URL it asks for is file:// or data:). Screenshots are saved under
the tmp folder (and copied to $EXPLORER_SHOT when set, e.g. /tmp/explorer_shot.png, to look at).

Needs /usr/bin/chromium (`apt-get install chromium`; `make test` installs it as root or through sudo) and Playwright for
Python (settings.ini `dev_requirements`). Playwright only drives the system's Chromium: never `playwright install`.
"""
import io, os, shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get('RLPJEPA_CHROMIUM', '/usr/bin/chromium')
ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync']
W, H = 1400, 900
try: from playwright.sync_api import sync_playwright
except ImportError: sync_playwright = None
pytestmark = [
    pytest.mark.skipif(sync_playwright is None, reason='needs Playwright for Python (`pip install playwright`; `make setup` installs it)'),
    pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason=f"needs Debian's Chromium at {CHROMIUM} (`apt-get install chromium`; "
                                                                 "`make test` installs it as root or through sudo)")]

@pytest.fixture(scope='module')
def built(tmp_path_factory):
    "A 2 × 3 × 1 page built with the library: (path, frames by (p, μ, σ))."
    from rlpjepa.plots import set_style
    from rlpjepa.explorer import explorer_frames, explorer_html
    set_style()
    frames = explorer_frames([1, 2], [-1, 0, 1], 1, n=2000, n_show=300)
    path = explorer_html(frames, tmp_path_factory.mktemp('explorer')/'explorer.html')
    return path, {(n['p'], n['mu'], n['sigma']): n for n, _ in frames}

def _pixels(png: bytes):
    from PIL import Image
    import numpy as np
    return np.asarray(Image.open(io.BytesIO(png)).convert('RGB'), dtype=np.int16)

def test_explorer_page_in_chromium(built, tmp_path):
    import numpy as np
    from rlpjepa.plots import DPI
    path, nums = built
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={'width': W, 'height': H})
            requests = []
            page.on('request', lambda r: requests.append(r.url))
            page.goto(path.resolve().as_uri(), wait_until='load')
            img, num = page.locator('#frame'), page.locator('#num')

            def state():
                "What the page shows now: img src, number line, the frame's pixels, its box and decoded size."
                box = img.bounding_box()
                return dict(src=img.get_attribute('src'), num=num.inner_text(), pixels=_pixels(img.screenshot()), box=box,
                            natural=page.eval_on_selector('#frame', 'e => [e.complete, e.naturalWidth, e.naturalHeight]'))

            def shows(s, p, mu, sigma):
                "The number line names (p, μ, σ) and that frame's ℓ0, mean, variance (closed forms, 4 decimals)."
                n = nums[(p, mu, sigma)]
                assert f'p = {p:g}, μ = {mu:g}, σ = {sigma:g}' in s['num'], s['num']
                for k in ('l0', 'mean', 'variance'): assert f"{n[k]:.4f} (MC {n[k + '_mc']:.4f})" in s['num'], (k, s['num'])
                assert f'ℓ0 = ΦGN{p:g}(μ/σ)' in s['num'].replace('\n', ''), s['num']      # <sub> tags flatten in inner_text

            # 1. it renders: not blank, the frame decoded and visible whole, wide, readable
            shot = page.screenshot(path=tmp_path/'explorer_page.png')
            if os.environ.get('EXPLORER_SHOT'): shutil.copy(tmp_path/'explorer_page.png', os.environ['EXPLORER_SHOT'])
            px = _pixels(shot)
            assert px.shape[:2] == (H, W) and px.std() > 20 and len(np.unique(px.reshape(-1, 3), axis=0)) > 50, 'blank screenshot'
            s0 = state()
            complete, nw, nh = s0['natural']
            assert complete and nw > 0 and nh > 0, 'the frame image did not decode'
            assert img.is_visible() and s0['box']['width'] >= 0.8 * W, s0['box']
            assert s0['box']['y'] + s0['box']['height'] <= H, f"the frame does not fit a {W} × {H} window: {s0['box']}"
            assert s0['box']['width'] / nw * DPI / 72 * 8 >= 11, 'the smallest text of a frame (8 pt) is under 11 px on screen'
            assert s0['pixels'].std() > 20
            shows(s0, 2., 0., 1.)                                    # the sliders start in the middle of each range
            assert 'The axes are fixed for every' in page.inner_text('body')

            # 2. keyboard: μ one step right
            page.focus('#mu'); page.keyboard.press('ArrowRight')
            s1 = state()
            assert s1['src'] != s0['src'] and np.abs(s1['pixels'] - s0['pixels']).max() > 50
            assert s1['pixels'].shape == s0['pixels'].shape, 'the frame changed size: the page jumps while sliding'
            shows(s1, 2., 1., 1.)
            # 3. setting a value and dispatching 'input': p to its first value
            page.eval_on_selector('#p', "e => { e.value = 0; e.dispatchEvent(new Event('input')); }")
            s2 = state()
            assert s2['src'] not in (s0['src'], s1['src']) and np.abs(s2['pixels'] - s1['pixels']).max() > 50
            shows(s2, 1., 1., 1.)
            page.screenshot(path=tmp_path/'explorer_page_p1_mu1.png')
            assert np.abs(_pixels((tmp_path/'explorer_page_p1_mu1.png').read_bytes()) - px).max() > 50

            # 4. nothing left the page
            assert requests and all(u.startswith(('file://', 'data:')) for u in requests), [u[:80] for u in requests]
        finally:
            browser.close()
