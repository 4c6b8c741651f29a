"""Decoding steps: captioning code written as a generator of decode requests, run by a driver.

A *steps* generator yields `(per_call, [clip features])`, is sent the `[Decoded]` of those clips,
and finally returns its result. `drive` runs one with a `decode_fn([features]) -> [Decoded]`,
one call per request. `drive_many` runs several (one per take of a batch of files) so that their
requests share decoder calls of up to `per_call` clips: a few short files' windows fill one call
where each file alone made small ones (docs/performance.md, "Folders in parallel and on
clusters"). Pooled calls give the same words and times as a take decoded alone; scores can
differ in the last float bits (calls of other shapes). Used by models/dense.py
(`timeline_steps`) and models/captioning.py (`_long_steps`, `_caption_batch`).
"""
from __future__ import annotations


def drive(steps, decode_fn):
    """Run decoding steps (a generator yielding (per_call, [features]) and sent [Decoded] back)
    with `decode_fn([features]) -> [Decoded]`, one call per request; -> what the generator returns."""
    try:
        per_call, feats = next(steps)
        while True:
            per_call, feats = steps.send(decode_fn(feats) if feats else [])
    except StopIteration as stop:
        return stop.value


def drive_many(steps: dict, decode_fn) -> dict:
    """Run the decoding steps of several takes together: each round, the requests of every take
    (one each) that allow the same `per_call` share decoder calls of up to `per_call` clips
    (`decode_fn([(key, features)]) -> [Decoded]`, the key telling whose clip it is). -> {key:
    what its generator returned, or the exception it raised (the others go on)}."""
    out, pending = {}, {}

    def advance(key, sent=None, first=False):
        try:
            per_call, feats = next(steps[key]) if first else steps[key].send(sent)
            pending[key] = (max(1, int(per_call or 1)), feats)
        except StopIteration as stop:
            out[key] = stop.value
        except Exception as e:                            # noqa: BLE001 - one take's failure is its own
            out[key] = e
    for key in steps:
        advance(key, first=True)
    while pending:
        limit = min(per_call for per_call, _ in pending.values())
        keys = [k for k, (per_call, _) in pending.items() if per_call == limit]
        flat = [(k, f) for k in keys for f in pending[k][1]]
        decs: list = []
        for a in range(0, len(flat), limit):
            decs += _decode_part(flat[a:a + limit], decode_fn, out)
        at = 0
        for k in keys:
            n = len(pending.pop(k)[1])
            if k not in out:
                advance(k, decs[at:at + n])
            else:
                steps[k].close()
            at += n
    return out


def _decode_part(part: list, decode_fn, failed: dict) -> list:
    """One pooled call of [(key, features)]; when it fails, each take's clips are decoded again
    alone, so only a take whose own clips fail is marked failed (`failed[key] = exception`, None
    results for it). Takes already failed are skipped."""
    def call(items):
        res = decode_fn(items)
        if len(res) != len(items):
            raise RuntimeError(f"the decoder returned {len(res)} captions for {len(items)} clips")
        return res
    live = [it for it in part if it[0] not in failed]
    keys = list(dict.fromkeys(k for k, _ in live))
    got: dict = {}
    try:
        got = dict(zip(map(id, live), call(live))) if live else {}
    except Exception as e:                                # noqa: BLE001 - retried take by take below
        if len(keys) == 1:
            failed[keys[0]] = e
        else:
            for k in keys:
                mine = [it for it in live if it[0] == k]
                try:
                    got.update(zip(map(id, mine), call(mine)))
                except Exception as e2:                   # noqa: BLE001 - this take fails alone
                    failed[k] = e2
    return [got.get(id(it)) for it in part]
