#!/usr/bin/env python3
"""Captures real Firefox offers and ICE candidates for fuzz-sdp's seed corpus.

What it does: serves a small page from a python http.server on 127.0.0.1,
opens it in a headless Firefox with a throwaway profile, and the page
  1. makes an RTCPeerConnection with an audio and a video transceiver
     (addTransceiver: no camera or microphone needed), as the web client
     (signaling/web/app.js) does when it has no devices, then an offer;
  2. does the same with a data channel as well (createDataChannel before
     createOffer, as the web client's offerer does);
and, for each, waits until ICE gathering completes (at most 3 s) and POSTs
pc.localDescription.sdp and every gathered candidate back. It writes, in
the format tests/fuzz/fuzz-sdp.c reads (an SDP with CRLF line ends; or one
candidate line per line, LF):

  tests/fuzz/corpus-sdp/firefox-offer.sdp              audio + video
  tests/fuzz/corpus-sdp/firefox-offer-datachannel.sdp  audio + video + data
  tests/fuzz/corpus-sdp/firefox-candidates.txt         the candidates

Firefox hides host addresses behind mDNS names (<uuid>.local) unless the
page may use the camera; the page is loaded twice, once with Firefox's
defaults and once with media.peerconnection.ice.obfuscate_host_addresses
off, so the candidate file has both kinds. The addresses are this machine's;
a host name that is not an mDNS UUID name would be replaced by
host.example.invalid (Firefox puts none in an offer, as of ESR 153).

How to run it (needs Firefox ESR: `apt-get install firefox-esr` on
Debian 12; standard library only):

  python3 tests/fuzz/make-firefox-corpus.py [--firefox firefox-esr] [--out DIR]

then look at the diff and commit what changed. CI does not run it, and
does not need Firefox: the corpus files are committed.

SPDX-License-Identifier: LGPL-2.1-or-later
"""
import argparse
import http.server
import json
import os
import re
import shutil
import socketserver
import subprocess
import sys
import tempfile
import threading

PAGE = r"""<!doctype html>
<meta charset="utf-8">
<title>firefox corpus</title>
<script>
async function capture(name, datachannel) {
  const pc = new RTCPeerConnection();
  const candidates = [];
  const gathered = new Promise((resolve) => {
    pc.onicecandidate = (ev) => {
      if (!ev.candidate) resolve();
      else if (ev.candidate.candidate) candidates.push(ev.candidate.candidate);
    };
    pc.onicegatheringstatechange = () => {
      if (pc.iceGatheringState === 'complete') resolve();
    };
    setTimeout(resolve, 3000);
  });
  pc.addTransceiver('audio');
  pc.addTransceiver('video');
  if (datachannel) pc.createDataChannel('chat');
  await pc.setLocalDescription(await pc.createOffer());
  await gathered;
  const result = { name, sdp: pc.localDescription.sdp, candidates,
                   userAgent: navigator.userAgent };
  pc.close();
  return result;
}

async function main() {
  const results = [];
  try {
    results.push(await capture('offer', false));
    results.push(await capture('offer-datachannel', true));
  } catch (e) {
    results.push({ error: String(e) });
  }
  await fetch('/result', { method: 'POST', body: JSON.stringify(results) });
  document.body.textContent = 'done';
}
main();
</script>
<body>capturing…</body>
"""

PREFS = {
    'media.navigator.permission.disabled': True,
    'media.navigator.streams.fake': True,
    'browser.shell.checkDefaultBrowser': False,
    'browser.startup.homepage_override.mstone': 'ignore',
    'datareporting.policy.dataSubmissionEnabled': False,
    'toolkit.telemetry.reportingpolicy.firstRun': False,
    'app.update.disabledForTesting': True,
    'network.captive-portal-service.enabled': False,
    'network.connectivity-service.enabled': False,
    'browser.safebrowsing.update.enabled': False,
}

MDNS_NAME = re.compile(r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.local$')
IP = re.compile(r'^[0-9.]+$|:')


def run_firefox(firefox, extra_prefs, timeout):
    """Loads the page once in a fresh headless Firefox; returns its results."""
    results = []
    done = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = PAGE.encode()
            self.send_response(200 if self.path == '/' else 404)
            self.send_header('Content-Type', 'text/html; charset=utf-8')
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            length = int(self.headers.get('Content-Length', 0))
            results.extend(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()
            done.set()

        def log_message(self, *args):
            pass

    server = socketserver.TCPServer(('127.0.0.1', 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    profile = tempfile.mkdtemp(prefix='firefox-corpus-')
    try:
        with open(os.path.join(profile, 'user.js'), 'w') as f:
            for key, value in {**PREFS, **extra_prefs}.items():
                f.write('user_pref(%s, %s);\n' % (json.dumps(key), json.dumps(value)))
        url = 'http://127.0.0.1:%d/' % server.server_address[1]
        proc = subprocess.Popen([firefox, '--headless', '--no-remote', '--profile', profile, url],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            if not done.wait(timeout):
                sys.exit('%s did not post its results within %d s' % (firefox, timeout))
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    finally:
        server.shutdown()
        server.server_close()
        shutil.rmtree(profile, ignore_errors=True)
    for r in results:
        if 'error' in r:
            sys.exit('the page failed: %s' % r['error'])
    return {r['name']: r for r in results}


def scrub_candidate(line):
    """A candidate line with any host name that is not an mDNS UUID name replaced."""
    tokens = line.split(' ')
    if len(tokens) > 4 and not IP.search(tokens[4]) and not MDNS_NAME.match(tokens[4]):
        tokens[4] = 'host.example.invalid'
    return ' '.join(tokens)


def scrub_sdp(sdp):
    lines = []
    for line in sdp.replace('\r\n', '\n').rstrip('\n').split('\n'):
        if line.startswith('a=candidate:'):
            line = 'a=' + scrub_candidate(line[2:])
        lines.append(line)
    return ''.join(line + '\r\n' for line in lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--firefox', default='firefox-esr')
    parser.add_argument('--out', default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                      'corpus-sdp'))
    parser.add_argument('--timeout', type=int, default=60)
    args = parser.parse_args()

    default = run_firefox(args.firefox, {}, args.timeout)
    plain = run_firefox(args.firefox,
                        {'media.peerconnection.ice.obfuscate_host_addresses': False},
                        args.timeout)
    print(default['offer']['userAgent'])

    for name in ('offer', 'offer-datachannel'):
        path = os.path.join(args.out, 'firefox-%s.sdp' % name)
        with open(path, 'w', newline='') as f:
            f.write(scrub_sdp(default[name]['sdp']))
        print('wrote', path)
    # Firefox gathers the same kinds for every m-line and both runs: keep
    # one of each (same fields but the port, same kind of address).
    candidates, seen = [], set()
    for run in (default, plain):
        for name in ('offer', 'offer-datachannel'):
            for c in run[name]['candidates']:
                c = scrub_candidate(c)
                tokens = c.split(' ')
                if len(tokens) > 5:
                    kind = ('mdns' if tokens[4].endswith('.local') else
                            'ipv6' if ':' in tokens[4] else 'ipv4')
                    key = ' '.join(tokens[:4] + [kind] + tokens[6:])
                else:
                    key = c
                if key not in seen:
                    seen.add(key)
                    candidates.append(c)
    path = os.path.join(args.out, 'firefox-candidates.txt')
    with open(path, 'w') as f:
        f.write(''.join(c + '\n' for c in candidates))
    print('wrote', path, '(%d candidates)' % len(candidates))


if __name__ == '__main__':
    main()
