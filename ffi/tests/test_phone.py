#!/usr/bin/env python3
"""The phone API through its generated Python bindings, against a real en-server over HTTPS.

Phones A and B meet three days ago (the API is sans-IO: `now` is an argument, so the
meeting is replayed on that day's clock); phone C only ever hears a phone D. A's keys are
uploaded by a health authority with `en-sim authority upload`; B and C then follow the
server's signed, hash-chained batches with nothing but the bindings and urllib. B must be
notified for the day of the meeting and C must not; B's saved state must restore and keep
following the chain; a tampered batch and a replayed index must be refused with their codes.

Standard library only. Run by ffi/tests/run.sh, which builds everything and generates the
bindings:  python3 test_phone.py --bin-dir target/debug   (with en_ffi.py on PYTHONPATH)
"""

import argparse
import json
import os
import re
import select
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import en_ffi

DAY = 86_400
REGION = "VN"
AUTHORITY = "moh.vn"
# How long to wait for the server to publish a batch (it closes one every 2 s).
WAIT_SECONDS = 60


class Failure(Exception):
    """A check of this test failed."""


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def run(cmd):
    """Runs a CLI; returns its stdout, or fails with its stderr."""
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise Failure(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stderr}{p.stdout}")
    return p.stdout


class Server:
    """`en-server serve` on an ephemeral port, and HTTPS GETs that trust its certificate."""

    def __init__(self, exe, data, log_path):
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(
            [exe, "serve", "--dir", data, "--listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        try:
            addr = self._listening(deadline=time.monotonic() + 30)
        except BaseException:
            self.kill()
            self.log.close()
            raise
        self.base = f"https://{addr}"
        self.cafile = os.path.join(data, "tls", "cert.pem")
        self.ctx = ssl.create_default_context(cafile=self.cafile)
        # Nothing else is expected on stdout; drain it so the server can never block on it.
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def _listening(self, deadline):
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.5)
            if ready:
                line = self.proc.stdout.readline()
                m = re.match(r"listening on (\S+)", line)
                if m:
                    return m.group(1)
                if line == "" and self.proc.poll() is not None:
                    break
        raise Failure(f"en-server did not print `listening on ADDR` (exit {self.proc.poll()})")

    def get(self, path, limit=1 << 20):
        """The body of GET path; refuses to read more than `limit` bytes."""
        with urllib.request.urlopen(self.base + path, context=self.ctx, timeout=10) as r:
            body = r.read(limit + 1)
        check(len(body) <= limit, f"GET {path}: more than the {limit} bytes announced")
        return body

    def stop(self):
        """SIGTERM, then the exit code (must be 0: it finishes requests and flushes)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        finally:
            self.log.close()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def now():
    return int(time.time())


def sync(server, phone):
    """One round of what the app does: the index, then every batch it names. Returns the
    batch results and the index bytes."""
    index = server.get("/v1/index")
    phone.handle_index(index, now())
    results = []
    while (seq := phone.next_batch()) is not None:
        body = server.get(f"/v1/batches/{seq}", limit=phone.next_batch_size())
        results.append(phone.handle_batch(body, now()))
    return results, index


def follow_until(server, phone, name, done):
    """Syncs until done(results so far) holds, or fails after WAIT_SECONDS."""
    deadline = time.monotonic() + WAIT_SECONDS
    seen = []
    while True:
        results, _ = sync(server, phone)
        seen += results
        if done(seen):
            return seen
        if time.monotonic() > deadline:
            last = seen[-1].sequence if seen else None
            raise Failure(f"phone {name}: waited {WAIT_SECONDS}s, last batch {last}, "
                          f"{sum(r.hits for r in seen)} hits: the batch did not arrive")
        time.sleep(0.5)


def wait_pending(server, phone, name):
    """Handles fresh indexes until one names a batch to fetch; returns that index's bytes."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        index = server.get("/v1/index")
        phone.handle_index(index, now())
        if phone.next_batch() is not None:
            return index
        if time.monotonic() > deadline:
            raise Failure(f"phone {name}: no new batch within {WAIT_SECONDS}s")
        time.sleep(0.5)


def expect_refused(call, variant, code, what):
    try:
        call()
    except variant as e:
        check(e.code == code, f"{what}: refused with {e.code} ({e.detail}), expected {code}")
        return e
    except en_ffi.PhoneError as e:
        raise Failure(f"{what}: refused as {e!r}, expected {variant.__name__} {code}")
    raise Failure(f"{what}: accepted, expected {code}")


def meet(speaker, listener, start, rssi):
    """`speaker` broadcasts every 10 minutes for 30 minutes from `start`; `listener` hears each
    broadcast (a sighting standing for 5 minutes of contact)."""
    for t in range(start, start + 1801, 600):
        speaker.tick(t)
        listener.tick(t)
        b = speaker.broadcast(t, -10)
        check(len(b.rpi) == 16 and len(b.aem) == 4 and b.interval == t // 600, f"broadcast {b}")
        listener.record_scan(b.rpi, b.aem, t + 5, rssi, 300)
    return 4


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin-dir", required=True, help="where en-server and en-sim are")
    args = ap.parse_args()
    server_exe = os.path.join(args.bin_dir, "en-server")
    sim_exe = os.path.join(args.bin_dir, "en-sim")

    with tempfile.TemporaryDirectory(prefix="en-ffi-test-") as tmp:
        data = os.path.join(tmp, "data")
        out = run([server_exe, "init", "--dir", data])
        m = re.search(r"export public key: ([0-9a-f]{64})", out)
        check(m, f"`en-server init` printed no export public key:\n{out}")
        export = m.group(1)
        cfg_path = os.path.join(data, "config.toml")
        with open(cfg_path) as f:
            cfg = f.read()
        cfg, n1 = re.subn(r"(?m)^batch_period_seconds = \d+$", "batch_period_seconds = 2", cfg)
        cfg, n2 = re.subn(r"(?m)^min_batch_size = \d+$", "min_batch_size = 10", cfg)
        check(n1 == 1 and n2 == 1, "config.toml has no batch_period_seconds/min_batch_size line")
        with open(cfg_path, "w") as f:
            f.write(cfg)

        key = os.path.join(tmp, "moh.key")
        authority_pub = run([sim_exe, "authority", "keygen", "--out", key]).strip()
        run([server_exe, "authority", "add", AUTHORITY, "--public-key", authority_pub,
             "--region", REGION, "--dir", data])

        server = Server(server_exe, data, os.path.join(tmp, "server.log"))
        try:
            summary = scenario(server, export, sim_exe, key, tmp)
            code = server.stop()
            check(code == 0, f"en-server exited {code} after SIGTERM, expected 0")
            summary.append("server: SIGTERM, exit 0")
        except BaseException:
            server.kill()
            with open(os.path.join(tmp, "server.log")) as f:
                sys.stderr.write("--- en-server log (last 30 lines) ---\n")
                sys.stderr.writelines(f.readlines()[-30:])
            raise
    print("\n".join(summary))


def scenario(server, export, sim_exe, key, tmp):
    summary = [f"server: {server.base}, a batch every 2 s; export key {export[:16]}…"]
    trusted = [export]
    a, b, c, d = (en_ffi.Phone(trusted, REGION) for _ in range(4))

    # Three days ago at noon UTC, on the phones' own (replayed) clock.
    met = (now() // DAY - 3) * DAY + 12 * 3600
    scans = meet(a, b, met, rssi=-45)  # strong: about 35 dB attenuation
    meet(d, c, met, rssi=-45)          # C hears only D, who never uploads

    keys_json = a.upload_keys_json(now())
    keys = json.loads(keys_json)
    check(len(keys) == 1 and keys[0]["rolling_start"] == met // DAY * 144,
          f"A should upload one key, of the day it met B: {[k['rolling_start'] for k in keys]}")
    keys_path = os.path.join(tmp, "A.json")
    with os.fdopen(os.open(keys_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
        f.write(keys_json)
    up = run([sim_exe, "authority", "upload", "--server", server.base,
              "--ca", server.cafile,
              "--authority", AUTHORITY, "--key", key, "--keys", keys_path])
    summary.append(f"phone A: {scans} broadcasts on day {met // DAY} (3 days ago); "
                   f"upload: {up.strip().splitlines()[-1] if up.strip() else 'ok'}")

    # B and C follow the chain over HTTPS until the batch with A's key is in.
    config = server.get("/v1/config")
    for p in (b, c):
        p.handle_config(config, now())
    first_index = server.get("/v1/index")
    seen_b = follow_until(server, b, "B", lambda rs: any(r.hits for r in rs))
    hit = next(r for r in seen_b if r.hits)
    check(hit.hits == scans and hit.days == [met // DAY],
          f"B's batch {hit.sequence}: {hit.hits} hits on days {hit.days}, "
          f"expected {scans} on day {met // DAY}")
    check(not any(r.hits for r in seen_b if r is not hit), "hits in another batch")
    check(seen_b[0].on_trust and not any(r.on_trust for r in seen_b[1:]),
          "only B's first batch is trusted on first use")
    exposures = b.exposures()
    notified = b.notify_days()
    check(notified == [met // DAY], f"B should be notified for day {met // DAY}: {notified}")
    check(len(exposures) == 1 and exposures[0].day == met // DAY
          and exposures[0].report_types == ["confirmed"]
          and exposures[0].cause == "confirmed", f"B's exposures: {exposures}")
    summary.append(f"phone B: {len(seen_b)} batches; batch {hit.sequence} ({hit.keys} keys) "
                   f"has A's key: {hit.hits} hits, {hit.windows} windows; notified for day "
                   f"{notified[0]} (score {exposures[0].score_sum:g})")

    seen_c = follow_until(server, c, "C", lambda rs: rs and rs[-1].sequence >= hit.sequence)
    check(sum(r.hits for r in seen_c) == 0 and c.exposures() == [] and c.notify_days() == [],
          f"C never met A but has exposures {c.exposures()}")
    summary.append(f"phone C: batches {seen_c[0].sequence}..{seen_c[-1].sequence}, 0 hits, "
                   "not notified")

    # B's state survives save -> restore, and the restored phone keeps following the chain.
    saved = b.save()
    head = seen_b[-1].sequence
    del b
    b2 = en_ffi.Phone.restore(saved, trusted, REGION)
    check(b2.save() == saved, "restore -> save is not byte for byte")
    check(b2.notify_days() == [met // DAY], "the restored phone forgot its exposure")
    wait_pending(server, b2, "B (restored)")
    check(b2.next_batch() == head + 1,
          f"the restored phone should fetch batch {head + 1}, not {b2.next_batch()}")
    body = server.get(f"/v1/batches/{head + 1}", limit=b2.next_batch_size())
    r = b2.handle_batch(body, now())
    check(r.sequence == head + 1 and not r.on_trust,
          f"the restored phone's batch {r.sequence} should chain to {head} (on_trust {r.on_trust})")
    summary.append(f"restore: {len(saved)} bytes saved; the restored phone chained batch "
                   f"{r.sequence} to {head}")

    # A replayed older index and a tampered batch are refused, and change nothing.
    e = expect_refused(lambda: b2.handle_index(first_index, now()), en_ffi.PhoneError.Follow,
                       "index_rollback", "a replayed older index")
    refused = [f"replayed index -> {e.code}"]
    wait_pending(server, c, "C")
    seq = c.next_batch()
    good = server.get(f"/v1/batches/{seq}", limit=c.next_batch_size())
    bad = bytearray(good)
    bad[len(bad) // 2] ^= 0x01
    e = expect_refused(lambda: c.handle_batch(bytes(bad), now()), en_ffi.PhoneError.Follow,
                       "batch_hash_mismatch", f"batch {seq} with one byte flipped")
    refused.insert(0, f"tampered batch {seq} -> {e.code}")
    check(c.handle_batch(good, now()).sequence == seq, "the genuine batch after a refusal")
    summary.append("refused: " + "; ".join(refused) + " (the genuine batch is then accepted)")
    return summary


if __name__ == "__main__":
    try:
        main()
    except Failure as e:
        print(f"FAIL: {e}", file=sys.stderr)
        sys.exit(1)
    print("OK")
